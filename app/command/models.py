"""Tables of the duty office and emergency command (migration 0013)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, DateTime, Float, ForeignKey, Integer, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, geom


class ShiftPattern(Base):
    """How a position's day is cut into shifts: [{"code", "name", "name_en", "start": "HH:MM", "hours"}]."""

    __tablename__ = "shift_patterns"

    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    name_en: Mapped[str | None] = mapped_column(String(80))
    shifts = mapped_column(JSONB, nullable=False)


class DutyPosition(Base):
    """A duty position (带班领导, 值班长, 平台信息员, a station's duty officer) and how many people it needs."""

    __tablename__ = "duty_positions"

    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    name_en: Mapped[str | None] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(20))  # leader | shift_leader | officer | station
    channel: Mapped[str | None] = mapped_column(String(20))
    station_code: Mapped[str | None] = mapped_column(String(20))
    pattern_code: Mapped[str] = mapped_column(ForeignKey("shift_patterns.code"))
    required: Mapped[int] = mapped_column(Integer, default=1)
    sort: Mapped[int] = mapped_column(Integer, default=0)


class DutyAssignment(Base):
    """One person on one shift of one day at one position (the roster's cell)."""

    __tablename__ = "duty_assignments"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    position_code: Mapped[str] = mapped_column(ForeignKey("duty_positions.code"))
    username: Mapped[str] = mapped_column(ForeignKey("users.username"))
    day: Mapped[date] = mapped_column(Date)
    shift_code: Mapped[str] = mapped_column(String(20))
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class DutySwap(Base):
    """A request to hand one assignment to someone else; takes effect when approved."""

    __tablename__ = "duty_swaps"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("duty_assignments.id"))
    from_username: Mapped[str] = mapped_column(String(60))
    to_username: Mapped[str] = mapped_column(ForeignKey("users.username"))
    reason: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="requested")
    requested_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    decided_by: Mapped[str | None] = mapped_column(String(80))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class HandoverNote(Base):
    """交接班记录: what is open and what to watch, signed by the outgoing and then the incoming person."""

    __tablename__ = "handover_notes"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    position_code: Mapped[str] = mapped_column(ForeignKey("duty_positions.code"))
    from_username: Mapped[str] = mapped_column(ForeignKey("users.username"))
    to_username: Mapped[str] = mapped_column(ForeignKey("users.username"))
    open_items: Mapped[str] = mapped_column(Text)
    watch: Mapped[str | None] = mapped_column(Text)
    signed_from_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    signed_to_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class IncidentType(Base):
    """A subtype of one of the four national classes of emergencies (data, not code)."""

    __tablename__ = "incident_types"

    code: Mapped[str] = mapped_column(String(30), primary_key=True)
    class_code: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(40))
    name_en: Mapped[str | None] = mapped_column(String(80))


class Incident(Base):
    """突发事件: a type, a level (1 = I, the gravest), a commander, a status and its affected area."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    type_code: Mapped[str] = mapped_column(ForeignKey("incident_types.code"))
    level: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12))
    commander: Mapped[str] = mapped_column(ForeignKey("users.username"))
    source_kind: Mapped[str] = mapped_column(String(12))  # case | hotspot | point
    source_ref: Mapped[str | None] = mapped_column(String(40))
    origin = mapped_column(geom("GEOMETRY"), nullable=False)
    buffer_m: Mapped[float | None] = mapped_column(Float)
    area = mapped_column(geom("MULTIPOLYGON"), nullable=False)
    declared_by: Mapped[str] = mapped_column(String(80))
    declared_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    first_report_due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, default=1)


class IncidentCase(Base):
    """A case linked to an incident; released (handed back to the daily loop) when the incident closes."""

    __tablename__ = "incident_cases"

    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    linked_by: Mapped[str] = mapped_column(String(80))
    linked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class IncidentLogEntry(Base):
    """The situation log: every action on the incident with time and actor (append-only in the database)."""

    __tablename__ = "incident_log"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(30))
    text: Mapped[str] = mapped_column(Text)
    data = mapped_column(JSONB)


class Resource(Base):
    """应急资源: a team, vehicle, pump, sandbags... with its quantity, at a station or a depot."""

    __tablename__ = "resources"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    code: Mapped[str] = mapped_column(String(30), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(120))
    quantity: Mapped[int] = mapped_column(Integer)
    unit: Mapped[str] = mapped_column(String(20))
    station_code: Mapped[str | None] = mapped_column(ForeignKey("stations.code"))
    depot: Mapped[str | None] = mapped_column(String(120))
    illustrative: Mapped[bool] = mapped_column(Boolean, default=False)
    geom = mapped_column(geom("POINT"), nullable=False)


class ResourceDispatch(Base):
    """A quantity of a resource sent to an incident."""

    __tablename__ = "resource_dispatches"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"))
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)
    eta_minutes: Mapped[float | None] = mapped_column(Float)
    dispatched_by: Mapped[str] = mapped_column(String(80))
    dispatched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    returned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Instruction(Base):
    """An instruction (roll-call, notice) sent to people; each recipient acknowledges."""

    __tablename__ = "instructions"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
    text: Mapped[str] = mapped_column(Text)
    sent_by: Mapped[str] = mapped_column(String(80))
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class InstructionRecipient(Base):
    """One person's copy of an instruction: how it was delivered, when they acknowledged, how often chased."""

    __tablename__ = "instruction_recipients"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    instruction_id: Mapped[int] = mapped_column(ForeignKey("instructions.id"))
    username: Mapped[str] = mapped_column(ForeignKey("users.username"))
    deliveries = mapped_column(JSONB, nullable=False, default=list)
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    chased: Mapped[int] = mapped_column(Integer, default=0)


class SituationReport(Base):
    """首报 / 续报 / 终报: a snapshot of the incident, its area summary and log, kept as it was filed."""

    __tablename__ = "situation_reports"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"))
    kind: Mapped[str] = mapped_column(String(10))
    seq: Mapped[int] = mapped_column(Integer)
    author: Mapped[str] = mapped_column(String(80))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    note: Mapped[str | None] = mapped_column(Text)
    content = mapped_column(JSONB, nullable=False)


class CompoundPopulation(Base):
    """An (illustrative) number of residents per residential compound, for the inside summary."""

    __tablename__ = "compound_populations"

    compound: Mapped[str] = mapped_column(String(80), primary_key=True)
    population: Mapped[int] = mapped_column(Integer)
    illustrative: Mapped[bool] = mapped_column(Boolean, default=True)
