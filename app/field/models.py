"""Tables of the field work: patrol routes with their stops and visits."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    REAL,
    BigInteger,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, deferred, mapped_column

from app.db import Base, geom


class PatrolRoute(Base):
    """The planned patrol route (巡查路线) of one station for one day, assigned to a patrol officer."""

    __tablename__ = "patrol_routes"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    station_code: Mapped[str] = mapped_column(ForeignKey("stations.code"))
    day: Mapped[date] = mapped_column(Date)
    shift_minutes: Mapped[int] = mapped_column(Integer)
    speed_kph: Mapped[float] = mapped_column(Float)
    assignee: Mapped[str | None] = mapped_column(ForeignKey("users.username"))
    stops = mapped_column(JSONB, nullable=False, default=list)
    length_m: Mapped[float] = mapped_column(Float)
    duration_s: Mapped[int] = mapped_column(Integer)
    value: Mapped[float] = mapped_column(Float)
    solver = mapped_column(JSONB, nullable=False, default=dict)
    geom = mapped_column(geom("LINESTRING"))
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class StaffPosition(Base):
    """One position a field officer's phone reported (the live layer and the day's track)."""

    __tablename__ = "staff_positions"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    geom = mapped_column(geom("POINT"), nullable=False)
    accuracy_m: Mapped[float | None] = mapped_column(REAL)


class CasePhoto(Base):
    """An evidence photo of a handler's feedback: before or after the work, stored with the case."""

    __tablename__ = "case_photos"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    case_version: Mapped[int] = mapped_column(Integer)
    stage: Mapped[str] = mapped_column(String(8))  # before | after
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(80))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    data = deferred(mapped_column(LargeBinary))
    uploaded_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class FieldRequest(Base):
    """The answer to a field write sent with an Idempotency-Key: a replay from the phone's outbox gets it again."""

    __tablename__ = "field_requests"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    key: Mapped[str] = mapped_column(String(200))
    endpoint: Mapped[str] = mapped_column(String(80))
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)
    answer = mapped_column(JSONB, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
