"""Leaders' outputs: the stored monthly bulletins (月度绩效考核通报) and the chronic problems (管理顽症) under
dynamic control, with the history of each.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "bulletins",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("month", sa.Date, nullable=False),  # the first day of the month it reports on
        sa.Column("lang", sa.String(2), nullable=False),
        sa.Column("pdf", sa.LargeBinary, nullable=False),
        sa.Column("figures", JSONB, nullable=False),  # what the PDF says, as data
        sa.Column("generated_at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("generated_by", sa.String(80), nullable=False),
        sa.UniqueConstraint("month", "lang", name="bulletin_month_lang"),
        sa.CheckConstraint("lang IN ('zh', 'en')", name="bulletin_lang"),
        sa.CheckConstraint("extract(day FROM month) = 1", name="bulletin_first_day"),
    )
    op.create_table(
        "chronic_problems",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("grid_code", sa.String(15), nullable=False),
        sa.Column("category_code", sa.String(5), sa.ForeignKey("categories.code"), nullable=False),
        sa.Column("status", sa.String(12), nullable=False, server_default="open"),
        sa.Column("owner", sa.String(120)),
        sa.Column("plan", sa.Text),
        sa.Column("review_on", sa.Date),
        sa.Column("found_at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.UniqueConstraint("grid_code", "category_code", name="chronic_cell_category"),
        sa.CheckConstraint("status IN ('open', 'controlled', 'resolved')", name="chronic_status"),
    )
    op.create_table(
        "chronic_problem_events",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("problem_id", sa.BigInteger, sa.ForeignKey("chronic_problems.id"), nullable=False, index=True),
        sa.Column("at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("data", JSONB, nullable=False, server_default="{}"),
    )


def downgrade() -> None:
    op.drop_table("chronic_problem_events")
    op.drop_table("chronic_problems")
    op.drop_table("bulletins")
