"""Foundation: boundaries, stations, roads, addresses, departments, categories, calendar,
users, roles, tokens and the append-only audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SRID = 4326

ROLES = [
    ("intake", "信息采集员", "Intake clerk"),
    ("shift_leader", "值班长", "Shift leader"),
    ("dispatcher", "派遣员", "Dispatcher"),
    ("handler", "处置部门人员", "Department handler"),
    ("patrol", "网格巡查员", "Grid patrol staff"),
    ("supervisor", "督查员", "Supervisor"),
    ("planner", "规划人员", "Planner"),
    ("admin", "系统管理员", "Administrator"),
    ("leader", "领导", "Leader"),
]


def geometry(kind: str) -> Geometry:
    return Geometry(kind, srid=SRID, spatial_index=False)


def gist(table: str, column: str = "geom") -> None:
    op.create_index(f"ix_{table}_{column}", table, [column], postgresql_using="gist")


def versioned() -> list[sa.Column]:
    return [
        sa.Column("version_low", sa.Integer, sa.ForeignKey("boundary_versions.id"), nullable=False),
        sa.Column("version_high", sa.Integer, sa.ForeignKey("boundary_versions.id")),
    ]


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")

    op.create_table(
        "boundary_versions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("effective_from", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("parent_id", sa.Integer, sa.ForeignKey("boundary_versions.id")),
        sa.Column("layers", JSONB, nullable=False, server_default="[]"),
        sa.CheckConstraint("length(trim(reason)) > 0", name="version_reason_given"),
    )

    op.create_table(
        "admin_areas",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("level", sa.String(12), nullable=False),
        sa.Column("code", sa.String(12), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("name_en", sa.String(120)),
        sa.Column("parent_code", sa.String(12)),
        sa.Column("kind", sa.String(20)),
        sa.Column("area_m2", sa.Float, nullable=False),
        sa.Column("illustrative", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("geom", geometry("MULTIPOLYGON"), nullable=False),
        *versioned(),
        sa.CheckConstraint("level IN ('town', 'community', 'workstation')", name="admin_level"),
    )
    gist("admin_areas")
    op.create_index(
        "uq_admin_areas_current", "admin_areas", ["level", "code"], unique=True,
        postgresql_where=sa.text("version_high IS NULL"),
    )

    op.create_table(
        "grid_cells",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(15), nullable=False),
        sa.Column("workstation_code", sa.String(12), nullable=False),
        sa.Column("community_code", sa.String(12), nullable=False),
        sa.Column("area_m2", sa.Float, nullable=False),
        sa.Column("illustrative", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("geom", geometry("POLYGON"), nullable=False),
        *versioned(),
        sa.CheckConstraint("code ~ '^[0-9]{15}$'", name="grid_code_format"),
    )
    gist("grid_cells")
    op.create_index(
        "uq_grid_cells_current", "grid_cells", ["code"], unique=True,
        postgresql_where=sa.text("version_high IS NULL"),
    )

    op.create_table(
        "stations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(20), nullable=False, unique=True),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("name_en", sa.String(120)),
        sa.Column("tier", sa.String(16), nullable=False),
        sa.Column("parent_code", sa.String(20), sa.ForeignKey("stations.code")),
        sa.Column("community_code", sa.String(12)),
        sa.Column("workstation_code", sa.String(12)),
        sa.Column("illustrative", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("location", geometry("POINT"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("tier IN ('town_center', 'joint_station', 'workstation')", name="station_tier"),
    )
    gist("stations", "location")

    op.create_table(
        "station_coverage",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("version_id", sa.Integer, sa.ForeignKey("boundary_versions.id"), nullable=False),
        sa.Column("station_code", sa.String(20), sa.ForeignKey("stations.code"), nullable=False),
        sa.Column("area_m2", sa.Float, nullable=False),
        sa.Column("illustrative", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("geom", geometry("MULTIPOLYGON"), nullable=False),
        sa.UniqueConstraint("version_id", "station_code", name="uq_coverage_version_station"),
    )
    gist("station_coverage")

    op.create_table(
        "roads",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("name_en", sa.String(120)),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("oneway", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("speed_kph", sa.Float, nullable=False),
        sa.Column("length_m", sa.Float, nullable=False),
        sa.Column("illustrative", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("geom", geometry("LINESTRING"), nullable=False),
    )
    gist("roads")
    op.create_index("ix_roads_name", "roads", ["name"])

    op.create_table(
        "addresses",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("address", sa.String(200), nullable=False),
        sa.Column("road", sa.String(80)),
        sa.Column("number", sa.Integer),
        sa.Column("compound", sa.String(80)),
        sa.Column("building", sa.Integer),
        sa.Column("name", sa.String(120)),
        sa.Column("place_type", sa.String(30)),
        sa.Column("illustrative", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("geom", geometry("POINT"), nullable=False),
    )
    gist("addresses")
    op.create_index("ix_addresses_road_number", "addresses", ["road", "number"])

    op.create_table(
        "departments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(20), nullable=False, unique=True),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("name_en", sa.String(120)),
        sa.Column("kind", sa.String(20), nullable=False),
    )

    op.create_table(
        "categories",
        sa.Column("code", sa.String(5), primary_key=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("major_code", sa.String(2), nullable=False),
        sa.Column("major_name", sa.String(40), nullable=False),
        sa.Column("major_name_en", sa.String(80), nullable=False),
        sa.Column("minor_code", sa.String(3), nullable=False),
        sa.Column("name", sa.String(60), nullable=False),
        sa.Column("name_en", sa.String(120), nullable=False),
        sa.Column("default_urgency", sa.String(10), nullable=False),
        sa.Column("time_limit", sa.Float, nullable=False),
        sa.Column("time_unit", sa.String(14), nullable=False),
        sa.Column("department_code", sa.String(20), sa.ForeignKey("departments.code")),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.CheckConstraint("code ~ '^[0-9]{5}$'", name="category_code_format"),
        sa.CheckConstraint("code = major_code || minor_code", name="category_code_parts"),
        sa.CheckConstraint("kind IN ('component', 'matter')", name="category_kind"),
        sa.CheckConstraint("default_urgency IN ('normal', 'urgent', 'emergency')", name="category_urgency"),
        sa.CheckConstraint("time_unit IN ('working_hours', 'working_days', 'hours')", name="category_unit"),
        sa.CheckConstraint("time_limit > 0", name="category_limit_positive"),
    )

    op.create_table(
        "calendar_days",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("is_working", sa.Boolean, nullable=False),
        sa.Column("name", sa.String(60), nullable=False),
    )

    roles = op.create_table(
        "roles",
        sa.Column("code", sa.String(20), primary_key=True),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("name_en", sa.String(60), nullable=False),
    )
    op.bulk_insert(roles, [{"code": c, "name": n, "name_en": e} for c, n, e in ROLES])

    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(60), nullable=False, unique=True),
        sa.Column("display_name", sa.String(80), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), sa.ForeignKey("roles.code"), nullable=False),
        sa.Column("department_code", sa.String(20), sa.ForeignKey("departments.code")),
        sa.Column("station_code", sa.String(20), sa.ForeignKey("stations.code")),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("is_demo", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("failed_logins", sa.Integer, nullable=False, server_default="0"),
        sa.Column("locked_until", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )

    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("prefix", sa.String(12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.Column("last_used_at", sa.DateTime(timezone=True)),
    )

    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("action", sa.String(60), nullable=False),
        sa.Column("entity", sa.String(40), nullable=False),
        sa.Column("entity_id", sa.String(60)),
        sa.Column("before", JSONB),
        sa.Column("after", JSONB),
    )
    op.create_index("ix_audit_log_entity", "audit_log", ["entity", "entity_id"])

    # Append-only tables: refuse UPDATE and DELETE for every database user.
    op.execute(
        """
        CREATE FUNCTION forbid_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END $$;
        """
    )
    op.execute(
        "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION forbid_change()"
    )
    op.execute(
        "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
        "FOR EACH STATEMENT EXECUTE FUNCTION forbid_change()"
    )
    # A boundary version is never edited in place.
    op.execute(
        "CREATE TRIGGER boundary_versions_immutable BEFORE UPDATE OR DELETE ON boundary_versions "
        "FOR EACH ROW EXECUTE FUNCTION forbid_change()"
    )
    op.execute(
        "CREATE TRIGGER station_coverage_immutable BEFORE UPDATE OR DELETE ON station_coverage "
        "FOR EACH ROW EXECUTE FUNCTION forbid_change()"
    )


def downgrade() -> None:
    for table in (
        "audit_log", "api_tokens", "users", "roles", "calendar_days", "categories", "departments",
        "addresses", "roads", "station_coverage", "stations", "grid_cells", "admin_areas",
        "boundary_versions",
    ):
        op.drop_table(table)
    op.execute("DROP FUNCTION forbid_change()")
