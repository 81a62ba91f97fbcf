"""The live feed: `events`, one row per change of a case that the consoles are told about (GET /api/v1/events).

Each row carries what the stream needs to decide who may see it (the case's station, owner and helpers at the
time) and the payload it sends. A row trigger calls pg_notify('nanhui_events', id) in the inserting
transaction: listeners hear of each row when, and only if, it is committed, in commit order (ids from the
sequence may commit out of order, so nobody reads the table by "id > the last one seen" alone).
Rows are kept EVENTS_KEEP_HOURS (24 h) for clients resuming with Last-Event-ID, then pruned by the scheduler.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("case_id", sa.BigInteger, sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("case_version", sa.Integer, nullable=False),
        sa.Column("station_code", sa.String(20)),
        sa.Column("owner_kind", sa.String(12)),
        sa.Column("owner_code", sa.String(20)),
        sa.Column("helpers", JSONB),
        sa.Column("payload", JSONB, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index("ix_events_created_at", "events", ["created_at"])
    op.create_index("ix_events_case_kind", "events", ["case_id", "kind"])
    op.execute(
        "CREATE FUNCTION events_notify() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN PERFORM pg_notify('nanhui_events', NEW.id::text); RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER events_notify AFTER INSERT ON events FOR EACH ROW EXECUTE FUNCTION events_notify()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER events_notify ON events")
    op.execute("DROP FUNCTION events_notify()")
    op.drop_table("events")
