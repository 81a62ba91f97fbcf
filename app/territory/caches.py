"""The per-process indexes built from the boundaries: the ownership index and the geocoder.

Every use first asks the database for the key (the current boundary version; a fingerprint of the
address and road tables), so a planner's edit or an address import takes effect in every worker
process without a restart (app/cache.py).
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Mapping
from typing import Any

from geoalchemy2.shape import to_shape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import cache
from app.errors import Conflict
from app.territory.boundaries import current_version_id, in_version
from app.territory.models import Address, AdminArea, GridCell, Road, Station, StationCoverage
from gis.geocode import Geocoder
from gis.ownership import NEAR_BOUNDARY_M, Area, OwnershipIndex
from gis.validation import jurisdiction


class NoBoundaries(Conflict):
    """No boundary version is loaded yet (409)."""

    def __init__(self, message: str) -> None:
        super().__init__("no_boundaries", message)


def build_index(session: Session, version: int, near_m: float = NEAR_BOUNDARY_M,
                raster_store: str | None = None) -> OwnershipIndex:
    """Read one boundary version from PostGIS into an index (ValueError for geometry that cannot be indexed)."""
    with warnings.catch_warnings():  # shapely warns on NaN while reading; the index refuses such a version itself
        warnings.simplefilter("ignore", RuntimeWarning)
        return _read_index(session, version, near_m, raster_store)


def raster_store(setting: str) -> str | None:
    """The folder of RASTER_STORE ("off": None; empty: a folder of this user's in the temporary directory)."""
    if setting.lower() == "off":
        return None
    return setting or os.path.join(tempfile.gettempdir(), f"nanhui-rasters-{os.getuid()}")


def _read_index(session: Session, version: int, near_m: float, store: str | None) -> OwnershipIndex:
    admin = session.scalars(select(AdminArea).where(in_version(AdminArea, version))).all()
    by_level: dict[str, list[AdminArea]] = {"town": [], "community": [], "workstation": []}
    for row in admin:
        by_level[row.level].append(row)
    if not by_level["town"]:
        raise NoBoundaries(f"boundary version {version} has no town polygon")
    names = dict(session.execute(select(Station.code, Station.name)).all())
    towns = sorted((Area(t.code, t.name, to_shape(t.geom)) for t in by_level["town"]), key=lambda a: a.code)
    centers = _town_centers(session, towns)
    coverage = session.scalars(select(StationCoverage).where(StationCoverage.version_id == version)).all()
    cells = session.execute(
        select(GridCell.code, GridCell.workstation_code, GridCell.geom).where(in_version(GridCell, version))
    ).all()
    return OwnershipIndex(
        version=version,
        town=jurisdiction([t.geom for t in towns]),
        town_center=centers[towns[0].code],
        towns=towns,
        town_centers=centers,
        coverage=[Area(c.station_code, names.get(c.station_code, c.station_code), to_shape(c.geom)) for c in coverage],
        communities=[Area(a.code, a.name, to_shape(a.geom)) for a in by_level["community"]],
        workstations=[Area(a.code, a.name, to_shape(a.geom), a.parent_code) for a in by_level["workstation"]],
        cells=[Area(c.code, c.code, to_shape(c.geom), c.workstation_code) for c in cells],
        near_m=near_m,
        raster_store=store,
    )


def _town_centers(session: Session, towns: list[Area]) -> dict[str, dict]:
    """Each town's center station (the town_center standing in it; the first town center when none does)."""
    rows = session.execute(
        select(Station.code, Station.name, Station.location).where(Station.tier == "town_center").order_by(Station.id)
    ).all()
    if not rows:
        raise NoBoundaries("no town center station is loaded")
    points = [(r.code, r.name, to_shape(r.location)) for r in rows]
    first = {"code": rows[0].code, "name": rows[0].name}
    return {t.code: next(({"code": c, "name": n} for c, n, at in points if t.geom.covers(at)), first) for t in towns}


def loaded_version(session: Session) -> int:
    """The boundary version in effect; NoBoundaries when none is loaded."""
    version = current_version_id(session)
    if version is None:
        raise NoBoundaries("no boundaries are loaded")
    return version


def _build_index(session: Session, version: int, settings: Mapping[str, Any]) -> OwnershipIndex:
    return build_index(session, version, settings.get("NEAR_BOUNDARY_M", NEAR_BOUNDARY_M),
                       raster_store(settings.get("RASTER_STORE", "")))


OWNERSHIP = cache.Cached("ownership", loaded_version, _build_index)


def ownership(session: Session) -> OwnershipIndex:
    """The ownership index of the current boundary version (NoBoundaries when none is loaded)."""
    return cache.get(OWNERSHIP, session)


def _address_fingerprint(session: Session) -> tuple:
    addresses = session.execute(select(func.count(Address.id), func.max(Address.id))).one()
    roads = session.execute(select(func.count(Road.id), func.max(Road.id))).one()
    return tuple(addresses) + tuple(roads)


def build_geocoder(session: Session) -> Geocoder:
    """Read every address point and road centre-line into a Geocoder."""
    rows = session.execute(
        select(
            Address.id, Address.kind, Address.address, Address.road, Address.number, Address.compound,
            Address.building, Address.name, Address.place_type,
            func.ST_X(Address.geom).label("lon"), func.ST_Y(Address.geom).label("lat"),
        )
    ).mappings().all()
    roads = [
        {"id": r.id, "name": r.name, "geom": to_shape(r.geom)}
        for r in session.execute(select(Road.id, Road.name, Road.geom)).all()
    ]
    return Geocoder([dict(row) for row in rows], roads)


GEOCODER = cache.Cached("geocoder", _address_fingerprint, lambda session, _key, _settings: build_geocoder(session))


def geocoder(session: Session) -> Geocoder:
    """The geocoder over the current addresses and roads."""
    return cache.get(GEOCODER, session)
