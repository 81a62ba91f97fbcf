"""Intake: channels, cases, reports, attachments and the append-only case history.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SRID = 4326

CHANNELS = [
    ("hotline", "城运热线", "Operations hotline", "call id"),
    ("12345", "12345市民热线", "12345 citizen hotline", "work order number"),
    ("video", "视频智能发现", "Video analytics", "camera id"),
    ("app", "随申拍/移动端", "Mobile app", "app report id"),
    ("patrol", "网格巡查", "Grid patrol", "patrol record id"),
    ("citizen", "市民来访", "Citizen walk-in", "visit record"),
    ("media", "媒体曝光", "Media", "article or post link"),
    ("third_party", "第三方平台", "Third-party platform", "platform reference"),
    ("sensor", "物联感知", "IoT sensor", "sensor id"),
    ("district", "区级派单", "District dispatch", "district order number"),
]


def now() -> sa.Column:
    return sa.func.now()


def upgrade() -> None:
    channels = op.create_table(
        "channels",
        sa.Column("code", sa.String(20), primary_key=True),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("name_en", sa.String(60), nullable=False),
        sa.Column("reference_label", sa.String(60), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    )
    op.bulk_insert(
        channels, [{"code": c, "name": n, "name_en": e, "reference_label": r} for c, n, e, r in CHANNELS]
    )

    op.create_table(
        "cases",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("state", sa.String(20), nullable=False, server_default="reported"),
        sa.Column("category_code", sa.String(5), sa.ForeignKey("categories.code"), nullable=False),
        sa.Column("urgency", sa.String(10), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("address", sa.String(200)),
        sa.Column("geom", Geometry("POINT", srid=SRID, spatial_index=False), nullable=False),
        sa.Column("grid_code", sa.String(15)),
        sa.Column("workstation_code", sa.String(12)),
        sa.Column("community_code", sa.String(12)),
        sa.Column("station_code", sa.String(20), sa.ForeignKey("stations.code"), nullable=False),
        sa.Column("boundary_version_id", sa.Integer, sa.ForeignKey("boundary_versions.id"), nullable=False),
        sa.Column("near_boundary", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("fallback", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("inside_town", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("report_count", sa.Integer, nullable=False, server_default="1"),
        sa.Column("first_reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("split_from_id", sa.BigInteger, sa.ForeignKey("cases.id")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=now()),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.CheckConstraint("urgency IN ('normal', 'urgent', 'emergency')", name="case_urgency"),
        sa.CheckConstraint("report_count >= 0", name="case_report_count"),
    )
    op.create_index("ix_cases_geom", "cases", ["geom"], postgresql_using="gist")
    op.create_index("ix_cases_category_state", "cases", ["category_code", "state", "last_reported_at"])
    op.create_index("ix_cases_station_state", "cases", ["station_code", "state"])
    op.create_index("ix_cases_boundary_version", "cases", ["boundary_version_id"])

    op.create_table(
        "reports",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("case_id", sa.BigInteger, sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("channel", sa.String(20), sa.ForeignKey("channels.code"), nullable=False),
        sa.Column("reference", sa.String(120)),
        sa.Column("reporter_name", sa.String(80)),
        sa.Column("reporter_phone", sa.String(40)),
        sa.Column("category_code", sa.String(5), sa.ForeignKey("categories.code"), nullable=False),
        sa.Column("urgency", sa.String(10), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("address_text", sa.String(200)),
        sa.Column("geom", Geometry("POINT", srid=SRID, spatial_index=False), nullable=False),
        sa.Column("location_source", sa.String(10), nullable=False),
        sa.Column("input_crs", sa.String(10)),
        sa.Column("input_lon", sa.Float),
        sa.Column("input_lat", sa.Float),
        sa.Column("geocode_score", sa.Float),
        sa.Column("geocode_address_id", sa.Integer),
        sa.Column("grid_code", sa.String(15)),
        sa.Column("station_code", sa.String(20), nullable=False),
        sa.Column("boundary_version_id", sa.Integer, sa.ForeignKey("boundary_versions.id"), nullable=False),
        sa.Column("near_boundary", sa.Boolean, nullable=False),
        sa.Column("owners", JSONB, nullable=False),
        sa.Column("merged", sa.Boolean, nullable=False),
        sa.Column("merge_distance_m", sa.Float),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, server_default=now()),
        sa.Column("submitted_by", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("idempotency_key", sa.String(200)),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.CheckConstraint("length(description) <= 4000", name="report_description_length"),
        sa.CheckConstraint("location_source IN ('point', 'address', 'both')", name="report_location_source"),
        sa.UniqueConstraint("submitted_by", "idempotency_key", name="uq_reports_idempotency"),
    )
    op.create_index("ix_reports_geom", "reports", ["geom"], postgresql_using="gist")
    op.create_index("ix_reports_case", "reports", ["case_id"])
    op.create_index("ix_reports_channel_reference", "reports", ["channel", "reference"])

    op.create_table(
        "attachments",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("report_id", sa.BigInteger, sa.ForeignKey("reports.id"), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("url", sa.String(2000)),
        sa.Column("filename", sa.String(200)),
        sa.Column("content_type", sa.String(80)),
        sa.Column("size_bytes", sa.Integer),
        sa.Column("sha256", sa.String(64)),
        sa.Column("data", sa.LargeBinary),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=now()),
        sa.CheckConstraint(
            "(kind = 'url' AND url IS NOT NULL AND data IS NULL) OR (kind = 'upload' AND data IS NOT NULL)",
            name="attachment_kind",
        ),
    )
    op.create_index("ix_attachments_report", "attachments", ["report_id"])

    op.create_table(
        "case_events",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("case_id", sa.BigInteger, sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("case_version", sa.Integer, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=now()),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("role", sa.String(20)),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("from_state", sa.String(20)),
        sa.Column("to_state", sa.String(20)),
        sa.Column("note", sa.Text),
        sa.Column("data", JSONB),
    )
    op.create_index("ix_case_events_case", "case_events", ["case_id", "id"])
    # The history of a case is never rewritten, not even by the application's own role.
    op.execute(
        "CREATE TRIGGER case_events_append_only BEFORE UPDATE OR DELETE ON case_events "
        "FOR EACH ROW EXECUTE FUNCTION forbid_change()"
    )
    op.execute(
        "CREATE TRIGGER case_events_no_truncate BEFORE TRUNCATE ON case_events "
        "FOR EACH STATEMENT EXECUTE FUNCTION forbid_change()"
    )


def downgrade() -> None:
    for table in ("case_events", "attachments", "reports", "cases", "channels"):
        op.drop_table(table)
