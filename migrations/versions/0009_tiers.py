"""Three tiers: station chiefs' second-level dispatch, workstations' micro-circulation, outside evaluators.

- roles station_chief (站长), workstation (村居工作站) and evaluator (人大代表/政协委员 and other reviewers);
- cases.assignee: the member of the owning station's team the chief handed the case to (二级派单);
- cases.self_handled / check_pending: closed at the workstation tier (微循环), and sampled for the
  center's check;
- cases.first_unit / first_unit_at: the first unit that received the case (首问责任制), answerable until a
  named unit accepts it (accepted_at);
- a channel `workstation` (村居工作站自查) for what a workstation finds itself;
- people: the staff registry of the station teams (统一编码): a unified staff code, station, department,
  position, certificate number, phone, training records and equipment issued, and the user account of
  the person, if any;
- case_reviews: an evaluator's rating (1-5) and review of a closed case, one per evaluator and case.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

ROLES = [
    ("station_chief", "联勤联动站站长", "Station chief"),
    ("workstation", "村居工作站人员", "Workstation staff"),
    ("evaluator", "社会评议员", "Outside evaluator"),
]
CHANNEL = {"code": "workstation", "name": "村居工作站自查", "name_en": "Workstation self-patrol",
           "reference_label": "workstation record", "active": True}
COLUMNS = [
    sa.Column("assignee", sa.String(60)),
    sa.Column("self_handled", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("check_pending", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("first_unit", sa.String(20)),
    sa.Column("first_unit_at", sa.DateTime(timezone=True)),
]


WEIGHTS_BEFORE = {"filed_count": 0.1, "closure_rate": 0.3, "on_time_disposal_rate": 0.3, "no_rework_rate": 0.3}
EVALUATOR_WEIGHT = 0.1


def upgrade() -> None:
    roles = sa.table("roles", sa.column("code", sa.String), sa.column("name", sa.String),
                     sa.column("name_en", sa.String))
    op.bulk_insert(roles, [{"code": c, "name": n, "name_en": e} for c, n, e in ROLES])
    channels = sa.table("channels", *(sa.column(k) for k in CHANNEL))
    op.bulk_insert(channels, [CHANNEL])
    for column in COLUMNS:
        op.add_column("cases", column)
    op.create_index("ix_cases_assignee", "cases", ["assignee"])
    op.create_table(
        "case_reviews",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("case_id", sa.BigInteger(), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("username", sa.String(60), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("review", sa.Text()),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name="case_review_rating"),
        sa.UniqueConstraint("case_id", "username", name="ux_case_reviews_case_user"),
    )
    op.create_table(
        "people",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("code", sa.String(20), nullable=False, unique=True),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("station_code", sa.String(20), sa.ForeignKey("stations.code"), nullable=False),
        sa.Column("department_code", sa.String(20), sa.ForeignKey("departments.code")),
        sa.Column("position", sa.String(60)),
        sa.Column("certificate_no", sa.String(40)),
        sa.Column("phone", sa.String(40)),
        sa.Column("training", sa.dialects.postgresql.JSONB(), nullable=False, server_default="[]"),
        sa.Column("equipment", sa.dialects.postgresql.JSONB(), nullable=False, server_default="[]"),
        sa.Column("username", sa.String(60), sa.ForeignKey("users.username"), unique=True),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("updated_by", sa.String(80), nullable=False, server_default="system"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("code ~ '^[A-Z0-9][A-Z0-9-]{3,19}$'", name="person_code_format"),
    )
    # the outside evaluators' rating counts in the score (a unit without reviews leaves it to the other parts);
    # weights an administrator has already changed are left as they are
    op.execute(f"UPDATE settings SET value = value || '{{\"evaluator_rating\": {EVALUATOR_WEIGHT}}}'::jsonb "
               f"WHERE key = 'kpi_weights' AND value = '{json.dumps(WEIGHTS_BEFORE)}'::jsonb")


def downgrade() -> None:
    op.execute(f"UPDATE settings SET value = value - 'evaluator_rating' WHERE key = 'kpi_weights' "
               f"AND value = '{json.dumps({**WEIGHTS_BEFORE, 'evaluator_rating': EVALUATOR_WEIGHT})}'::jsonb")
    op.drop_table("people")
    op.drop_table("case_reviews")
    op.drop_index("ix_cases_assignee", "cases")
    for column in reversed(COLUMNS):
        op.drop_column("cases", column.name)
    op.execute("DELETE FROM channels WHERE code = 'workstation'")
    op.execute("DELETE FROM roles WHERE code IN ('station_chief', 'workstation', 'evaluator')")
