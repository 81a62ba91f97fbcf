"""Hot spots of the cases: counts per grid cell for a period and category filter, Getis-Ord Gi* with
FDR, emerging hot spots over weeks, as GeoJSON for the map.

The grid cells of the current boundary version (centroids, polygons, owning station, spatial
weights) are kept per process and rebuilt when the version changes, like the ownership index.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import shapely
from geoalchemy2.shape import to_shape
from libpysal.weights import W
from shapely.geometry import mapping
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app import cache, params
from app.accounts.models import User
from app.cases import scope
from app.cases.models import Case
from app.cases.worktime import BEIJING
from app.errors import InputError
from app.params import BBox
from app.territory.boundaries import in_version
from app.territory.caches import NoBoundaries, loaded_version
from app.territory.models import GridCell, StationCoverage
from gis import spatial_stats as gh
from gis.crs import to_metric
from layers import features as lf

DEFAULT_DAYS = 90
DEFAULT_DISTANCE_M = 200.0
DEFAULT_PERMUTATIONS = 999
MAX_PERMUTATIONS = 9999
SEED = 20260101
GI_RESULTS = 32  # Gi* answers kept per cell set (by the digest of their counts)
INVALID_STATES = ("not_filed", "void")  # rejected or voided reports are not problems on the ground
_CATEGORY = re.compile(r"^\d{2}(\d{3})?$")


@dataclass
class CellSet:
    """The grid cells of one boundary version, in a fixed order."""

    version: int
    codes: list[str]
    xy: np.ndarray  # EPSG:4550 centroids
    lonlat: np.ndarray  # EPSG:4326 representative points
    polygons: list
    workstation: list[str]
    station: list[str | None]  # the station whose coverage holds the cell
    index: dict[str, int] = field(default_factory=dict)
    community: list[str] = field(default_factory=list)
    _weights: dict = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _results: OrderedDict = field(default_factory=OrderedDict)

    def weights(self, distance_m: float) -> W:
        """Binary distance-band weights between cell centroids (cached per distance)."""
        key = round(float(distance_m), 1)
        with self._lock:
            if key not in self._weights:
                self._weights[key] = gh.distance_weights(self.xy, key)
            return self._weights[key]

    def gi_star(self, y: np.ndarray, distance_m: float, permutations: int) -> gh.GiStar:
        """Gi* of these counts. The answer depends on nothing else (the seed is fixed), so the last
        GI_RESULTS answers are kept by a digest of the counts: the pages of one analysis, and every
        request until a case is filed or moves, cost one computation."""
        key = (round(float(distance_m), 1), permutations, hashlib.blake2b(y.tobytes(), digest_size=16).digest())
        with self._lock:
            if key in self._results:
                self._results.move_to_end(key)
                return self._results[key]
        found = gh.gi_star(y, self.weights(distance_m), permutations=permutations, seed=SEED)
        with self._lock:
            self._results[key] = found
            while len(self._results) > GI_RESULTS:
                self._results.popitem(last=False)
        return found

    def feature(self, i: int, props: dict) -> dict:
        """A GeoJSON Feature of cell i with figures of an analysis."""
        cell = {"code": self.codes[i], "workstation_code": self.workstation[i], "community_code": self.community[i],
                "station_code": self.station[i]}
        return lf.cell_figures(cell, mapping(self.polygons[i]), props)

    def in_bbox(self, bbox: tuple[float, float, float, float] | None) -> np.ndarray:
        """Mask of cells whose polygon meets a lon/lat box (all when None)."""
        if bbox is None:
            return np.ones(len(self.codes), dtype=bool)
        return shapely.intersects(np.array(self.polygons, dtype=object), shapely.box(*bbox))


def _build(session: Session, version: int, _settings: Mapping[str, Any]) -> CellSet:
    """The grid cells of one boundary version, their centroids, owning stations."""
    rows = session.execute(
        select(GridCell.code, GridCell.workstation_code, GridCell.community_code, GridCell.geom)
        .where(in_version(GridCell, version))
        .order_by(GridCell.code)
    ).all()
    if not rows:
        raise NoBoundaries("the current boundary version has no grid cells")
    polygons = [to_shape(r.geom) for r in rows]
    points = shapely.point_on_surface(polygons)
    lonlat = shapely.get_coordinates(points)
    xy = shapely.get_coordinates(to_metric(shapely.centroid(np.array(polygons, dtype=object))))
    coverage = session.execute(
        select(StationCoverage.station_code, StationCoverage.geom).where(StationCoverage.version_id == version)
        .order_by(StationCoverage.station_code)
    ).all()
    station: list[str | None] = [None] * len(rows)
    if coverage:
        tree = shapely.STRtree([to_shape(c.geom) for c in coverage])
        pi, ci = tree.query(points, predicate="covered_by")
        for p, c in zip(pi, ci, strict=True):
            if station[p] is None:
                station[p] = coverage[c].station_code
    codes = [r.code for r in rows]
    return CellSet(version, codes, xy, lonlat, polygons, [r.workstation_code for r in rows], station,
                   {c: i for i, c in enumerate(codes)}, [r.community_code for r in rows])


CELLS = cache.Cached("hotspot_cells", loaded_version, _build)


def cell_set(session: Session) -> CellSet:
    """The cells of the current boundary version (built once per version and process)."""
    return cache.get(CELLS, session)


# --- parameters ----------------------------------------------------------------------------------

def period(raw_from: str | None, raw_to: str | None, today: date | None = None,
           default_days: int = DEFAULT_DAYS) -> tuple[date, date]:
    """[from, to) in Beijing dates; default the `default_days` days up to and including today."""
    today = today or datetime.now(BEIJING).date()
    end = params.day("to", raw_to) if raw_to else today + timedelta(days=1)
    start = params.day("from", raw_from) if raw_from else end - timedelta(days=default_days)
    return params.check_period(start, end)


def categories(raw: str | None) -> list[str]:
    """Category filter: comma-separated 5-digit codes or 2-digit major groups."""
    if not raw:
        return []
    items = [c.strip() for c in raw.split(",") if c.strip()]
    bad = [c for c in items if not _CATEGORY.match(c)]
    if bad:
        raise InputError("category", f"category must be 5-digit codes or 2-digit groups, got {bad[0]!r}")
    return items


# --- counts ----------------------------------------------------------------------------------------

def _start(d: date) -> datetime:
    return datetime.combine(d, datetime.min.time(), BEIJING)


def _filters(prefixes: list[str]):
    where = [Case.state.not_in(INVALID_STATES), Case.grid_code.is_not(None)]
    if prefixes:
        where.append(or_(*(Case.category_code.startswith(p) for p in prefixes)))
    return where


def counts(session: Session, cells: CellSet, start: date, end: date, prefixes: list[str]) -> np.ndarray:
    """Cases first reported in [start, end) per cell (cells order)."""
    rows = session.execute(
        select(Case.grid_code, func.count()).where(
            Case.first_reported_at >= _start(start), Case.first_reported_at < _start(end), *_filters(prefixes)
        ).group_by(Case.grid_code)
    ).all()
    out = np.zeros(len(cells.codes))
    for code, n in rows:
        i = cells.index.get(code)
        if i is not None:
            out[i] = n
    return out


def weekly_counts(session: Session, cells: CellSet, end: date, weeks: int, prefixes: list[str]) -> np.ndarray:
    """(cells x weeks) counts of the `weeks` 7-day periods ending the day before `end`, oldest first."""
    t_end = _start(end)
    t_start = t_end - timedelta(days=7 * weeks)
    week = func.floor(func.extract("epoch", t_end - Case.first_reported_at) / (7 * 86400)).label("w")
    rows = session.execute(
        select(Case.grid_code, week, func.count()).where(
            Case.first_reported_at >= t_start, Case.first_reported_at < t_end, *_filters(prefixes)
        ).group_by(Case.grid_code, week)
    ).all()
    out = np.zeros((len(cells.codes), weeks))
    for code, w, n in rows:
        i = cells.index.get(code)
        if i is not None and 0 <= int(w) < weeks:
            out[i, weeks - 1 - int(w)] = n
    return out


# --- analyses --------------------------------------------------------------------------------------

def hotspots(session: Session, start: date, end: date, prefixes: list[str], distance_m: float = DEFAULT_DISTANCE_M,
             permutations: int = DEFAULT_PERMUTATIONS) -> tuple[CellSet, np.ndarray, gh.GiStar]:
    """Counts and Gi* over all cells of the current version."""
    cells = cell_set(session)
    y = counts(session, cells, start, end, prefixes)
    return cells, y, cells.gi_star(y, distance_m, permutations)


def clustered(cells: CellSet, y: np.ndarray, g: gh.GiStar, distance_m: float = DEFAULT_DISTANCE_M,
              least: int = 3) -> list[bool]:
    """The 99 per cent hot cells whose neighbourhood (the cell and its neighbours) holds at least `least` cases:
    on a sparse month, one lone case makes its empty neighbours "significant", which a printed map must not show."""
    local = cells.weights(distance_m).sparse @ y + y
    return [str(c) == "hot_99" and n >= least for c, n in zip(g.classes, local, strict=True)]


def hotspots_geojson(session: Session, start: date, end: date, prefixes: list[str], distance_m: float,
                     permutations: int, box: BBox | None =None, everything: bool = False) -> dict:
    """GET /api/v1/hotspots: the cells (with cases or significant; all with `everything`) as GeoJSON."""
    cells, y, g = hotspots(session, start, end, prefixes, distance_m, permutations)
    keep = cells.in_bbox(box) & (everything | (y > 0) | (g.bins != 0))
    classes = g.classes
    features = [cells.feature(i, {"count": int(y[i]), "z": round(float(g.z[i]), 3), "p": round(float(g.p[i]), 4),
                                  "q": round(float(g.q[i]), 4), "bin": int(g.bins[i]), "class": classes[i]})
                for i in np.flatnonzero(keep)]
    summary = {c: int(n) for c, n in zip(*np.unique(classes, return_counts=True), strict=True)}
    return {"type": "FeatureCollection", "features": features, "numberReturned": len(features),
            "analysis": {"method": "Getis-Ord Gi*", "from": start.isoformat(), "to": end.isoformat(),
                         "category": prefixes, "weights": "distance band, binary", "distance_m": distance_m,
                         "permutations": permutations, "fdr": "Benjamini-Hochberg", "cells": len(cells.codes),
                         "cases": int(y.sum()), "classes": summary, "boundary_version": cells.version}}


OGC_PERMUTATIONS = 199  # fewer than the API's 999: a collection page is read often


def window_counts(session: Session, user: User | None, start: datetime, end: datetime, bbox: tuple | None = None,
                  limit: int | None = None, offset: int = 0, cell: str | None = None) -> tuple[list[dict], int]:
    """Current grid cells with the count of the cases the user may see first reported in [start, end]
    (closed), busiest first, with the Gi* z, p and class of the cell over all cases of the window; cells
    without cases are left out. A page of them and how many there are."""
    cells = cell_set(session)
    where = [Case.first_reported_at >= start, Case.first_reported_at <= end, Case.grid_code.is_not(None),
             scope.visible_to(user)]
    if cell is not None:
        where.append(Case.grid_code == cell)
    rows = session.execute(select(Case.grid_code, func.count()).where(*where).group_by(Case.grid_code)).all()
    inside = cells.in_bbox(bbox)
    counted = sorted(((n, code) for code, n in rows if code in cells.index and inside[cells.index[code]]),
                     key=lambda t: (-t[0], t[1]))
    chosen = counted[offset:None if limit is None else offset + limit]
    if not chosen:
        return [], len(counted)
    # the Gi* runs over whole days of the town's calendar (Beijing), so take the dates there: a UTC date is
    # the day before for the first eight hours of every Beijing day
    first, last = start.astimezone(BEIJING).date(), end.astimezone(BEIJING).date()
    _, _, g = hotspots(session, first, last + timedelta(days=1), [], DEFAULT_DISTANCE_M,
                       OGC_PERMUTATIONS)
    out = []
    for n, code in chosen:
        i = cells.index[code]
        out.append(cells.feature(i, {"cases": n, "from": start.isoformat(), "to": end.isoformat(),
                                     "z": round(float(g.z[i]), 3), "p": round(float(g.p[i]), 4),
                                     "class": g.classes[i]}))
    return out, len(counted)


def emerging(session: Session, end: date, weeks: int, prefixes: list[str],
             distance_m: float = DEFAULT_DISTANCE_M) -> tuple[CellSet, np.ndarray, gh.Emerging]:
    """Weekly counts and the emerging hot spot analysis."""
    cells = cell_set(session)
    y = weekly_counts(session, cells, end, weeks, prefixes)
    return cells, y, gh.emerging(y, cells.weights(distance_m))


def emerging_geojson(session: Session, end: date, weeks: int, prefixes: list[str], distance_m: float,
                     box: BBox | None =None, everything: bool = False) -> dict:
    """GET /api/v1/hotspots/emerging: cells with a pattern (all with `everything`) as GeoJSON."""
    cells, y, e = emerging(session, end, weeks, prefixes, distance_m)
    patterns = np.array(e.patterns)
    keep = cells.in_bbox(box) & (everything | (patterns != "none"))
    features = [cells.feature(i, {"pattern": e.patterns[i], "trend_z": round(float(e.trend_z[i]), 3),
                                  "trend_p": round(float(e.trend_p[i]), 4), "counts": [int(v) for v in y[i]],
                                  "bins": [int(b) for b in e.bins[i]], "z_last": round(float(e.z[i, -1]), 3),
                                  "count": int(y[i].sum())})
                for i in np.flatnonzero(keep)]
    summary = {c: int(n) for c, n in zip(*np.unique(patterns, return_counts=True), strict=True)}
    first = end - timedelta(days=7 * weeks)
    return {"type": "FeatureCollection", "features": features, "numberReturned": len(features),
            "analysis": {"method": "emerging hot spots: Gi* per week, Mann-Kendall trend", "from": first.isoformat(),
                         "to": end.isoformat(), "weeks": weeks, "category": prefixes, "distance_m": distance_m,
                         "patterns": summary, "cells": len(cells.codes), "boundary_version": cells.version}}
