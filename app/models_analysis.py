"""ORM models of the analysis tables (migration 0004): early-warning modules, patrol routes, drafts.

Kept beside app/models.py (same declarative base) so that the analysis work stays in its own files.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, DateTime, Float, ForeignKey, Integer, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.models import Base, geom


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


class BoundaryDraft(Base):
    """A proposed boundary change (draft boundary version) a planner opens, edits and saves later.

    `proposal` has the shape the planner console saves: {"coverage": FeatureCollection,
    "new_stations": [...], "reason": ...}.
    """

    __tablename__ = "boundary_drafts"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(12), default="draft")
    title: Mapped[str] = mapped_column(String(200))
    base_version_id: Mapped[int] = mapped_column(ForeignKey("boundary_versions.id"))
    proposal = mapped_column(JSONB, nullable=False)
    stats = mapped_column(JSONB, nullable=False, default=dict)
    saved_version_id: Mapped[int | None] = mapped_column(ForeignKey("boundary_versions.id"))
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_by: Mapped[str] = mapped_column(String(80))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
