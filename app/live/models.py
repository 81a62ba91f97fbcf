"""The live feed's table (migration 0011): one row per change of a case the consoles are told about."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class LiveEvent(Base):
    """A change of a case as the event stream sends it, with the case's scope fields at that moment."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    case_version: Mapped[int] = mapped_column(Integer)
    station_code: Mapped[str | None] = mapped_column(String(20))
    owner_kind: Mapped[str | None] = mapped_column(String(12))
    owner_code: Mapped[str | None] = mapped_column(String(20))
    helpers = mapped_column(JSONB)
    payload = mapped_column(JSONB, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
