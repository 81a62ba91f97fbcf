"""Tables of the tiers: an outside evaluator's review of a closed case."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, String, Text, func
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
