"""Tables of the connectors (migration 0008): cameras, sensors, readings, episodes, district orders, outbox."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, Float, ForeignKey, Identity, Integer, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base
from app.db import geom as geometry


class SensorType(Base):
    """A kind of sensor: its unit, the threshold of a breach, the level back to normal, the category filed."""

    __tablename__ = "sensor_types"

    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    name_en: Mapped[str] = mapped_column(String(60))
    unit: Mapped[str] = mapped_column(String(12))
    threshold: Mapped[float] = mapped_column(Float)
    normal_below: Mapped[float] = mapped_column(Float)
    category_code: Mapped[str] = mapped_column(String(5))
    urgency: Mapped[str] = mapped_column(String(10))


class Sensor(Base):
    """A sensing terminal (物联感知终端) at a fixed point."""

    __tablename__ = "sensors"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    type_code: Mapped[str] = mapped_column(ForeignKey("sensor_types.code"))
    name: Mapped[str] = mapped_column(String(120))
    geom = mapped_column(geometry("POINT"), nullable=False)
    station_code: Mapped[str | None] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_value: Mapped[float | None] = mapped_column(Float)
    last_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class SensorReading(Base):
    """One reading of the time series."""

    __tablename__ = "sensor_readings"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    sensor_id: Mapped[str] = mapped_column(ForeignKey("sensors.id"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    value: Mapped[float] = mapped_column(Float)
    data = mapped_column(JSONB)


class SensorEpisode(Base):
    """A breach of a sensor and the case it opened: one open episode per sensor until the case closes."""

    __tablename__ = "sensor_episodes"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    sensor_id: Mapped[str] = mapped_column(ForeignKey("sensors.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"))
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    peak_value: Mapped[float] = mapped_column(Float)
    normal_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SensorReject(Base):
    """A message on a sensor topic that could not be read (counted by /metrics)."""

    __tablename__ = "sensor_rejects"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    topic: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(200))
    payload: Mapped[str | None] = mapped_column(Text)


class Camera(Base):
    """A video camera: where it stands, where it looks, its station and status."""

    __tablename__ = "cameras"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    geom = mapped_column(geometry("POINT"), nullable=False)
    direction_deg: Mapped[float | None] = mapped_column(Float)
    view = mapped_column(geometry("POLYGON"))
    station_code: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(12), default="online")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class DistrictOrder(Base):
    """A work order of the district center (新区城运中心) and the case it became."""

    __tablename__ = "district_orders"

    order_no: Mapped[str] = mapped_column(String(60), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    request_hash: Mapped[str] = mapped_column(String(64))


class OutboxEvent(Base):
    """An event for the district center, written in the transaction of the change it tells."""

    __tablename__ = "outbox_events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    kind: Mapped[str] = mapped_column(String(30))
    payload = mapped_column(JSONB, nullable=False)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    state: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_error: Mapped[str | None] = mapped_column(String(300))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
