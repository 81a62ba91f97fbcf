"""The ownership index of this process, rebuilt whenever PostGIS has a newer boundary version.

Every lookup first asks the database for the current version (one indexed query), so a
planner's edit takes effect in every worker process without a restart.
"""

from __future__ import annotations

import threading

from geoalchemy2.shape import to_shape
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.models import AdminArea, GridCell, Station, StationCoverage
from app.services.boundaries import current_version_id
from gis.ownership import NEAR_BOUNDARY_M, Area, OwnershipIndex


class NoBoundaries(RuntimeError):
    """No boundary version is loaded yet."""


def _valid_at(model, version: int):
    return model.version_low <= version, or_(model.version_high.is_(None), model.version_high >= version)


def build_index(session: Session, version: int, near_m: float = NEAR_BOUNDARY_M) -> OwnershipIndex:
    """Read one boundary version from PostGIS into an index."""
    admin = session.scalars(select(AdminArea).where(*_valid_at(AdminArea, version))).all()
    by_level: dict[str, list[AdminArea]] = {"town": [], "community": [], "workstation": []}
    for row in admin:
        by_level[row.level].append(row)
    if len(by_level["town"]) != 1:
        raise NoBoundaries(f"boundary version {version} has no town polygon")
    names = dict(session.execute(select(Station.code, Station.name)).all())
    center = session.scalars(select(Station).where(Station.tier == "town_center").order_by(Station.id)).first()
    coverage = session.scalars(select(StationCoverage).where(StationCoverage.version_id == version)).all()
    cells = session.execute(
        select(GridCell.code, GridCell.workstation_code, GridCell.geom).where(*_valid_at(GridCell, version))
    ).all()
    return OwnershipIndex(
        version=version,
        town=to_shape(by_level["town"][0].geom),
        town_center={"code": center.code, "name": center.name},
        coverage=[Area(c.station_code, names.get(c.station_code, c.station_code), to_shape(c.geom)) for c in coverage],
        communities=[Area(a.code, a.name, to_shape(a.geom)) for a in by_level["community"]],
        workstations=[Area(a.code, a.name, to_shape(a.geom), a.parent_code) for a in by_level["workstation"]],
        cells=[Area(c.code, c.code, to_shape(c.geom), c.workstation_code) for c in cells],
        near_m=near_m,
    )


class OwnershipCache:
    """One index per process, checked against the database version on every use."""

    def __init__(self, near_m: float = NEAR_BOUNDARY_M) -> None:
        self.near_m = near_m
        self._index: OwnershipIndex | None = None
        self._lock = threading.Lock()

    def get(self, session: Session) -> OwnershipIndex:
        """The index of the current version, rebuilt first when the database has a newer one."""
        version = current_version_id(session)
        if version is None:
            raise NoBoundaries("no boundaries are loaded")
        index = self._index
        if index is not None and index.version == version:
            return index
        with self._lock:  # one rebuild at a time; the others wait and reuse it
            if self._index is None or self._index.version != version:
                self._index = build_index(session, version, self.near_m)
            return self._index

    def for_version(self, session: Session, version: int) -> OwnershipIndex:
        """An index of a given (possibly older) version, not cached."""
        return build_index(session, version, self.near_m)
