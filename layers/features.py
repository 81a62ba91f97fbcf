"""Boundary layers as GeoJSON FeatureCollections, read from PostGIS."""

from __future__ import annotations

import json

from geoalchemy2 import functions as gf
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import AdminArea, GridCell, Road, Station, StationCoverage
from app.services.boundaries import current_version_id

PRECISION = 6  # about 0.1 m


class UnknownLayer(KeyError):
    """No such layer."""


def _collection(rows, props) -> dict:
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": json.loads(row.geojson), "properties": props(row)} for row in rows
        ],
    }


def admin_layer(session: Session, level: str) -> dict:
    """Current town, communities or workstation territories."""
    rows = session.execute(
        select(AdminArea, gf.ST_AsGeoJSON(AdminArea.geom, PRECISION).label("geojson"))
        .where(AdminArea.level == level, AdminArea.version_high.is_(None))
        .order_by(AdminArea.code)
    )
    return _collection(
        rows,
        lambda r: {
            "code": r.AdminArea.code, "name": r.AdminArea.name, "name_en": r.AdminArea.name_en,
            "parent_code": r.AdminArea.parent_code, "area_m2": r.AdminArea.area_m2,
            "illustrative": r.AdminArea.illustrative,
        },
    )


def grid_layer(session: Session) -> dict:
    """Current unit grid cells."""
    rows = session.execute(
        select(
            GridCell.code, GridCell.workstation_code, GridCell.area_m2,
            gf.ST_AsGeoJSON(GridCell.geom, PRECISION).label("geojson"),
        ).where(GridCell.version_high.is_(None)).order_by(GridCell.code)
    )
    return _collection(
        rows, lambda r: {"code": r.code, "workstation_code": r.workstation_code, "area_m2": r.area_m2}
    )


def station_layer(session: Session) -> dict:
    """Active stations as points."""
    rows = session.execute(
        select(Station, gf.ST_AsGeoJSON(Station.location, PRECISION).label("geojson"))
        .where(Station.active.is_(True))
        .order_by(Station.code)
    )
    return _collection(
        rows,
        lambda r: {
            "code": r.Station.code, "name": r.Station.name, "name_en": r.Station.name_en,
            "tier": r.Station.tier, "parent_code": r.Station.parent_code,
        },
    )


def coverage_layer(session: Session, version: int | None = None) -> dict:
    """Station coverage of a version (default: the current one)."""
    version = version or current_version_id(session)
    rows = session.execute(
        select(StationCoverage, Station.name, gf.ST_AsGeoJSON(StationCoverage.geom, PRECISION).label("geojson"))
        .join(Station, Station.code == StationCoverage.station_code)
        .where(StationCoverage.version_id == version)
        .order_by(StationCoverage.station_code)
    )
    return _collection(
        rows,
        lambda r: {
            "station_code": r.StationCoverage.station_code, "name": r.name,
            "version": r.StationCoverage.version_id, "area_m2": r.StationCoverage.area_m2,
        },
    )


def road_layer(session: Session) -> dict:
    """Road centre lines."""
    rows = session.execute(
        select(Road.id, Road.name, Road.kind, gf.ST_AsGeoJSON(Road.geom, PRECISION).label("geojson"))
    )
    return _collection(rows, lambda r: {"id": r.id, "name": r.name, "kind": r.kind})


LAYERS = {
    "town": lambda s: admin_layer(s, "town"),
    "communities": lambda s: admin_layer(s, "community"),
    "workstations": lambda s: admin_layer(s, "workstation"),
    "grid_cells": grid_layer,
    "stations": station_layer,
    "station_coverage": coverage_layer,
    "roads": road_layer,
}


def layer(session: Session, name: str) -> dict:
    """A layer by name."""
    try:
        return LAYERS[name](session)
    except KeyError:
        raise UnknownLayer(name) from None
