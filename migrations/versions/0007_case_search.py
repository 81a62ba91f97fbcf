"""Search of the work queue: trigram (pg_trgm) GIN indexes for ?q= of GET /api/v1/cases.

The search is a substring match (ILIKE '%...%') on the case's address and description and on its reports'
reporter phone, address, description and reference; a trigram GIN index serves such matches (PostgreSQL
rechecks every candidate, so the answer is the same with or without the index).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_cases_address_trgm", "cases", "address"),
    ("ix_cases_description_trgm", "cases", "description"),
    ("ix_reports_phone_trgm", "reports", "reporter_phone"),
    ("ix_reports_address_trgm", "reports", "address_text"),
    ("ix_reports_description_trgm", "reports", "description"),
    ("ix_reports_reference_trgm", "reports", "reference"),
)


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, column in INDEXES:
        op.execute(f"CREATE INDEX {name} ON {table} USING gin ({column} gin_trgm_ops)")


def downgrade() -> None:
    for name, table, _column in INDEXES:
        op.drop_index(name, table)
