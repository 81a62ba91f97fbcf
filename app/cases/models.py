"""Tables of the closed loop: channels, categories, the working calendar, cases and their reports,
attachments and history, dispatch rules, workflow settings, supervision orders, scheduler runs."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from app.db import Base, geom


class Channel(Base):
    """A way reports arrive: hotline, 12345, video, app, patrol, citizen, media, third party, sensor, district."""

    __tablename__ = "channels"

    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    name_en: Mapped[str] = mapped_column(String(60))
    reference_label: Mapped[str] = mapped_column(String(60))  # what the reference is: call id, camera id...
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Category(Base):
    """A 5-digit component (部件) or matter (事件) category: 2-digit major + 3-digit minor."""

    __tablename__ = "categories"
    __table_args__ = (
        CheckConstraint("code ~ '^[0-9]{5}$'", name="category_code_format"),
        CheckConstraint("kind IN ('component', 'matter')", name="category_kind"),
        CheckConstraint("default_urgency IN ('normal', 'urgent', 'emergency')", name="category_urgency"),
        CheckConstraint("time_unit IN ('working_hours', 'working_days', 'hours')", name="category_unit"),
    )

    code: Mapped[str] = mapped_column(String(5), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    major_code: Mapped[str] = mapped_column(String(2))
    major_name: Mapped[str] = mapped_column(String(40))
    major_name_en: Mapped[str] = mapped_column(String(80))
    minor_code: Mapped[str] = mapped_column(String(3))
    name: Mapped[str] = mapped_column(String(60))
    name_en: Mapped[str] = mapped_column(String(120))
    default_urgency: Mapped[str] = mapped_column(String(10))
    time_limit: Mapped[float] = mapped_column(Float)
    time_unit: Mapped[str] = mapped_column(String(14))
    department_code: Mapped[str | None] = mapped_column(ForeignKey("departments.code"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class CalendarDay(Base):
    """An exception to the Monday-Friday working week: a holiday or a make-up working day."""

    __tablename__ = "calendar_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    is_working: Mapped[bool] = mapped_column(Boolean)
    name: Mapped[str] = mapped_column(String(60))


class Case(Base):
    """One problem (案件): the reports about it, its owners under one boundary version, its state."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    state: Mapped[str] = mapped_column(String(20), default="reported")
    category_code: Mapped[str] = mapped_column(ForeignKey("categories.code"))
    urgency: Mapped[str] = mapped_column(String(10))
    description: Mapped[str] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(String(200))
    geom = mapped_column(geom("POINT"), nullable=False)
    grid_code: Mapped[str | None] = mapped_column(String(15))
    workstation_code: Mapped[str | None] = mapped_column(String(12))
    community_code: Mapped[str | None] = mapped_column(String(12))
    station_code: Mapped[str] = mapped_column(ForeignKey("stations.code"))
    boundary_version_id: Mapped[int] = mapped_column(ForeignKey("boundary_versions.id"))
    near_boundary: Mapped[bool] = mapped_column(Boolean, default=False)
    fallback: Mapped[bool] = mapped_column(Boolean, default=False)
    inside_town: Mapped[bool] = mapped_column(Boolean, default=True)
    report_count: Mapped[int] = mapped_column(Integer, default=1)
    first_reported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_reported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    split_from_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    version: Mapped[int] = mapped_column(Integer, default=1)
    # workflow (migration 0003): owner, pending requests, the disposal clock, milestones
    owner_kind: Mapped[str | None] = mapped_column(String(12))  # department | station
    owner_code: Mapped[str | None] = mapped_column(String(20))
    helpers = mapped_column(JSONB, default=list)  # 协办 departments of a joint case
    dispatch_rule_id: Mapped[int | None] = mapped_column(Integer)
    resume_state: Mapped[str | None] = mapped_column(String(20))
    extension_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    extension_request = mapped_column(JSONB)
    suspension_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    limit_hours: Mapped[float | None] = mapped_column(Float)
    limit_unit: Mapped[str | None] = mapped_column(String(14))
    clock_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    paused_hours: Mapped[float] = mapped_column(Float, default=0.0)
    paused_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deadline_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    warn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    frozen_share: Mapped[float | None] = mapped_column(Float)
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    filed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    first_dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    handled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    dispatch_on_time: Mapped[bool | None] = mapped_column(Boolean)
    handled_on_time: Mapped[bool | None] = mapped_column(Boolean)
    closed_on_time: Mapped[bool | None] = mapped_column(Boolean)
    handled_by: Mapped[str | None] = mapped_column(String(60))
    rework_count: Mapped[int] = mapped_column(Integer, default=0)
    return_count: Mapped[int] = mapped_column(Integer, default=0)
    extension_count: Mapped[int] = mapped_column(Integer, default=0)
    satisfaction: Mapped[int | None] = mapped_column(Integer)
    satisfaction_source: Mapped[str | None] = mapped_column(String(20))
    duty_fallback: Mapped[bool] = mapped_column(Boolean, default=False)  # 兜底 dispatch, for accountability
    duty_fallback_reason: Mapped[str | None] = mapped_column(Text)
    # tiers (migration 0009): the station member the chief assigned, micro-circulation, first-asked unit
    assignee: Mapped[str | None] = mapped_column(String(60))
    self_handled: Mapped[bool] = mapped_column(Boolean, default=False)
    check_pending: Mapped[bool] = mapped_column(Boolean, default=False)  # sampled for the center's check
    first_unit: Mapped[str | None] = mapped_column(String(20))
    first_unit_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    reports: Mapped[list[Report]] = relationship(back_populates="case", order_by="Report.id")


class Report(Base):
    """One arrival of an incident through one channel; it belongs to exactly one case."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    channel: Mapped[str] = mapped_column(ForeignKey("channels.code"))
    reference: Mapped[str | None] = mapped_column(String(120))
    reporter_name: Mapped[str | None] = mapped_column(String(80))
    reporter_phone: Mapped[str | None] = mapped_column(String(40))
    category_code: Mapped[str] = mapped_column(ForeignKey("categories.code"))
    urgency: Mapped[str] = mapped_column(String(10))
    description: Mapped[str] = mapped_column(Text)
    address_text: Mapped[str | None] = mapped_column(String(200))
    geocoded_address: Mapped[str | None] = mapped_column(String(200))  # a field report's point, reverse-geocoded
    geom = mapped_column(geom("POINT"), nullable=False)
    location_source: Mapped[str] = mapped_column(String(10))  # point | address | both
    input_crs: Mapped[str | None] = mapped_column(String(10))
    input_lon: Mapped[float | None] = mapped_column(Float)
    input_lat: Mapped[float | None] = mapped_column(Float)
    geocode_score: Mapped[float | None] = mapped_column(Float)
    geocode_address_id: Mapped[int | None] = mapped_column(Integer)
    grid_code: Mapped[str | None] = mapped_column(String(15))
    station_code: Mapped[str] = mapped_column(String(20))
    boundary_version_id: Mapped[int] = mapped_column(ForeignKey("boundary_versions.id"))
    near_boundary: Mapped[bool] = mapped_column(Boolean)
    owners = mapped_column(JSONB)  # what the ownership index answered at intake
    merged: Mapped[bool] = mapped_column(Boolean)
    merge_distance_m: Mapped[float | None] = mapped_column(Float)
    reported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    submitted_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))

    case: Mapped[Case] = relationship(back_populates="reports")
    attachments: Mapped[list[Attachment]] = relationship(order_by="Attachment.id")


class Attachment(Base):
    """A photo or file of a report: uploaded bytes (kept in PostGIS with the report) or a URL."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"))
    kind: Mapped[str] = mapped_column(String(8))  # upload | url
    url: Mapped[str | None] = mapped_column(String(2000))
    filename: Mapped[str | None] = mapped_column(String(200))
    content_type: Mapped[str | None] = mapped_column(String(80))
    size_bytes: Mapped[int | None] = mapped_column(Integer)
    sha256: Mapped[str | None] = mapped_column(String(64))
    data = deferred(mapped_column(LargeBinary))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class CaseEvent(Base):
    """One step in a case's history. Append-only in the database."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    case_version: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor: Mapped[str] = mapped_column(String(80))
    role: Mapped[str | None] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(40))
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str | None] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    data = mapped_column(JSONB)


class DispatchRule(Base):
    """A classified-dispatch rule (分类派单): the first active rule that matches, by priority, suggests the owner.

    `target` is `category_department`, `place_station` (the joint-duty station owning the place),
    `town_center`, `department:CODE` or `station:CODE`; `helpers` lists 协办 departments.
    """

    __tablename__ = "dispatch_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    priority: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(120))
    category_prefix: Mapped[str | None] = mapped_column(String(5))
    urgency: Mapped[str | None] = mapped_column(String(10))
    channel: Mapped[str | None] = mapped_column(String(20))
    station_code: Mapped[str | None] = mapped_column(String(20))
    target: Mapped[str] = mapped_column(String(40))
    helpers = mapped_column(JSONB, default=list)
    note: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_by: Mapped[str] = mapped_column(String(80), default="system")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Setting(Base):
    """An editable setting of the workflow (urgency factors, working periods, KPI weights...)."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    value = mapped_column(JSONB, nullable=False)
    updated_by: Mapped[str] = mapped_column(String(80), default="system")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class SupervisionOrder(Base):
    """A supervision order (督办) on a case, with its own history."""

    __tablename__ = "supervision_orders"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    method: Mapped[str] = mapped_column(String(12))  # phone | written | on_site | meeting | interview
    reason: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(10), default="open")  # open | answered | closed
    automatic: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SupervisionEvent(Base):
    """One step of a supervision order. Append-only in the database."""

    __tablename__ = "supervision_events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("supervision_orders.id"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)


class SchedulerRun(Base):
    """One run of a scheduled job (by whichever worker held the lock)."""

    __tablename__ = "scheduler_runs"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    job: Mapped[str] = mapped_column(String(40))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    host: Mapped[str | None] = mapped_column(String(120))
    result = mapped_column(JSONB)
