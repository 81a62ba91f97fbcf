"""A spatial index of the open cases only: the map's viewport query reads just those.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

FINAL = "('not_filed', 'closed', 'archived', 'void')"


def upgrade() -> None:
    op.execute(f"CREATE INDEX ix_cases_open_geom ON cases USING gist (geom) WHERE state NOT IN {FINAL}")


def downgrade() -> None:
    op.drop_index("ix_cases_open_geom", "cases")
