"""Workflow: owners, clocks and milestones on cases; dispatch rules; supervision; settings; scheduler runs.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)

def case_columns() -> list[sa.Column]:
    """New columns of `cases` (fresh objects on each call: a Column belongs to one table)."""
    return [
        sa.Column("owner_kind", sa.String(12)),  # department | station
        sa.Column("owner_code", sa.String(20)),
        sa.Column("helpers", JSONB, nullable=False, server_default="[]"),
        sa.Column("dispatch_rule_id", sa.Integer),
        sa.Column("resume_state", sa.String(20)),
        sa.Column("extension_pending", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("extension_request", JSONB),
        sa.Column("suspension_pending", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("escalation_level", sa.Integer, nullable=False, server_default="0"),
        sa.Column("limit_hours", sa.Float),
        sa.Column("limit_unit", sa.String(14)),
        sa.Column("clock_started_at", TS),
        sa.Column("paused_hours", sa.Float, nullable=False, server_default="0"),
        sa.Column("paused_since", TS),
        sa.Column("deadline_at", TS),
        sa.Column("warn_at", TS),
        sa.Column("frozen_share", sa.Float),
        sa.Column("verified_at", TS),
        sa.Column("filed_at", TS),
        sa.Column("dispatched_at", TS),
        sa.Column("first_dispatched_at", TS),
        sa.Column("accepted_at", TS),
        sa.Column("handled_at", TS),
        sa.Column("checked_at", TS),
        sa.Column("closed_at", TS),
        sa.Column("archived_at", TS),
        sa.Column("dispatch_on_time", sa.Boolean),
        sa.Column("handled_on_time", sa.Boolean),
        sa.Column("closed_on_time", sa.Boolean),
        sa.Column("handled_by", sa.String(60)),
        sa.Column("rework_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("return_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("extension_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("satisfaction", sa.Integer),
        sa.Column("satisfaction_source", sa.String(20)),
        sa.Column("duty_fallback", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("duty_fallback_reason", sa.Text),
    ]


RULES = [
    # priority, name, category_prefix, urgency, channel, target, helpers, note
    (10, "突发紧急事项由镇城运分中心牵头", None, "emergency", None, "town_center", [],
     "high impact or urgent with no clear owner: the center leads the rapid handling"),
    (20, "区级派单先派属地联勤联动站", None, None, "district", "place_station", [],
     "orders from the district go first to the community station of the place"),
    (30, "工地扬尘：城管执法主办，绿化市容协办", "08004", None, None, "department:CGZF", ["LHSR"],
     "shared responsibility: a lead department and helpers"),
    (40, "街面秩序先派属地联勤联动站", "09", None, None, "place_station", [],
     "street order is handled by the joint-duty station of the place first"),
    (50, "市容环境先派属地联勤联动站", "06", None, None, "place_station", [],
     "city appearance is handled by the joint-duty station of the place first"),
    (100, "按类别派往责任部门", None, None, None, "category_department", [],
     "by category to the responsible department"),
]

SETTINGS = {
    "urgency_factors": {"normal": 1.0, "urgent": 0.5, "emergency": 0.25},
    "working_periods": [["08:30", "11:30"], ["13:00", "17:30"]],
    "dispatch_limit_hours": 2.0,
    "close_allowance_hours": 24.0,
    "fallback_share": 0.5,
    "near_due_share": 0.8,
    "kpi_weights": {"filed_count": 0.1, "closure_rate": 0.3, "on_time_disposal_rate": 0.3, "no_rework_rate": 0.3},
    "kpi_grades": [["A", 90], ["B", 75], ["C", 60], ["D", 40], ["E", 0]],
}


def upgrade() -> None:
    for column in case_columns():
        op.add_column("cases", column)
    op.create_index("ix_cases_deadline", "cases", ["deadline_at"])
    op.create_index("ix_cases_owner", "cases", ["owner_kind", "owner_code", "state"])
    op.create_index("ix_cases_closed_at", "cases", ["closed_at"])
    op.create_index("ix_cases_first_reported", "cases", ["first_reported_at"])
    op.create_check_constraint("case_satisfaction", "cases", "satisfaction BETWEEN 1 AND 5")
    op.create_check_constraint("case_escalation", "cases", "escalation_level BETWEEN 0 AND 4")

    rules = op.create_table(
        "dispatch_rules",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("category_prefix", sa.String(5)),
        sa.Column("urgency", sa.String(10)),
        sa.Column("channel", sa.String(20)),
        sa.Column("station_code", sa.String(20)),
        sa.Column("target", sa.String(40), nullable=False),
        sa.Column("helpers", JSONB, nullable=False, server_default="[]"),
        sa.Column("note", sa.Text),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("updated_by", sa.String(80), nullable=False, server_default="migration"),
        sa.Column("updated_at", TS, nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint(
            "target IN ('town_center', 'place_station', 'category_department') OR target ~ '^(department|station):.+$'",
            name="dispatch_rule_target",
        ),
    )
    op.bulk_insert(rules, [
        {"priority": p, "name": n, "category_prefix": c, "urgency": u, "channel": ch, "target": t, "helpers": h,
         "note": note}
        for p, n, c, u, ch, t, h, note in RULES
    ])

    settings = op.create_table(
        "settings",
        sa.Column("key", sa.String(40), primary_key=True),
        sa.Column("value", JSONB, nullable=False),
        sa.Column("updated_by", sa.String(80), nullable=False, server_default="migration"),
        sa.Column("updated_at", TS, nullable=False, server_default=sa.func.now()),
    )
    op.bulk_insert(settings, [{"key": k, "value": v} for k, v in SETTINGS.items()])

    op.create_table(
        "supervision_orders",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("case_id", sa.BigInteger, sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("method", sa.String(12), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("state", sa.String(10), nullable=False, server_default="open"),
        sa.Column("automatic", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_by", sa.String(80), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("due_at", TS),
        sa.Column("closed_at", TS),
        sa.CheckConstraint(
            "method IN ('phone', 'written', 'on_site', 'meeting', 'interview')", name="supervision_method"
        ),
        sa.CheckConstraint("state IN ('open', 'answered', 'closed')", name="supervision_state"),
    )
    op.create_index("ix_supervision_case", "supervision_orders", ["case_id"])
    op.create_table(
        "supervision_events",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("order_id", sa.BigInteger, sa.ForeignKey("supervision_orders.id"), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("note", sa.Text),
    )
    op.create_index("ix_supervision_events_order", "supervision_events", ["order_id", "id"])
    op.execute(
        "CREATE TRIGGER supervision_events_append_only BEFORE UPDATE OR DELETE ON supervision_events "
        "FOR EACH ROW EXECUTE FUNCTION forbid_change()"
    )

    op.create_table(
        "scheduler_runs",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("job", sa.String(40), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS),
        sa.Column("host", sa.String(120)),
        sa.Column("result", JSONB),
    )


def downgrade() -> None:
    for table in ("scheduler_runs", "supervision_events", "supervision_orders", "settings", "dispatch_rules"):
        op.drop_table(table)
    op.drop_constraint("case_escalation", "cases")
    op.drop_constraint("case_satisfaction", "cases")
    for name in ("ix_cases_deadline", "ix_cases_owner", "ix_cases_closed_at", "ix_cases_first_reported"):
        op.drop_index(name, "cases")
    for column in reversed(case_columns()):
        op.drop_column("cases", column.name)
