"""Connectors: cameras, sensors and their readings and episodes, district orders and the outbox.

Sensor types carry their threshold and the category a breach files under (data, editable); readings are
a time series with a unique (sensor, time) index with a BRIN index on the arrival time; one open episode per
sensor at most (a partial unique index); the outbox holds every event for the district center in the
order it was written, with its delivery attempts, until delivered or dead-lettered.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import JSONB

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

SRID = 4326

# code, Chinese, English, unit, threshold, normal below, category, urgency
SENSOR_TYPES = [
    ("water_level", "积水水位", "Water level", "cm", 15.0, 10.0, "10001", "emergency"),
    ("cover_tilt", "井盖倾斜", "Manhole-cover tilt", "°", 10.0, 5.0, "10002", "emergency"),
    ("smoke", "烟感", "Smoke", "%obs/m", 4.0, 2.0, "10004", "emergency"),
    ("noise", "噪声", "Noise", "dB(A)", 75.0, 70.0, "08001", "normal"),
]


def now() -> sa.Column:
    return sa.func.now()


def upgrade() -> None:
    types = op.create_table(
        "sensor_types",
        sa.Column("code", sa.String(20), primary_key=True),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("name_en", sa.String(60), nullable=False),
        sa.Column("unit", sa.String(12), nullable=False),
        sa.Column("threshold", sa.Float, nullable=False),  # a reading at or above it is a breach
        sa.Column("normal_below", sa.Float, nullable=False),  # back to normal under it (hysteresis)
        sa.Column("category_code", sa.String(5), nullable=False),  # the category a breach files under
        sa.Column("urgency", sa.String(10), nullable=False),
        sa.CheckConstraint("normal_below <= threshold", name="sensor_type_hysteresis"),
        sa.CheckConstraint("urgency IN ('normal', 'urgent', 'emergency')", name="sensor_type_urgency"),
    )
    op.bulk_insert(types, [dict(zip(("code", "name", "name_en", "unit", "threshold", "normal_below",
                                     "category_code", "urgency"), row, strict=True)) for row in SENSOR_TYPES])
    op.create_table(
        "sensors",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("type_code", sa.String(20), sa.ForeignKey("sensor_types.code"), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("geom", Geometry("POINT", srid=SRID, spatial_index=False), nullable=False),
        sa.Column("station_code", sa.String(20)),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("last_value", sa.Float),
        sa.Column("last_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=now()),
    )
    op.create_index("ix_sensors_geom", "sensors", ["geom"], postgresql_using="gist")
    op.create_table(
        "sensor_readings",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("sensor_id", sa.String(40), sa.ForeignKey("sensors.id"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),  # when the sensor measured
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, server_default=now()),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("data", JSONB),
    )
    # one reading per sensor and instant: a message delivered twice is stored once
    op.create_index("ux_sensor_readings_sensor_at", "sensor_readings", ["sensor_id", "at"], unique=True)
    op.execute("CREATE INDEX ix_sensor_readings_received_brin ON sensor_readings USING brin (received_at)")
    op.create_table(
        "sensor_episodes",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("sensor_id", sa.String(40), sa.ForeignKey("sensors.id"), nullable=False),
        sa.Column("case_id", sa.BigInteger, sa.ForeignKey("cases.id")),
        sa.Column("report_id", sa.BigInteger, sa.ForeignKey("reports.id")),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("peak_value", sa.Float, nullable=False),
        sa.Column("normal_at", sa.DateTime(timezone=True)),  # the readings went back under normal_below
        sa.Column("closed_at", sa.DateTime(timezone=True)),  # its case closed: the next breach opens a new one
    )
    op.execute("CREATE UNIQUE INDEX ux_sensor_episodes_open ON sensor_episodes (sensor_id) WHERE closed_at IS NULL")
    op.create_index("ix_sensor_episodes_case", "sensor_episodes", ["case_id"])
    op.create_table(
        "sensor_rejects",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=now()),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("payload", sa.Text),  # the first 500 characters
    )
    op.create_table(
        "cameras",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("geom", Geometry("POINT", srid=SRID, spatial_index=False), nullable=False),
        sa.Column("direction_deg", sa.Float),
        sa.Column("view", Geometry("POLYGON", srid=SRID, spatial_index=False)),
        sa.Column("station_code", sa.String(20)),
        sa.Column("status", sa.String(12), nullable=False, server_default="online"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=now()),
        sa.CheckConstraint("status IN ('online', 'offline', 'fault')", name="camera_status"),
        sa.CheckConstraint("direction_deg IS NULL OR (direction_deg >= 0 AND direction_deg < 360)",
                           name="camera_direction"),
    )
    op.create_index("ix_cameras_geom", "cameras", ["geom"], postgresql_using="gist")
    op.create_index("ix_cameras_view", "cameras", ["view"], postgresql_using="gist")
    op.create_table(
        "district_orders",
        sa.Column("order_no", sa.String(60), primary_key=True),
        sa.Column("case_id", sa.BigInteger, sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("report_id", sa.BigInteger, sa.ForeignKey("reports.id"), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, server_default=now()),
        sa.Column("request_hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_district_orders_case", "district_orders", ["case_id"])
    op.create_table(
        "outbox_events",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("case_id", sa.BigInteger, sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("payload", JSONB, nullable=False),
        sa.Column("idempotency_key", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=now()),
        sa.Column("state", sa.String(12), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False, server_default=now()),
        sa.Column("last_error", sa.String(300)),
        sa.Column("delivered_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("state IN ('pending', 'delivered', 'dead')", name="outbox_state"),
    )
    # a video report without a point is placed at its camera
    op.drop_constraint("report_location_source", "reports")
    op.create_check_constraint("report_location_source", "reports",
                               "location_source IN ('point', 'address', 'both', 'camera')")
    op.execute("CREATE INDEX ix_outbox_undelivered ON outbox_events (case_id, id) WHERE state <> 'delivered'")


def downgrade() -> None:
    op.drop_constraint("report_location_source", "reports")
    op.execute("UPDATE reports SET location_source = 'point' WHERE location_source = 'camera'")
    op.create_check_constraint("report_location_source", "reports", "location_source IN ('point', 'address', 'both')")
    for table in ("outbox_events", "district_orders", "cameras", "sensor_rejects", "sensor_episodes",
                  "sensor_readings", "sensors", "sensor_types"):
        op.drop_table(table)
