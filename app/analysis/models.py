"""Tables of the analyses: early-warning modules (预警模块), monthly bulletins, chronic problems (管理顽症)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, deferred, mapped_column

from app.db import Base


class WarningModule(Base):
    """An early-warning module (预警模块) for one category group, with its own rule and thresholds.

    `rule` is `surge` (a cell's count in the week exceeds `factor` x its weekly mean over the
    `baseline_weeks` before, and at least `min_count`) or `new_hotspot` (a cell that became a new
    or consecutive hot spot over the last `weeks` weeks, with at least `min_count` cases this week).
    """

    __tablename__ = "warning_modules"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    name_en: Mapped[str] = mapped_column(String(120))
    category_prefixes = mapped_column(JSONB, nullable=False)
    rule: Mapped[str] = mapped_column(String(20))
    params = mapped_column(JSONB, nullable=False, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_by: Mapped[str] = mapped_column(String(80), default="system")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Bulletin(Base):
    """A stored monthly performance bulletin (月度绩效考核通报): its PDF in one language and its figures."""

    __tablename__ = "bulletins"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    month: Mapped[date] = mapped_column(Date)  # the first day of the month it reports on
    lang: Mapped[str] = mapped_column(String(2))
    pdf = deferred(mapped_column(LargeBinary, nullable=False))
    figures = mapped_column(JSONB, nullable=False)
    generated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    generated_by: Mapped[str] = mapped_column(String(80))


class ChronicProblem(Base):
    """A chronic problem (管理顽症): one category that keeps coming back in one grid cell, under dynamic control
    (an owner, a plan, a review date)."""

    __tablename__ = "chronic_problems"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    grid_code: Mapped[str] = mapped_column(String(15))
    category_code: Mapped[str] = mapped_column(ForeignKey("categories.code"))
    status: Mapped[str] = mapped_column(String(12), default="open")
    owner: Mapped[str | None] = mapped_column(String(120))
    plan: Mapped[str | None] = mapped_column(Text)
    review_on: Mapped[date | None] = mapped_column(Date)
    found_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    version: Mapped[int] = mapped_column(Integer, default=1)


class ChronicEvent(Base):
    """One step in the history of a chronic problem: found, controlled (owner, plan, review date), reviewed..."""

    __tablename__ = "chronic_problem_events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    problem_id: Mapped[int] = mapped_column(ForeignKey("chronic_problems.id"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    data = mapped_column(JSONB, nullable=False, default=dict)
