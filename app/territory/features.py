"""The boundary layers read from PostGIS as GeoJSON features: one `Source` per layer (its columns, its
versioned WHERE, its order and its builder in layers/features.py), paged for OGC API and exports, or
whole for the consoles. Geometries come as GeoJSON from PostGIS (ST_AsGeoJSON).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from geoalchemy2 import functions as gf
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from app.errors import DomainError
from app.territory.boundaries import current_version_subquery, in_version
from app.territory.models import Address, AdminArea, GridCell, Road, Station, StationCoverage
from gis.crs import STORAGE_EPSG
from layers import features as lf

PRECISION = 7  # decimal degrees: about 1 cm
Where = Callable[[int | None], list[ColumnElement[bool]]]


@dataclass(frozen=True)
class Source:
    """How one layer is read: columns, geometry, WHERE for a boundary version, order, feature id, builder."""

    columns: tuple
    geom: InstrumentedAttribute
    where: Where
    order: tuple
    build: Callable[[dict, dict], dict]
    key: Callable[[str], ColumnElement[bool] | None]  # the WHERE for one feature id (None: no such id)
    versioned: bool = False


def _text_key(column: InstrumentedAttribute) -> Callable[[str], ColumnElement[bool]]:
    return lambda fid: column == fid


def _int_key(column: InstrumentedAttribute) -> Callable[[str], ColumnElement[bool] | None]:
    return lambda fid: column == int(fid) if re.fullmatch(r"\d{1,9}", fid) else None


def _area(level: str) -> Source:
    columns = (AdminArea.level, AdminArea.code, AdminArea.name, AdminArea.name_en, AdminArea.parent_code,
               AdminArea.kind, AdminArea.area_m2, AdminArea.illustrative, AdminArea.version_low,
               AdminArea.version_high)
    return Source(columns, AdminArea.geom, lambda v: [AdminArea.level == level, in_version(AdminArea, v)],
                  (AdminArea.code,), lf.admin_area, _text_key(AdminArea.code), versioned=True)


def _coverage_version(version: int | None) -> list[ColumnElement[bool]]:
    return [StationCoverage.version_id == (current_version_subquery() if version is None else version)]


SOURCES: dict[str, Source] = {
    "grid_cells": Source(
        (GridCell.code, GridCell.workstation_code, GridCell.community_code, GridCell.area_m2, GridCell.illustrative,
         GridCell.version_low, GridCell.version_high),
        GridCell.geom, lambda v: [in_version(GridCell, v)], (GridCell.code,), lf.grid_cell, _text_key(GridCell.code),
        versioned=True),
    "communities": _area("community"),
    "workstations": _area("workstation"),
    "town": _area("town"),
    "stations": Source(
        (Station.code, Station.name, Station.name_en, Station.tier, Station.parent_code, Station.community_code,
         Station.workstation_code, Station.illustrative),
        Station.location, lambda v: [Station.active.is_(True)], (Station.code,), lf.station, _text_key(Station.code)),
    "station_coverage": Source(
        (StationCoverage.station_code, Station.name, StationCoverage.version_id, StationCoverage.area_m2,
         StationCoverage.illustrative),
        StationCoverage.geom, _coverage_version, (StationCoverage.station_code,), lf.coverage,
        _text_key(StationCoverage.station_code), versioned=True),
    "roads": Source(
        (Road.id, Road.name, Road.name_en, Road.kind, Road.oneway, Road.speed_kph, Road.length_m, Road.illustrative),
        Road.geom, lambda v: [], (Road.id,), lf.road, _int_key(Road.id)),
    "addresses": Source(
        (Address.id, Address.kind, Address.address, Address.road, Address.number, Address.compound, Address.building,
         Address.name, Address.place_type, Address.illustrative),
        Address.geom, lambda v: [], (Address.id,), lf.address, _int_key(Address.id)),
}


class UnknownLayer(DomainError):
    """No such layer: 404, with the names of the layers there are."""

    status = 404
    error = "unknown_layer"

    def __init__(self, name: str) -> None:
        super().__init__(f"no layer {name!r}", layers=sorted(SOURCES))


def source(name: str) -> Source:
    """The source of a layer by name."""
    found = SOURCES.get(name)
    if found is None:
        raise UnknownLayer(name)
    return found


def _select(src: Source, where: list, precision: int):
    stmt = select(*src.columns, gf.ST_AsGeoJSON(src.geom, precision).label("geojson")).where(*where)
    if src is SOURCES["station_coverage"]:
        stmt = stmt.join(Station, Station.code == StationCoverage.station_code)
    return stmt


def _built(src: Source, rows: Iterable) -> list[dict]:
    return [src.build(dict(r), json.loads(r["geojson"])) for r in rows]


def properties(name: str) -> dict[str, InstrumentedAttribute]:
    """The columns of a layer a client may filter and sort on, by the property name they have in its features."""
    src = source(name)
    return {c.key: c for c in src.columns if c.key not in _NOT_PROPERTIES and c.class_ is src.geom.class_
            or c.key == "name" and src is SOURCES["station_coverage"]}


_NOT_PROPERTIES = ("level", "version_id")


def page(session: Session, name: str, version: int | None = None, bbox: tuple | None = None,
         limit: int | None = None, offset: int = 0, precision: int = PRECISION,
         equal: dict[str, object] | None = None, sort: list[tuple[str, bool]] = (),
         where: list[ColumnElement[bool]] = ()) -> tuple[list[dict], int]:
    """One page of a layer's features (of a boundary version, in a lon/lat box, whose `equal` properties have
    these values, meeting the conditions `where`, in `sort` order: (property, descending)) and how many match."""
    src = source(name)
    conditions = list(where)
    where = src.where(version) + conditions
    if bbox is not None:
        where.append(src.geom.intersects(func.ST_MakeEnvelope(*bbox, STORAGE_EPSG)))
    columns = properties(name) if equal or sort else {}
    where += [columns[k] == v for k, v in (equal or {}).items()]
    order = [columns[k].desc() if desc else columns[k].asc() for k, desc in sort] + list(src.order)
    count = select(func.count()).select_from(src.geom.class_).where(*where)
    if src is SOURCES["station_coverage"]:
        count = count.join(Station, Station.code == StationCoverage.station_code)
    matched = session.scalar(count)
    rows = session.execute(_select(src, where, precision).order_by(*order).offset(offset).limit(limit)).mappings()
    return _built(src, rows), matched


def one(session: Session, name: str, fid: str, version: int | None = None) -> dict | None:
    """One feature of a layer by id, or None."""
    src = source(name)
    key = src.key(fid)
    if key is None:
        return None
    rows = session.execute(_select(src, [*src.where(version), key], PRECISION).limit(1)).mappings().all()
    return _built(src, rows)[0] if rows else None


def layer(session: Session, name: str, version: int | None = None, precision: int = 6,
          where: list[ColumnElement[bool]] = ()) -> dict:
    """A whole layer (or the part `where` picks) as a FeatureCollection, for the consoles (6 decimals:
    about 10 cm)."""
    src = source(name)
    if version is not None and not src.versioned:
        raise DomainError(f"layer {name} is not versioned", "version", error="invalid_input")
    stmt = _select(src, [*src.where(version), *where], precision).order_by(*src.order)
    rows = session.execute(stmt).mappings()
    return lf.collection(_built(src, rows))
