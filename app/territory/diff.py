"""What changes station between two boundary versions: the grid cells and the open cases, counted per
(old station, new station) pair, with the moved cells as GeoJSON for the planner's map.

A cell belongs to the station whose territory covers a point inside it (gis.painting.cell_owners), an open
case to the station whose territory covers its point; where no territory does, to the town center (兜底).
The cells compared are those of the newer version.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import shapely
from geoalchemy2.shape import to_shape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.cases import machine
from app.cases.models import Case
from app.errors import InputError, NotFound
from app.territory import caches, features
from app.territory.boundaries import in_version
from app.territory.models import BoundaryVersion, GridCell, Station, StationCoverage
from gis import painting
from gis.crs import metric_area


def _coverage(session: Session, version: int) -> dict[str, shapely.Geometry]:
    rows = session.scalars(select(StationCoverage).where(StationCoverage.version_id == version)
                           .order_by(StationCoverage.station_code))
    return {c.station_code: to_shape(c.geom) for c in rows}


def current_cells(session: Session) -> dict:
    """GET /api/v1/planning/cells: the current version's grid cells, each with the station holding it
    (`station_code`), for painting territories by cells."""
    index = caches.ownership(session)
    owner = painting.cell_owners({a.code: a.geom for a in index.cells}, {a.code: a.geom for a in index.coverage})
    fc = features.layer(session, "grid_cells")
    center = index.town_center["code"]
    for f in fc["features"]:
        f["properties"]["station_code"] = owner.get(f["properties"]["code"]) or center
    fc["version"] = index.version
    return fc


def diff(session: Session, old: int, new: int) -> dict:
    """GET /api/v1/boundaries/versions/<old>/diff/<new>: cells and open cases that change station."""
    if old == new:
        raise InputError("version", "compare two different boundary versions", 400,
                         message_zh="请选择两个不同的边界版本进行对比")
    for v in (old, new):
        if session.get(BoundaryVersion, v) is None:
            raise NotFound("boundary version", v)
    before, after = _coverage(session, old), _coverage(session, new)
    center = session.scalar(select(Station.code).where(Station.tier == "town_center").order_by(Station.id)) or "TC"
    cells = {code: to_shape(g) for code, g in session.execute(
        select(GridCell.code, GridCell.geom).where(in_version(GridCell, new)).order_by(GridCell.code)).all()}
    cases = _moved_cases(session, before, after, center)
    names = dict(session.execute(select(Station.code, Station.name)).all())
    return {"from": old, "to": new, "cases_moved": sum(cases.values()),
            **moved_cells(cells, before, after, center, names, cases)}


def moved_cells(cells: dict[str, shapely.Geometry], before: dict[str, shapely.Geometry],
                after: dict[str, shapely.Geometry], center: str, names: dict[str, str],
                cases: Counter | None = None) -> dict:
    """The cells whose station differs between two sets of territories (lon/lat), counted per (old, new) pair
    with their area and the open cases that move (`cases`, per pair), and the moved cells as GeoJSON."""
    cases = cases or Counter()
    was, now = painting.cell_owners(cells, before), painting.cell_owners(cells, after)
    moved = [c for c in cells if (was[c] or center) != (now[c] or center)]
    pairs: Counter = Counter()
    area: Counter = Counter()
    for c in moved:
        pairs[(was[c] or center, now[c] or center)] += 1
        area[(was[c] or center, now[c] or center)] += metric_area(cells[c])
    keys = sorted(set(pairs) | set(cases))
    return {
        "cells_compared": len(cells), "cells_moved": len(moved),
        "pairs": [{"from": a, "from_name": names.get(a, a), "to": b, "to_name": names.get(b, b),
                   "cells": pairs[(a, b)], "area_km2": round(area[(a, b)] / 1e6, 3), "open_cases": cases[(a, b)]}
                  for a, b in keys],
        "moved_cells": {"type": "FeatureCollection", "features": [
            {"type": "Feature", "id": c, "geometry": shapely.geometry.mapping(cells[c]),
             "properties": {"code": c, "from": was[c] or center, "to": now[c] or center}} for c in moved]},
    }


def _moved_cases(session: Session, before: dict, after: dict, center: str) -> Counter:
    """Open cases whose point lies in another station's territory in the newer version, per pair."""
    rows = session.execute(select(func.ST_X(Case.geom), func.ST_Y(Case.geom))
                           .where(Case.state.not_in(machine.FINAL))).all()
    if not rows:
        return Counter()
    points = shapely.points(np.array([r[0] for r in rows]), np.array([r[1] for r in rows]))
    was, now = painting.owners(points, before), painting.owners(points, after)
    return Counter((a or center, b or center) for a, b in zip(was, now, strict=True) if (a or center) != (b or center))
