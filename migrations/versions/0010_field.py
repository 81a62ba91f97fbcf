"""The field app: staff positions (live positions and tracks), evidence photos of feedback, idempotent field
requests (the phone's outbox replays them), and the reverse-geocoded address of a field report.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import JSONB

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

SRID = 4326


def upgrade() -> None:
    op.create_table(
        "staff_positions",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("geom", Geometry("POINT", srid=SRID, spatial_index=False), nullable=False),
        sa.Column("accuracy_m", sa.REAL),
    )
    op.create_index("ix_staff_positions_user_time", "staff_positions", ["user_id", "recorded_at"])
    op.create_index("ix_staff_positions_recorded", "staff_positions", ["recorded_at"])
    op.create_index("ix_staff_positions_geom", "staff_positions", ["geom"], postgresql_using="gist")

    op.create_table(
        "case_photos",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("case_id", sa.BigInteger, sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("case_version", sa.Integer, nullable=False),  # the version the feedback made
        sa.Column("stage", sa.String(8), nullable=False),  # before | after
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("content_type", sa.String(80), nullable=False),
        sa.Column("size_bytes", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("uploaded_by", sa.String(80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("stage IN ('before', 'after')", name="ck_case_photos_stage"),
    )
    op.create_index("ix_case_photos_case", "case_photos", ["case_id", "id"])

    op.create_table(
        "field_requests",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("endpoint", sa.String(80), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("answer", JSONB, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("user_id", "key", name="uq_field_requests_user_key"),
    )
    op.add_column("reports", sa.Column("geocoded_address", sa.String(200)))


def downgrade() -> None:
    op.drop_column("reports", "geocoded_address")
    op.drop_table("field_requests")
    op.drop_table("case_photos")
    op.drop_table("staff_positions")
