"""Analysis: early-warning modules, patrol routes, draft boundary versions (proposed territories).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SRID = 4326
TS = sa.DateTime(timezone=True)

# code, name, name_en, category prefixes, rule, params. One module per category group (巡查预警模块化).
MODULES = [
    ("city_appearance", "市容环境预警", "City appearance", ["06"], "surge",
     {"factor": 2.0, "min_count": 3, "baseline_weeks": 8}),
    ("advertising", "违法广告预警", "Illegal advertising", ["07"], "surge",
     {"factor": 2.0, "min_count": 3, "baseline_weeks": 8}),
    ("construction", "施工管理预警", "Construction sites", ["08"], "new_hotspot",
     {"weeks": 8, "min_count": 2}),
    ("street_order", "街面秩序预警", "Street order", ["09"], "surge",
     {"factor": 2.0, "min_count": 3, "baseline_weeks": 8}),
    ("facilities", "部件设施预警", "Facilities (components)", ["01", "02", "03", "04", "05"], "new_hotspot",
     {"weeks": 8, "min_count": 2}),
]


def upgrade() -> None:
    modules = op.create_table(
        "warning_modules",
        sa.Column("code", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(60), nullable=False),
        sa.Column("name_en", sa.String(120), nullable=False),
        sa.Column("category_prefixes", JSONB, nullable=False),
        sa.Column("rule", sa.String(20), nullable=False),
        sa.Column("params", JSONB, nullable=False, server_default="{}"),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("updated_by", sa.String(80), nullable=False, server_default="migration"),
        sa.Column("updated_at", TS, nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("rule IN ('surge', 'new_hotspot')", name="warning_rule"),
    )
    op.bulk_insert(modules, [
        {"code": c, "name": n, "name_en": e, "category_prefixes": p, "rule": r, "params": params}
        for c, n, e, p, r, params in MODULES
    ])

    op.create_table(
        "patrol_routes",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("station_code", sa.String(20), sa.ForeignKey("stations.code"), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("shift_minutes", sa.Integer, nullable=False),
        sa.Column("speed_kph", sa.Float, nullable=False),
        sa.Column("assignee", sa.String(60), sa.ForeignKey("users.username")),
        sa.Column("stops", JSONB, nullable=False, server_default="[]"),
        sa.Column("length_m", sa.Float, nullable=False),
        sa.Column("duration_s", sa.Integer, nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("solver", JSONB, nullable=False, server_default="{}"),
        sa.Column("geom", Geometry("LINESTRING", srid=SRID, spatial_index=False)),
        sa.Column("created_by", sa.String(80), nullable=False),
        sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("station_code", "day", name="patrol_route_station_day"),
        sa.CheckConstraint("shift_minutes > 0", name="patrol_shift_positive"),
    )
    op.create_index("ix_patrol_routes_geom", "patrol_routes", ["geom"], postgresql_using="gist")
    op.create_index("ix_patrol_routes_day", "patrol_routes", ["day"])
    op.create_index("ix_patrol_routes_assignee", "patrol_routes", ["assignee", "day"])

    op.create_table(
        "boundary_drafts",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),  # territories
        sa.Column("status", sa.String(12), nullable=False, server_default="draft"),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("base_version_id", sa.Integer, sa.ForeignKey("boundary_versions.id"), nullable=False),
        sa.Column("proposal", JSONB, nullable=False),
        sa.Column("stats", JSONB, nullable=False, server_default="{}"),
        sa.Column("saved_version_id", sa.Integer, sa.ForeignKey("boundary_versions.id")),
        sa.Column("created_by", sa.String(80), nullable=False),
        sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("updated_by", sa.String(80), nullable=False),
        sa.Column("updated_at", TS, nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("status IN ('draft', 'saved', 'discarded')", name="boundary_draft_status"),
    )
    op.create_index("ix_boundary_drafts_status", "boundary_drafts", ["status", "id"])


def downgrade() -> None:
    for table in ("boundary_drafts", "patrol_routes", "warning_modules"):
        op.drop_table(table)
