"""Emergency command and the 7x24 duty roster (平急一体): duty positions, shift patterns, the roster, swaps and
handover notes; incident types (the four national classes and their subtypes, as data), incidents with their
affected area, linked cases, situation log and reports; the resources registry and dispatches; instructions
(roll-call) and their recipients; an illustrative population per residential compound; the commander and
duty officer roles.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import JSONB

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

SRID = 4326
ROLES = [("commander", "应急指挥长", "Incident commander"), ("duty_officer", "值班员", "Duty officer")]
PATTERNS = [
    ("day_night", "白班/夜班", "Day and night shifts",
     [{"code": "day", "name": "白班", "name_en": "Day", "start": "08:00", "hours": 12},
      {"code": "night", "name": "夜班", "name_en": "Night", "start": "20:00", "hours": 12}]),
    ("h24", "24小时班", "24-hour shift", [{"code": "h24", "name": "全天", "name_en": "24 h", "start": "08:00",
                                          "hours": 24}]),
]
POSITIONS = [  # code, name, name_en, kind, channel, station, pattern, required, sort
    ("LEADER", "带班领导", "Duty leader", "leader", None, None, "h24", 1, 10),
    ("SHIFT", "值班长", "Shift leader", "shift_leader", None, None, "day_night", 1, 20),
    ("INFO-HOTLINE", "平台信息员（热线）", "Information officer (hotline)", "officer", "hotline", None,
     "day_night", 2, 30),
    ("INFO-VIDEO", "平台信息员（视频）", "Information officer (video)", "officer", "video", None, "day_night", 2, 40),
    ("INFO-GRID", "平台信息员（网格）", "Information officer (grid)", "officer", "grid", None, "day_night", 1, 50),
    ("STN-JS-001", "芦潮港社区联勤联动站值班员", "Duty officer, Luchaogang station", "station", None,
     "JS-001", "h24", 1, 60),
    ("STN-JS-002", "申港社区联勤联动站值班员", "Duty officer, Shengang station", "station", None,
     "JS-002", "h24", 1, 70),
    ("STN-JS-003", "临港综合社区联勤联动站值班员", "Duty officer, Lingang station", "station", None,
     "JS-003", "h24", 1, 80),
]
TYPES = [  # code, class, name, name_en
    ("typhoon", "natural", "台风", "Typhoon"), ("flood", "natural", "暴雨内涝", "Rainstorm flooding"),
    ("storm_surge", "natural", "风暴潮", "Storm surge"), ("earthquake", "natural", "地震", "Earthquake"),
    ("road_collapse", "accident", "道路塌陷", "Road collapse"), ("fire", "accident", "火灾", "Fire"),
    ("traffic", "accident", "交通事故", "Traffic accident"), ("hazmat", "accident", "危化品泄漏", "Hazardous leak"),
    ("utility", "accident", "水电气管线事故", "Utility failure"),
    ("epidemic", "health", "传染病疫情", "Epidemic"), ("food_poisoning", "health", "食物中毒", "Food poisoning"),
    ("crowd", "social", "群体性事件", "Mass incident"), ("public_security", "social", "治安事件", "Public security"),
]


def _id() -> sa.Column:
    return sa.Column("id", sa.BigInteger, primary_key=True)


def _at(name: str = "created_at", nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable,
                     server_default=None if nullable else sa.func.now())


def upgrade() -> None:
    op.bulk_insert(sa.table("roles", sa.column("code"), sa.column("name"), sa.column("name_en")),
                   [{"code": c, "name": n, "name_en": e} for c, n, e in ROLES])
    patterns = op.create_table(
        "shift_patterns", sa.Column("code", sa.String(20), primary_key=True), sa.Column("name", sa.String(40)),
        sa.Column("name_en", sa.String(80)), sa.Column("shifts", JSONB, nullable=False))
    op.bulk_insert(patterns, [{"code": c, "name": n, "name_en": e, "shifts": s} for c, n, e, s in PATTERNS])
    positions = op.create_table(
        "duty_positions", sa.Column("code", sa.String(20), primary_key=True),
        sa.Column("name", sa.String(80), nullable=False), sa.Column("name_en", sa.String(120)),
        sa.Column("kind", sa.String(20), nullable=False), sa.Column("channel", sa.String(20)),
        sa.Column("station_code", sa.String(20)),  # no foreign key: positions exist before the stations are loaded
        sa.Column("pattern_code", sa.String(20), sa.ForeignKey("shift_patterns.code"), nullable=False),
        sa.Column("required", sa.Integer, nullable=False, server_default="1"),
        sa.Column("sort", sa.Integer, nullable=False, server_default="0"),
        sa.CheckConstraint("required >= 1", name="duty_required_positive"))
    op.bulk_insert(positions, [dict(zip(("code", "name", "name_en", "kind", "channel", "station_code",
                                         "pattern_code", "required", "sort"), p, strict=True)) for p in POSITIONS])
    op.create_table(
        "duty_assignments", _id(),
        sa.Column("position_code", sa.String(20), sa.ForeignKey("duty_positions.code"), nullable=False),
        sa.Column("username", sa.String(60), sa.ForeignKey("users.username"), nullable=False),
        sa.Column("day", sa.Date, nullable=False), sa.Column("shift_code", sa.String(20), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(80), nullable=False), _at(),
        sa.UniqueConstraint("position_code", "day", "shift_code", "username", name="uq_duty_slot_person"))
    op.create_index("ix_duty_assignments_time", "duty_assignments", ["starts_at", "ends_at"])
    op.create_table(
        "duty_swaps", _id(),
        sa.Column("assignment_id", sa.BigInteger, sa.ForeignKey("duty_assignments.id"), nullable=False),
        sa.Column("from_username", sa.String(60), nullable=False),
        sa.Column("to_username", sa.String(60), sa.ForeignKey("users.username"), nullable=False),
        sa.Column("reason", sa.Text), sa.Column("status", sa.String(12), nullable=False, server_default="requested"),
        sa.Column("requested_by", sa.String(80), nullable=False), _at(),
        sa.Column("decided_by", sa.String(80)), _at("decided_at", True))
    op.create_table(
        "handover_notes", _id(),
        sa.Column("position_code", sa.String(20), sa.ForeignKey("duty_positions.code"), nullable=False),
        sa.Column("from_username", sa.String(60), sa.ForeignKey("users.username"), nullable=False),
        sa.Column("to_username", sa.String(60), sa.ForeignKey("users.username"), nullable=False),
        sa.Column("open_items", sa.Text, nullable=False), sa.Column("watch", sa.Text),
        _at("signed_from_at"), _at("signed_to_at", True))
    op.create_table(
        "incident_types", sa.Column("code", sa.String(30), primary_key=True),
        sa.Column("class_code", sa.String(20), nullable=False), sa.Column("name", sa.String(40), nullable=False),
        sa.Column("name_en", sa.String(80)),
        sa.CheckConstraint("class_code IN ('natural', 'accident', 'health', 'social')", name="incident_class"))
    op.bulk_insert(sa.table("incident_types", sa.column("code"), sa.column("class_code"), sa.column("name"),
                            sa.column("name_en")),
                   [{"code": c, "class_code": k, "name": n, "name_en": e} for c, k, n, e in TYPES])
    op.create_table(
        "incidents", _id(), sa.Column("title", sa.String(200), nullable=False),
        sa.Column("type_code", sa.String(30), sa.ForeignKey("incident_types.code"), nullable=False),
        sa.Column("level", sa.Integer, nullable=False), sa.Column("status", sa.String(12), nullable=False),
        sa.Column("commander", sa.String(60), sa.ForeignKey("users.username"), nullable=False),
        sa.Column("source_kind", sa.String(12), nullable=False), sa.Column("source_ref", sa.String(40)),
        sa.Column("origin", Geometry("GEOMETRY", srid=SRID, spatial_index=False), nullable=False),
        sa.Column("buffer_m", sa.Float),
        sa.Column("area", Geometry("MULTIPOLYGON", srid=SRID, spatial_index=False), nullable=False),
        sa.Column("declared_by", sa.String(80), nullable=False), _at("declared_at"),
        sa.Column("first_report_due_at", sa.DateTime(timezone=True), nullable=False),
        _at("closed_at", True), sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.CheckConstraint("level BETWEEN 1 AND 4", name="incident_level"),
        sa.CheckConstraint("status IN ('declared', 'responding', 'stabilised', 'closed')", name="incident_status"))
    op.create_index("ix_incidents_area", "incidents", ["area"], postgresql_using="gist")
    op.create_index("ix_incidents_origin", "incidents", ["origin"], postgresql_using="gist")
    op.create_table(
        "incident_cases",
        sa.Column("incident_id", sa.BigInteger, sa.ForeignKey("incidents.id"), primary_key=True),
        sa.Column("case_id", sa.BigInteger, sa.ForeignKey("cases.id"), primary_key=True),
        sa.Column("linked_by", sa.String(80), nullable=False), _at("linked_at"), _at("released_at", True))
    op.create_table(
        "incident_log", _id(),
        sa.Column("incident_id", sa.BigInteger, sa.ForeignKey("incidents.id"), nullable=False),
        _at("at"), sa.Column("actor", sa.String(80), nullable=False), sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("text", sa.Text, nullable=False), sa.Column("data", JSONB))
    op.create_index("ix_incident_log_incident", "incident_log", ["incident_id", "id"])
    op.execute("""
        CREATE FUNCTION incident_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'incident_log is append-only'; END $$;
        CREATE TRIGGER incident_log_append_only BEFORE UPDATE OR DELETE ON incident_log
        FOR EACH ROW EXECUTE FUNCTION incident_log_append_only();
    """)
    op.create_table(
        "resources", _id(), sa.Column("code", sa.String(30), nullable=False, unique=True),
        sa.Column("kind", sa.String(20), nullable=False), sa.Column("name", sa.String(120), nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False), sa.Column("unit", sa.String(20), nullable=False),
        sa.Column("station_code", sa.String(20), sa.ForeignKey("stations.code")), sa.Column("depot", sa.String(120)),
        sa.Column("illustrative", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("geom", Geometry("POINT", srid=SRID, spatial_index=False), nullable=False),
        sa.CheckConstraint("quantity >= 0", name="resource_quantity"))
    op.create_index("ix_resources_geom", "resources", ["geom"], postgresql_using="gist")
    op.create_table(
        "resource_dispatches", _id(),
        sa.Column("incident_id", sa.BigInteger, sa.ForeignKey("incidents.id"), nullable=False),
        sa.Column("resource_id", sa.BigInteger, sa.ForeignKey("resources.id"), nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False), sa.Column("note", sa.Text),
        sa.Column("eta_minutes", sa.Float), sa.Column("dispatched_by", sa.String(80), nullable=False),
        _at("dispatched_at"), _at("returned_at", True),
        sa.CheckConstraint("quantity > 0", name="dispatch_quantity"))
    op.create_table(
        "instructions", _id(), sa.Column("incident_id", sa.BigInteger, sa.ForeignKey("incidents.id")),
        sa.Column("text", sa.Text, nullable=False), sa.Column("sent_by", sa.String(80), nullable=False), _at("sent_at"))
    op.create_table(
        "instruction_recipients", _id(),
        sa.Column("instruction_id", sa.BigInteger, sa.ForeignKey("instructions.id"), nullable=False),
        sa.Column("username", sa.String(60), sa.ForeignKey("users.username"), nullable=False),
        sa.Column("deliveries", JSONB, nullable=False, server_default="[]"),
        _at("acknowledged_at", True), sa.Column("chased", sa.Integer, nullable=False, server_default="0"),
        sa.UniqueConstraint("instruction_id", "username", name="uq_instruction_recipient"))
    op.create_index("ix_recipients_user", "instruction_recipients", ["username", "acknowledged_at"])
    op.create_table(
        "situation_reports", _id(),
        sa.Column("incident_id", sa.BigInteger, sa.ForeignKey("incidents.id"), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False), sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("author", sa.String(80), nullable=False), _at("at"), sa.Column("note", sa.Text),
        sa.Column("content", JSONB, nullable=False),
        sa.CheckConstraint("kind IN ('first', 'followup', 'final')", name="report_kind"))
    op.create_table(
        "compound_populations", sa.Column("compound", sa.String(80), primary_key=True),
        sa.Column("population", sa.Integer, nullable=False),
        sa.Column("illustrative", sa.Boolean, nullable=False, server_default=sa.true()))


def downgrade() -> None:
    for table in ("compound_populations", "situation_reports", "instruction_recipients", "instructions",
                  "resource_dispatches", "resources", "incident_log", "incident_cases", "incidents",
                  "incident_types", "handover_notes", "duty_swaps", "duty_assignments", "duty_positions",
                  "shift_patterns"):
        op.drop_table(table)
    op.execute("DROP FUNCTION IF EXISTS incident_log_append_only()")
    op.execute("DELETE FROM roles WHERE code IN ('commander', 'duty_officer')")
