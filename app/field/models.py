"""Tables of the field work: patrol routes with their stops and visits."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

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
