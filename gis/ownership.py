"""Who owns a point: the station, community, workstation territory and grid cell covering it.

An `OwnershipIndex` is built from one boundary version (plain shapely geometries in lon/lat)
and answers two ways:

- `owner_at(lon, lat)`: one point through `rtree` R-trees (bounding boxes) and prepared
  `covers` tests, for intake and map clicks;
- `owners_bulk(lons, lats)`: many points at once through shapely's vectorised STRtree,
  for re-assignment and imports.

Rules, the same on both paths:

- `covers` semantics: a point on a polygon's edge belongs to it.
- Tie-break: a point on an edge shared by several polygons of one layer belongs to the one with
  the smallest code (string order). Deterministic, and the same in PostGIS
  (`ORDER BY code LIMIT 1`).
- `near_boundary`: the point lies within `near_m` metres (EPSG:4550) of an edge between two
  territories (station coverage, community or workstation), so a dispatcher should confirm.
- Fallback (兜底): a point covered by no station coverage polygon is owned by the town center
  and flagged `fallback`; outside the town it is also flagged `inside_town: false`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import shapely
from rtree import index as rtree_index
from shapely import STRtree
from shapely.geometry.base import BaseGeometry

from gis.crs import METRIC_EPSG, STORAGE_EPSG, to_metric, transformer

NEAR_BOUNDARY_M = 30.0
SMALL_LAYER = 64  # up to this many polygons, test each polygon against all points at once


@dataclass(frozen=True)
class Area:
    """A polygon of one layer with its code and name."""

    code: str
    name: str
    geom: BaseGeometry
    parent: str | None = None


@dataclass
class Owners:
    """The answer for one point."""

    boundary_version: int
    grid_code: str | None
    workstation: dict | None
    community: dict | None
    station: dict
    near_boundary: bool
    fallback: bool
    inside_town: bool

    def as_dict(self) -> dict:
        """Plain JSON-ready dict."""
        return asdict(self)


class _Layer:
    """Polygons of one layer, sorted by code, with an R-tree and a vectorised STRtree."""

    def __init__(self, areas: list[Area]):
        self.areas = sorted(areas, key=lambda a: a.code)
        self.geoms = np.array([a.geom for a in self.areas], dtype=object)
        for g in self.geoms:
            shapely.prepare(g)
        self.rtree = rtree_index.Index(
            ((i, a.geom.bounds, None) for i, a in enumerate(self.areas)), interleaved=True
        ) if self.areas else rtree_index.Index()
        self.strtree = STRtree(self.geoms)

    def find(self, point: shapely.Point) -> Area | None:
        """Smallest-code polygon covering the point (per-point R-tree path)."""
        hits = sorted(self.rtree.intersection((point.x, point.y, point.x, point.y)))
        for i in hits:  # ids follow code order, so the first that covers wins the tie-break
            if self.geoms[i].covers(point):
                return self.areas[i]
        return None

    def find_bulk(self, points: np.ndarray) -> np.ndarray:
        """Index (into self.areas) of the smallest-code covering polygon per point, -1 if none."""
        result = np.full(len(points), -1, dtype=np.int64)
        if not self.areas:
            return result
        if len(self.areas) <= SMALL_LAYER:
            return self._find_bulk_few(points, result)
        pts, polys = self.strtree.query(points, predicate="covered_by")
        if len(pts):
            order = np.lexsort((polys, pts))  # by point, then by code order
            pts, polys = pts[order], polys[order]
            first = np.ones(len(pts), dtype=bool)
            first[1:] = pts[1:] != pts[:-1]
            result[pts[first]] = polys[first]
        return result

    def _find_bulk_few(self, points: np.ndarray, result: np.ndarray) -> np.ndarray:
        """Few large polygons: one prepared, vectorised `covers` per polygon, in code order."""
        xy = shapely.get_coordinates(points)
        for i, geom in enumerate(self.geoms):
            minx, miny, maxx, maxy = geom.bounds
            todo = np.flatnonzero(
                (result == -1) & (xy[:, 0] >= minx) & (xy[:, 0] <= maxx) & (xy[:, 1] >= miny) & (xy[:, 1] <= maxy)
            )
            hit = todo[shapely.covers(geom, points[todo])]
            result[hit] = i
        return result


@dataclass
class OwnershipIndex:
    """Everything needed to assign points under one boundary version."""

    version: int
    town: BaseGeometry
    town_center: dict
    coverage: list[Area]
    communities: list[Area]
    workstations: list[Area]
    cells: list[Area]
    near_m: float = NEAR_BOUNDARY_M
    _layers: dict = field(init=False, repr=False)

    def __post_init__(self) -> None:
        shapely.prepare(self.town)
        self._layers = {
            "coverage": _Layer(self.coverage),
            "communities": _Layer(self.communities),
            "workstations": _Layer(self.workstations),
            "cells": _Layer(self.cells),
        }
        self._edges = self._internal_edges()
        self._to_metric = transformer(STORAGE_EPSG, METRIC_EPSG)

    def _internal_edges(self) -> STRtree:
        """Edges between territories (not the town's outer edge), as short metric segments."""
        outline = to_metric(self.town.boundary).buffer(1.0)
        pieces = []
        for name in ("coverage", "communities", "workstations"):
            for area in self._layers[name].areas:
                edge = to_metric(area.geom.boundary).difference(outline)
                pieces.extend(shapely.get_parts(shapely.segmentize(edge, 50.0)) if not edge.is_empty else [])
        segments = []
        for line in pieces:
            coords = shapely.get_coordinates(line)
            segments.extend(shapely.linestrings(np.stack([coords[:-1], coords[1:]], axis=1)))
        return STRtree(np.array(segments, dtype=object))

    def owner_at(self, lon: float, lat: float) -> Owners:
        """The owners of one point."""
        point = shapely.Point(lon, lat)
        station = self._layers["coverage"].find(point)
        community = self._layers["communities"].find(point)
        workstation = self._layers["workstations"].find(point)
        cell = self._layers["cells"].find(point)
        x, y = self._to_metric.transform(lon, lat)
        near = bool(len(self._edges.query(shapely.Point(x, y), predicate="dwithin", distance=self.near_m)))
        return self._owners(station, community, workstation, cell, near, self.town.covers(point))

    def owners_bulk(self, lons: np.ndarray, lats: np.ndarray) -> dict[str, np.ndarray]:
        """Owners of many points: arrays of codes (None where nothing covers) and flags."""
        lons, lats = np.asarray(lons, dtype=float), np.asarray(lats, dtype=float)
        points = shapely.points(lons, lats)
        out: dict[str, np.ndarray] = {}
        for key, layer in (("station", "coverage"), ("community", "communities"),
                           ("workstation", "workstations"), ("grid_code", "cells")):
            idx = self._layers[layer].find_bulk(points)
            codes = np.array([a.code for a in self._layers[layer].areas] + [None], dtype=object)
            out[key] = codes[idx]  # -1 picks the trailing None
        out["fallback"] = out["station"] == None  # noqa: E711 - elementwise on an object array
        out["station"] = np.where(out["fallback"], self.town_center["code"], out["station"])
        out["inside_town"] = shapely.covers(self.town, points)
        x, y = self._to_metric.transform(lons, lats)
        near_pts, _ = self._edges.query(shapely.points(x, y), predicate="dwithin", distance=self.near_m)
        near = np.zeros(len(lons), dtype=bool)
        near[near_pts] = True
        out["near_boundary"] = near
        return out

    def _owners(self, station, community, workstation, cell, near: bool, inside: bool) -> Owners:
        fallback = station is None
        return Owners(
            boundary_version=self.version,
            grid_code=cell.code if cell else None,
            workstation={"code": workstation.code, "name": workstation.name} if workstation else None,
            community={"code": community.code, "name": community.name} if community else None,
            station=dict(self.town_center) if fallback else {"code": station.code, "name": station.name},
            near_boundary=near,
            fallback=fallback,
            inside_town=inside,
        )
