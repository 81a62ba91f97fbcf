"""Tables of the territory: boundary versions, the town, communities and workstation territories, unit
grid cells, stations and their coverage, roads, addresses, and planners' draft boundary versions.

Geometries are stored in EPSG:4326 (WGS84 lon/lat); metric work uses EPSG:4550 (gis/crs.py).
Boundary layers are versioned: a row is valid from `version_low` up to `version_high`
(inclusive; NULL while current), so old versions can always be rebuilt (`in_version`). Station
coverage polygons belong to exactly one version: a new version carries a full new set.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, geom


class BoundaryVersion(Base):
    """A set of boundaries in force from `effective_from`; never edited once written."""

    __tablename__ = "boundary_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # initial | import | coverage_edit
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    effective_from: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("boundary_versions.id"))
    layers: Mapped[list] = mapped_column(JSONB, default=list)  # which layers changed


class AdminArea(Base):
    """The town, a community or a residence/village workstation territory."""

    __tablename__ = "admin_areas"
    __table_args__ = (
        CheckConstraint("level IN ('town', 'community', 'workstation')", name="admin_level"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    level: Mapped[str] = mapped_column(String(12))
    code: Mapped[str] = mapped_column(String(12))
    name: Mapped[str] = mapped_column(String(80))
    name_en: Mapped[str | None] = mapped_column(String(120))
    parent_code: Mapped[str | None] = mapped_column(String(12))
    kind: Mapped[str | None] = mapped_column(String(20))  # residence | village (workstations)
    area_m2: Mapped[float] = mapped_column(Float)
    illustrative: Mapped[bool] = mapped_column(Boolean, default=False)
    geom = mapped_column(geom("MULTIPOLYGON"), nullable=False)
    version_low: Mapped[int] = mapped_column(ForeignKey("boundary_versions.id"))
    version_high: Mapped[int | None] = mapped_column(ForeignKey("boundary_versions.id"))


class GridCell(Base):
    """A unit grid cell (单元网格) with its 15-digit code."""

    __tablename__ = "grid_cells"
    __table_args__ = (CheckConstraint("code ~ '^[0-9]{15}$'", name="grid_code_format"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(15))
    workstation_code: Mapped[str] = mapped_column(String(12))
    community_code: Mapped[str] = mapped_column(String(12))
    area_m2: Mapped[float] = mapped_column(Float)
    illustrative: Mapped[bool] = mapped_column(Boolean, default=False)
    geom = mapped_column(geom("POLYGON"), nullable=False)
    version_low: Mapped[int] = mapped_column(ForeignKey("boundary_versions.id"))
    version_high: Mapped[int | None] = mapped_column(ForeignKey("boundary_versions.id"))


class Station(Base):
    """The town center, a joint-duty station (联勤联动站) or a workstation (居村工作站)."""

    __tablename__ = "stations"
    __table_args__ = (
        CheckConstraint("tier IN ('town_center', 'joint_station', 'workstation')", name="station_tier"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    name_en: Mapped[str | None] = mapped_column(String(120))
    tier: Mapped[str] = mapped_column(String(16))
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("stations.code"))
    community_code: Mapped[str | None] = mapped_column(String(12))
    workstation_code: Mapped[str | None] = mapped_column(String(12))
    illustrative: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    location = mapped_column(geom("POINT"), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class StationCoverage(Base):
    """The territory one station covers in one boundary version."""

    __tablename__ = "station_coverage"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("boundary_versions.id"))
    station_code: Mapped[str] = mapped_column(ForeignKey("stations.code"))
    area_m2: Mapped[float] = mapped_column(Float)
    illustrative: Mapped[bool] = mapped_column(Boolean, default=False)
    geom = mapped_column(geom("MULTIPOLYGON"), nullable=False)


class Road(Base):
    """A road centre-line segment between two intersections."""

    __tablename__ = "roads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    name_en: Mapped[str | None] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(20))
    oneway: Mapped[bool] = mapped_column(Boolean, default=False)
    speed_kph: Mapped[float] = mapped_column(Float)
    length_m: Mapped[float] = mapped_column(Float)
    illustrative: Mapped[bool] = mapped_column(Boolean, default=False)
    geom = mapped_column(geom("LINESTRING"), nullable=False)


class Address(Base):
    """An address point: a house number, a building in a compound, or a named place."""

    __tablename__ = "addresses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))
    address: Mapped[str] = mapped_column(String(200))
    road: Mapped[str | None] = mapped_column(String(80))
    number: Mapped[int | None] = mapped_column(Integer)
    compound: Mapped[str | None] = mapped_column(String(80))
    building: Mapped[int | None] = mapped_column(Integer)
    name: Mapped[str | None] = mapped_column(String(120))
    place_type: Mapped[str | None] = mapped_column(String(30))
    illustrative: Mapped[bool] = mapped_column(Boolean, default=False)
    geom = mapped_column(geom("POINT"), nullable=False)


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
