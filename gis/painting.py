"""Territories painted by unit grid cells, and which station holds each cell.

A planner gives cells to stations (`{cell code: station code}`); each station's territory becomes its
territory without the painted cells, plus the cells painted to it. The set operations run in EPSG:4550
on carving's grid (gis.carving.GRID_M); the result goes through gis.carving.carve like a drawn territory,
which snaps it and merges the slivers where a cell's edge and a territory's edge differ by centimetres.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import shapely
from shapely import STRtree

from gis.carving import GRID_M
from gis.crs import to_metric, to_storage

TOUCH_M2 = 1.0  # a territory losing less than this to the painted cells is not changed by them


def paint(territories: Mapping[str, shapely.Geometry], cells: Mapping[str, shapely.Geometry],
          assignment: Mapping[str, str]) -> dict[str, shapely.Geometry]:
    """The new territories (lon/lat) of the stations the painting changes: those that gain a cell and those
    that lose one; a station that loses all it had maps to an empty polygon. `cells` are lon/lat polygons by
    code, `assignment` maps cell codes (all in `cells`) to station codes."""
    if not assignment:
        return {}
    painted = {code: to_metric(cells[code]) for code in assignment}
    taken = shapely.union_all(list(painted.values()), grid_size=GRID_M)
    gained: dict[str, list[shapely.Geometry]] = {}
    for code, station in assignment.items():
        gained.setdefault(station, []).append(painted[code])
    shapely.prepare(taken)
    out: dict[str, shapely.Geometry] = {}
    for station, geom in territories.items():
        g = shapely.set_precision(to_metric(shapely.force_2d(geom)), GRID_M)
        if station not in gained and not shapely.intersects(taken, g):
            continue
        rest = shapely.difference(g, taken, grid_size=GRID_M)
        if station in gained or g.area - rest.area > TOUCH_M2:  # cells that only touch it leave it as it is
            out[station] = rest
    for station, parts in gained.items():
        rest = out.get(station, shapely.Polygon())
        out[station] = shapely.union_all([rest, *parts], grid_size=GRID_M)
    return {c: to_storage(_polygonal(g)) for c, g in out.items()}


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """Only the polygons of a set operation's result (lines and points where edges touch are dropped)."""
    parts = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon" and not p.is_empty]
    if not parts:
        return shapely.Polygon()
    return parts[0] if len(parts) == 1 else shapely.MultiPolygon(parts)


def owners(points: np.ndarray, territories: Mapping[str, shapely.Geometry]) -> list[str | None]:
    """For each lon/lat point, the code of the territory covering it (the first in the mapping's order when
    two do), or None."""
    codes = list(territories)
    result: list[str | None] = [None] * len(points)
    if not codes or not len(points):
        return result
    tree = STRtree([territories[c] for c in codes])
    at, hit = tree.query(points, predicate="covered_by")
    for i, j in sorted(zip(at.tolist(), hit.tolist(), strict=True), reverse=True):  # the lowest j wins
        result[i] = codes[j]
    return result


def cell_owners(cells: Mapping[str, shapely.Geometry],
                territories: Mapping[str, shapely.Geometry]) -> dict[str, str | None]:
    """The station holding each cell: the territory covering a point inside the cell (cells follow territory
    edges, so one point decides), or None (the town center's fallback)."""
    codes = list(cells)
    points = shapely.point_on_surface(np.array([cells[c] for c in codes], dtype=object)) if codes else np.array([])
    return dict(zip(codes, owners(points, territories), strict=True))
