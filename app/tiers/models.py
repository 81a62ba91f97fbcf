"""Tables of the tiers: an outside evaluator's review of a closed case; the staff registry of the station teams."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Integer, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class CaseReview(Base):
    """An evaluator's rating (1-5) and review of a closed case; one per evaluator and case (a new one replaces it)."""

    __tablename__ = "case_reviews"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    username: Mapped[str] = mapped_column(String(60))
    rating: Mapped[int] = mapped_column(Integer)
    review: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Person(Base):
    """A member of a station team (统一编码、统一证件、统一培训、统一装备): police, planning, safety, greening, market
    regulation, enforcement, housing, flood control, grid staff or a development company, with a unified staff
    code; `username` links the person's user account."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    station_code: Mapped[str] = mapped_column(ForeignKey("stations.code"))
    department_code: Mapped[str | None] = mapped_column(ForeignKey("departments.code"))
    position: Mapped[str | None] = mapped_column(String(60))
    certificate_no: Mapped[str | None] = mapped_column(String(40))
    phone: Mapped[str | None] = mapped_column(String(40))
    training = mapped_column(JSONB, default=list)  # [{"date": "2026-03-01", "course": "..."}]
    equipment = mapped_column(JSONB, default=list)  # ["执法记录仪", ...]
    username: Mapped[str | None] = mapped_column(ForeignKey("users.username"), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_by: Mapped[str] = mapped_column(String(80), default="system")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
