"""Who owns a point: the station, community, workstation territory and grid cell covering it.

An `OwnershipIndex` is built from one boundary version (plain shapely geometries in lon/lat)
and answers two ways:

- `owner_at(lon, lat)`: one point, for intake and map clicks;
- `owners_bulk(lons, lats)`: many points at once with numpy, for re-assignment and imports.

Both first read an answer raster (`_Raster`): a lon/lat pixel grid over the town where each
pixel stores a face of the overlay of all layers, but only what it knows for sure. A layer is
known in a pixel when no edge of that layer touches the pixel (then the whole pixel lies inside
one polygon, or outside all); `near_boundary` is known when the whole pixel is surely within, or
surely beyond, `near_m` of an internal edge. Whatever a pixel cannot answer is asked exactly:
per point through `rtree` R-trees and prepared `covers` tests (`owner_at_exact` does this for
every layer), in bulk through shapely's vectorised STRtree (`owners_bulk_exact`). So the raster
only ever speeds things up; the answers are those of the exact paths.

Rules, the same on every path:

- `covers` semantics: a point on a polygon's edge belongs to it.
- Tie-break: a point on an edge shared by several polygons of one layer belongs to the one with
  the smallest code (string order). Deterministic, and the same in PostGIS
  (`ORDER BY code LIMIT 1`).
- `near_boundary`: the point lies within `near_m` metres (EPSG:4550) of an edge between two
  territories (station coverage, community or workstation), so a dispatcher should confirm.
- Fallback (兜底): a point covered by no station coverage polygon is owned by the center of the
  town it lies in and flagged `fallback`; outside every town it goes to the first town's center
  (`town_center`) and is also flagged `inside_town: false`.

One town or several: a district's index holds its towns (`towns`, each with its center in
`town_centers`); `town` is then their union, the whole jurisdiction.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, astuple, dataclass, field
from pathlib import Path

import numpy as np
import shapely
from rtree import index as rtree_index
from shapely import STRtree
from shapely.geometry.base import BaseGeometry

from gis.crs import METRIC_EPSG, STORAGE_EPSG, to_metric, transformer

NEAR_BOUNDARY_M = 30.0
PIXEL_M = 4.0  # answer raster: a smaller pixel leaves fewer points to the exact path, but costs memory and build time
MAX_PIXELS = 20_000_000  # the pixel grows beyond PIXEL_M when the extent would need more pixels than this
SMALL_LAYER = 64  # up to this many polygons, test each polygon against all points at once
ENVELOPE_MARGIN_DEG = 0.05  # about 5 km: the raster and the edges are built over the town's box grown by this
LAYERS = ("coverage", "communities", "workstations", "cells")  # then the town, in the raster's tables
UNSURE = -2  # raster table entry: the pixel cannot answer this layer, ask the polygons
NONE = -1  # raster table entry: no polygon of the layer covers the pixel
FAR, NEAR, NEAR_UNSURE = 0, 1, 2  # raster near-boundary states
RASTER_ARRAYS = ("face", "near", "faces")  # a stored raster's files, besides grid.json
RASTER_FORMAT = 1  # part of a stored raster's key: bump when the raster's meaning or layout changes
RASTER_KEEP_S = 7 * 24 * 3600  # stored rasters not used for this long are deleted when another is written
_ASK = object()  # per-point path: this layer must be asked exactly


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


@dataclass(frozen=True)
class _Grid:
    """A lon/lat pixel grid: pixel (row, col) holds the points with floor((lon - x0) * inv_dx) == col, same for rows."""

    x0: float
    y0: float
    inv_dx: float
    inv_dy: float
    nrows: int
    ncols: int

    @classmethod
    def around(cls, bounds: tuple, margin_m: float, pixel_m: float) -> _Grid:
        """Pixels of about `pixel_m` metres over `bounds` (lon/lat) grown by `margin_m` on every side."""
        minx, miny, maxx, maxy = bounds
        mx, my = transformer(STORAGE_EPSG, METRIC_EPSG).transform([minx, maxx, minx], [miny, miny, maxy])
        width_m = max(math.hypot(mx[1] - mx[0], my[1] - my[0]), 1.0)
        height_m = max(math.hypot(mx[2] - mx[0], my[2] - my[0]), 1.0)
        deg_x, deg_y = max(maxx - minx, 1e-9) / width_m, max(maxy - miny, 1e-9) / height_m  # degrees per metre
        width_m, height_m = width_m + 2 * margin_m, height_m + 2 * margin_m
        pixel_m = max(pixel_m, math.sqrt(width_m * height_m / MAX_PIXELS))
        ncols, nrows = math.ceil(width_m / pixel_m), math.ceil(height_m / pixel_m)
        return cls(minx - margin_m * deg_x, miny - margin_m * deg_y,
                   ncols / (width_m * deg_x), nrows / (height_m * deg_y), nrows, ncols)

    def pixel_xy(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Lon/lat -> continuous pixel coordinates (col, row)."""
        return (x - self.x0) * self.inv_dx, (y - self.y0) * self.inv_dy

    def lonlat(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Continuous pixel coordinates -> lon/lat."""
        return self.x0 + u / self.inv_dx, self.y0 + v / self.inv_dy


def _segments(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every ring edge of the polygons as rows (x_a, y_a, x_b, y_b), and the index of its polygon."""
    parts, part_of = shapely.get_parts(geoms, return_index=True)
    rings, ring_of = shapely.get_rings(parts, return_index=True)
    coords, coord_of = shapely.get_coordinates(rings, return_index=True)
    same = coord_of[1:] == coord_of[:-1]
    return np.hstack([coords[:-1][same], coords[1:][same]]), part_of[ring_of[coord_of[:-1][same]]]


def _ranges(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For counts (n_i): the owner i and the step 0..n_i-1 of every one of sum(n_i) items."""
    owner = np.repeat(np.arange(len(counts)), counts)
    return owner, np.arange(len(owner)) - np.repeat(np.cumsum(counts) - counts, counts)


def _spans(grid: _Grid, u: np.ndarray, v: np.ndarray, owner: np.ndarray) -> tuple[np.ndarray, ...]:
    """Even-odd scanline spans at pixel centres: (row, first col, end col, polygon), sorted by row."""
    lo = np.clip(np.ceil(np.minimum(v[:, 0], v[:, 1]) - 0.5), 0, grid.nrows).astype(np.int64)
    hi = np.clip(np.ceil(np.maximum(v[:, 0], v[:, 1]) - 0.5), 0, grid.nrows).astype(np.int64)
    seg, step = _ranges(hi - lo)  # rows whose centre v = row + 0.5 has min(v) <= v < max(v): half-open, so
    row = lo[seg] + step  # a vertex on a row centre is counted once where the ring passes it, twice or never at a tip
    ua, va = u[seg, 0], v[seg, 0]
    cross = ua + (row + 0.5 - va) * (u[seg, 1] - ua) / (v[seg, 1] - va)
    poly = owner[seg]
    order = np.lexsort((cross, poly, row))
    start, end = order[0::2], order[1::2]  # every (row, polygon) has an even number of crossings
    c0 = np.clip(np.ceil(cross[start] - 0.5), 0, grid.ncols).astype(np.int64)
    c1 = np.clip(np.ceil(cross[end] - 0.5), 0, grid.ncols).astype(np.int64)
    return row[start], c0, c1, poly[start].astype(np.int32)


def _fill(ncols: int, nrows: int, row: np.ndarray, c0: np.ndarray, c1: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Paint spans (rows counted from 0): polygon index, NONE, or UNSURE where polygons overlap."""
    width = ncols + 1
    count = np.zeros(nrows * width, dtype=np.int32)
    value = np.zeros(nrows * width, dtype=np.int32)
    at0, at1 = row * width + c0, row * width + c1
    np.add.at(count, at0, 1)
    np.add.at(count, at1, -1)
    np.add.at(value, at0, poly + 1)
    np.add.at(value, at1, -poly - 1)
    depth, ids = count.reshape(nrows, width), value.reshape(nrows, width)
    np.cumsum(depth, axis=1, out=depth)
    np.cumsum(ids, axis=1, out=ids)
    ids -= 1  # polygon index where depth == 1, NONE where depth == 0
    ids[depth > 1] = UNSURE  # overlapping polygons: leave the tie-break to the exact path
    return ids[:, :-1]


def _mark_edges(grid: _Grid, u: np.ndarray, v: np.ndarray, unsure: np.ndarray, chunk: int = 250_000) -> None:
    """Mark every pixel an edge touches: the edges are cut into pieces at most half a pixel long,
    and every pixel the (slightly grown) bounding box of a piece touches is marked; a chunk of edges at a time."""
    du, dv = u[:, 1] - u[:, 0], v[:, 1] - v[:, 0]
    pieces = np.maximum(1, np.ceil(2 * np.maximum(np.abs(du), np.abs(dv)))).astype(np.int64)
    cuts = np.searchsorted(np.cumsum(pieces), np.arange(chunk, pieces.sum(), chunk))
    for part in np.split(np.arange(len(pieces)), np.unique(cuts)):
        seg, step = _ranges(pieces[part])
        seg = part[seg]
        t0, t1 = step / pieces[seg], (step + 1) / pieces[seg]
        ua, ub = u[seg, 0] + t0 * du[seg], u[seg, 0] + t1 * du[seg]
        va, vb = v[seg, 0] + t0 * dv[seg], v[seg, 0] + t1 * dv[seg]
        eps = 1e-3  # pixels: covers rounding here and in the lookup
        c0, c1 = np.floor(np.minimum(ua, ub) - eps), np.floor(np.maximum(ua, ub) + eps)
        r0, r1 = np.floor(np.minimum(va, vb) - eps), np.floor(np.maximum(va, vb) + eps)
        for dc in (0, 1):
            for dr in (0, 1):
                c, r = c0 + dc, r0 + dr
                keep = (c <= c1) & (r <= r1) & (c >= 0) & (c < grid.ncols) & (r >= 0) & (r < grid.nrows)
                unsure[r[keep].astype(np.int64), c[keep].astype(np.int64)] = True


def _add_layer(grid: _Grid, geoms: np.ndarray, key: np.ndarray, band: int = 256) -> None:
    """Add to every pixel's key this layer's answer - UNSURE: the index of the one polygon whose interior
    holds the whole pixel, NONE, or UNSURE; a band of rows at a time, to keep memory low."""
    if not len(geoms):
        key -= UNSURE - NONE
        return
    xy, owner = _segments(geoms)
    u, v = grid.pixel_xy(xy[:, [0, 2]], xy[:, [1, 3]])
    unsure = np.zeros(key.shape, dtype=bool)
    _mark_edges(grid, u, v, unsure)
    for geom in geoms[~shapely.is_valid(geoms)]:  # even-odd need not match GEOS on invalid polygons
        bounds = np.array(geom.bounds)
        (c0, c1), (r0, r1) = (np.floor(a).astype(int) for a in grid.pixel_xy(bounds[0::2], bounds[1::2]))
        unsure[max(r0 - 1, 0):max(r1 + 2, 0), max(c0 - 1, 0):max(c1 + 2, 0)] = True
    row, c0, c1, poly = _spans(grid, u, v, owner)
    for r0 in range(0, grid.nrows, band):
        r1 = min(r0 + band, grid.nrows)
        i0, i1 = np.searchsorted(row, [r0, r1])
        ids = _fill(grid.ncols, r1 - r0, row[i0:i1] - r0, c0[i0:i1], c1[i0:i1], poly[i0:i1])
        ids[unsure[r0:r1]] = UNSURE
        key[r0:r1] += ids
        key[r0:r1] -= UNSURE


def _pixel_radius(grid: _Grid) -> float:
    """Metres from a pixel's centre to its farthest corner in EPSG:4550, bounded over the whole grid.

    The map is near affine at pixel scale; its smooth variation over the grid is sampled on a lattice
    and the spread between lattice points is added as a margin.
    """
    metric = transformer(STORAGE_EPSG, METRIC_EPSG)
    lattice_u, lattice_v = np.meshgrid(np.linspace(0, grid.ncols, 17), np.linspace(0, grid.nrows, 17))
    u, v = lattice_u.ravel(), lattice_v.ravel()
    x, y = metric.transform(*grid.lonlat(np.concatenate([u, u + 1, u]), np.concatenate([v, v, v + 1])))
    x, y = x.reshape(3, -1), y.reshape(3, -1)
    ax, ay, bx, by = x[1] - x[0], y[1] - y[0], x[2] - x[0], y[2] - y[0]
    half = np.maximum(np.hypot(ax + bx, ay + by), np.hypot(ax - bx, ay - by)) / 2
    return float(half.max() * (1 + (half.max() - half.min()) / half.min() + 1e-3))


def _paint(near: np.ndarray, rows: np.ndarray, cols: np.ndarray, size: int, state: np.ndarray) -> None:
    """Write the state of settled blocks of `size` pixels into the raster."""
    if size >= 8:  # few large blocks: slices
        for r, c, s in zip((rows * size).tolist(), (cols * size).tolist(), state.tolist(), strict=True):
            near[r : r + size, c : c + size] = s
        return
    for dr in range(size):  # many small blocks: one fancy assignment per offset
        for dc in range(size):
            r, c = rows * size + dr, cols * size + dc
            keep = (r < near.shape[0]) & (c < near.shape[1])
            near[r[keep], c[keep]] = state[keep]


def _near_raster(grid: _Grid, edges: STRtree, near_m: float) -> np.ndarray:
    """Per pixel: FAR or NEAR when every point of it surely is, else NEAR_UNSURE.

    A quadtree of pixel blocks: the exact distance from a block's centre (EPSG:4550) to the nearest
    internal edge, give or take the block's radius, settles the block or splits it in four.
    """
    if not len(edges.geometries):
        return np.full((grid.nrows, grid.ncols), FAR, dtype=np.uint8)
    near = np.full((grid.nrows, grid.ncols), NEAR_UNSURE, dtype=np.uint8)
    metric = transformer(STORAGE_EPSG, METRIC_EPSG)
    pixel_radius = _pixel_radius(grid)
    size = 64
    block_rows, block_cols = np.meshgrid(np.arange(-(-grid.nrows // size)), np.arange(-(-grid.ncols // size)),
                                         indexing="ij")
    rows, cols = block_rows.ravel(), block_cols.ravel()
    while len(rows):
        r0, c0 = rows * size, cols * size
        r1, c1 = np.minimum(r0 + size, grid.nrows), np.minimum(c0 + size, grid.ncols)
        x, y = metric.transform(*grid.lonlat((c0 + c1) / 2, (r0 + r1) / 2))
        radius = size * pixel_radius + 1e-3  # 1 mm: GEOS and floating-point rounding
        found, dist = edges.query_nearest(shapely.points(x, y), max_distance=near_m + radius, return_distance=True,
                                          all_matches=False)  # beyond max_distance: surely far, and found faster
        d = np.full(len(rows), np.inf)
        d[found[0]] = dist
        state = np.full(len(rows), NEAR_UNSURE, dtype=np.uint8)
        state[d - radius > near_m] = FAR
        state[d + radius <= near_m] = NEAR
        settled = state != NEAR_UNSURE
        _paint(near, rows[settled], cols[settled], size, state[settled])
        if size == 1:
            break
        size //= 2
        rows = (2 * rows[~settled])[:, None] + np.array([0, 0, 1, 1])
        cols = (2 * cols[~settled])[:, None] + np.array([0, 1, 0, 1])
        inside = (rows * size < grid.nrows) & (cols * size < grid.ncols)
        rows, cols = rows[inside], cols[inside]
    return near


class _Raster:
    """Precomputed answers per pixel: a face of the overlay of all layers, and the near-boundary state."""

    def __init__(self, grid: _Grid, face: np.ndarray, near: np.ndarray, faces: np.ndarray):
        self.grid, self.face, self.near, self.faces = grid, face, near, faces

    @classmethod
    def build(cls, grid: _Grid, layers: list[np.ndarray], edges: STRtree, near_m: float) -> _Raster:
        """Compute the raster from the layers' polygons (the town last) and the internal edges."""
        with ThreadPoolExecutor(1) as pool:  # the near raster (mostly GEOS, no GIL) beside the layers (numpy)
            pending = pool.submit(_near_raster, grid, edges, near_m)
            key = cls._face_keys(grid, layers, radix := [len(geoms) + 2 for geoms in layers])
            near = pending.result().ravel()
        # Neighbouring pixels mostly share a face: number the runs, not the pixels.
        starts = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]]))
        run_keys = np.concatenate([[0], key[starts]])  # key 0 (all UNSURE) becomes face 0
        del key
        unique, inverse = np.unique(run_keys, return_inverse=True)
        dtype = np.uint16 if len(unique) <= np.iinfo(np.uint16).max else np.int32
        face = np.repeat(inverse[1:].astype(dtype), np.diff(np.append(starts, grid.nrows * grid.ncols)))
        faces = np.empty((len(unique), len(layers)), dtype=np.int32)
        for i in range(len(layers) - 1, -1, -1):  # decode the mixed-radix keys, last layer first
            faces[:, i] = unique % radix[i] + UNSURE
            unique //= radix[i]
        return cls(grid, face, near, faces)

    def save(self, folder: Path) -> None:
        """Write the raster into `folder` (made here) as plain .npy files that `load` maps read-only."""
        folder.mkdir(parents=True)
        for name in RASTER_ARRAYS:
            np.save(folder / f"{name}.npy", getattr(self, name), allow_pickle=False)
        (folder / "grid.json").write_text(json.dumps(astuple(self.grid)))

    @classmethod
    def load(cls, folder: Path) -> _Raster:
        """A stored raster, memory-mapped: every process that maps the same files shares one copy of the pages."""
        grid = _Grid(*json.loads((folder / "grid.json").read_text()))
        arrays = [np.load(folder / f"{name}.npy", mmap_mode="r", allow_pickle=False) for name in RASTER_ARRAYS]
        return cls(grid, *arrays)

    @staticmethod
    def _face_keys(grid: _Grid, layers: list[np.ndarray], radix: list[int]) -> np.ndarray:
        """Per pixel (flat): the layers' answers as digits (answer - UNSURE) of one mixed-radix number."""
        dtype = np.int32 if math.prod(radix) <= np.iinfo(np.int32).max else np.int64
        key = np.zeros((grid.nrows, grid.ncols), dtype=dtype)
        for geoms, base in zip(layers, radix, strict=True):
            key *= base
            _add_layer(grid, geoms, key)
        return key.ravel()

    @property
    def nbytes(self) -> int:
        """Memory held by the raster."""
        return self.face.nbytes + self.near.nbytes + self.faces.nbytes

    def locate(self, lons: np.ndarray, lats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Face and near state of every point; face 0 (all UNSURE) and NEAR_UNSURE off the grid."""
        g = self.grid
        u, v = g.pixel_xy(lons, lats)
        on = (u >= 0) & (u < g.ncols) & (v >= 0) & (v < g.nrows)  # False for NaN too
        if on.all():
            at = v.astype(np.int64) * g.ncols + u.astype(np.int64)  # truncation is floor here: u, v >= 0
            return self.face[at], self.near[at]
        face, near = np.zeros(len(u), dtype=self.face.dtype), np.full(len(u), NEAR_UNSURE, dtype=np.uint8)
        at = v[on].astype(np.int64) * g.ncols + u[on].astype(np.int64)
        face[on], near[on] = self.face[at], self.near[at]
        return face, near

    def locate_one(self, lon: float, lat: float) -> tuple[int, int]:
        """Face and near state of one point."""
        g = self.grid
        u, v = (lon - g.x0) * g.inv_dx, (lat - g.y0) * g.inv_dy
        if 0 <= u < g.ncols and 0 <= v < g.nrows:
            at = int(v) * g.ncols + int(u)
            return int(self.face[at]), int(self.near[at])
        return 0, NEAR_UNSURE


@dataclass
class OwnershipIndex:
    """Everything needed to assign points under one boundary version."""

    version: int
    town: BaseGeometry  # the jurisdiction: the town, or a district's towns together
    town_center: dict  # the fallback station of a point outside every town
    coverage: list[Area]
    communities: list[Area]
    workstations: list[Area]
    cells: list[Area]
    towns: list[Area] = field(default_factory=list)  # several towns (none given: `town` is the one town)
    town_centers: dict[str, dict] = field(default_factory=dict)  # town code -> its center (default: town_center)
    near_m: float = NEAR_BOUNDARY_M
    pixel_m: float | None = PIXEL_M  # None: no answer raster, every point takes the exact path
    raster_store: str | None = None  # a folder shared by the processes of one host: the raster is built once, mapped
    _layers: dict = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._check_finite()
        shapely.prepare(self.town)
        self._towns = _Layer(self.towns or [Area("town", "town", self.town)])
        self._center_codes = np.array([self.town_centers.get(a.code, self.town_center)["code"]
                                       for a in self._towns.areas] + [self.town_center["code"]], dtype=object)
        minx, miny, maxx, maxy = self.town.bounds
        m = ENVELOPE_MARGIN_DEG
        self._envelope = (minx - m, miny - m, maxx + m, maxy + m)
        self._layers = {
            "coverage": _Layer(self.coverage),
            "communities": _Layer(self.communities),
            "workstations": _Layer(self.workstations),
            "cells": _Layer(self.cells),
        }
        self._lookup = [*(self._layers[n] for n in LAYERS), self._towns]  # a face row's layers, the town's last
        self._edges = self._internal_edges()
        self._to_metric = transformer(STORAGE_EPSG, METRIC_EPSG)
        self._codes = [np.array([a.code for a in self._layers[n].areas] + [None], dtype=object) for n in LAYERS]
        self._raster = self._build_raster(self.pixel_m) if self.pixel_m else None
        # Per face: what is known of each layer (areas index, NONE or UNSURE) and of the town (0 inside).
        self._faces = self._raster.faces if self._raster else np.full((1, len(LAYERS) + 1), UNSURE, dtype=np.int32)
        self._face_areas = [self._known(row) for row in self._faces.tolist()]

    def _check_finite(self) -> None:
        """Refuse a version whose geometries hold NaN or infinite coordinates (nothing could be built from it)."""
        for name, areas in (("town", [Area("town", "town", self.town)]), ("coverage", self.coverage),
                            ("communities", self.communities), ("workstations", self.workstations),
                            ("cells", self.cells)):
            coords = shapely.get_coordinates(np.array([a.geom for a in areas], dtype=object))
            if not np.isfinite(coords).all():
                bad = next(a.code for a in areas if not np.isfinite(shapely.get_coordinates(a.geom)).all())
                raise ValueError(f"boundary version {self.version}: {name} {bad} has coordinates that are not finite")

    def _within_envelope(self, geoms: np.ndarray) -> np.ndarray:
        """The geometries cut to the town's envelope where they reach beyond it (a territory drawn over the whole
        world costs no more than one drawn over the town); the others untouched."""
        if not len(geoms):
            return geoms
        bounds = shapely.bounds(geoms)
        x0, y0, x1, y1 = self._envelope
        beyond = (bounds[:, 0] < x0) | (bounds[:, 1] < y0) | (bounds[:, 2] > x1) | (bounds[:, 3] > y1)
        if not beyond.any():
            return geoms
        out = geoms.copy()
        clipped = shapely.clip_by_rect(geoms[beyond], x0, y0, x1, y1)
        # nothing left (a territory wholly outside): an empty polygon, whose boundary is empty (a collection's is None)
        out[beyond] = [shapely.Polygon() if g.is_empty else g for g in clipped]
        return out

    def _internal_edges(self) -> STRtree:
        """Edges between territories (not the town's outer edge), as short metric segments."""
        outline = to_metric(self.town.boundary).buffer(1.0)
        pieces: list[shapely.Geometry] = []
        for name in ("coverage", "communities", "workstations"):
            layer = self._layers[name]
            for geom in self._within_envelope(layer.geoms):
                edge = to_metric(geom.boundary).difference(outline)
                pieces.extend(shapely.get_parts(shapely.segmentize(edge, 50.0)) if not edge.is_empty else [])
        segments = []
        for line in pieces:
            coords = shapely.get_coordinates(line)
            segments.extend(shapely.linestrings(np.stack([coords[:-1], coords[1:]], axis=1)))
        return STRtree(np.array(segments, dtype=object))

    def _build_raster(self, pixel_m: float) -> _Raster:
        """The answer raster at about `pixel_m` metres a pixel: from the store when a process of this host already
        built it for the same polygons, else computed (and stored when there is a store)."""
        layers = [self._within_envelope(self._layers[n].geoms) for n in LAYERS] + [self._towns.geoms]
        if self.raster_store is None:
            return self._compute_raster(layers, pixel_m)
        store = Path(self.raster_store)
        key = self._raster_key(layers, pixel_m)
        folder = store / f"raster-{key}"
        with _store_lock(store, key):  # workers starting together: one builds, the others wait and map its files
            if folder.is_dir():
                try:
                    raster = _Raster.load(folder)
                    os.utime(folder)
                    return raster
                except (OSError, ValueError):  # written whole by a rename, so damaged since: replaced below
                    shutil.rmtree(folder, ignore_errors=True)
            raster = self._compute_raster(layers, pixel_m)
            _store_raster(raster, store, folder)
        try:
            return _Raster.load(folder)
        except (OSError, ValueError):
            return raster

    def _compute_raster(self, layers: list[np.ndarray], pixel_m: float) -> _Raster:
        bounds = shapely.total_bounds(np.concatenate(layers))
        grid = _Grid.around(tuple(bounds), self.near_m + 2 * pixel_m, pixel_m)
        return _Raster.build(grid, layers, self._edges, self.near_m)

    def _raster_key(self, layers: list[np.ndarray], pixel_m: float) -> str:
        """A digest of everything the raster depends on: the polygons in code order, the sizes, the format."""
        digest = hashlib.sha256(json.dumps([RASTER_FORMAT, pixel_m, self.near_m, MAX_PIXELS]).encode())
        for geoms in layers:
            digest.update(len(geoms).to_bytes(8, "little"))
            for wkb in shapely.to_wkb(geoms, hex=False, output_dimension=2):
                digest.update(len(wkb).to_bytes(8, "little"))
                digest.update(wkb)
        return digest.hexdigest()[:32]

    def _known(self, row: list[int]) -> tuple:
        """A face's table row as areas (None, or _ASK for UNSURE), the town's last."""
        return tuple(_ASK if i == UNSURE else None if i == NONE else layer.areas[i]
                     for layer, i in zip(self._lookup, row, strict=True))

    @property
    def raster_bytes(self) -> int:
        """Memory held by the answer raster (0 without one)."""
        return self._raster.nbytes if self._raster else 0

    def exact_share(self, lons: np.ndarray, lats: np.ndarray) -> dict[str, float]:
        """Share of the points the raster leaves to the exact path: for a layer or the town, for near_boundary."""
        if self._raster is None:
            return {"layers": 1.0, "near": 1.0}
        face, near = self._raster.locate(np.asarray(lons, dtype=float), np.asarray(lats, dtype=float))
        return {"layers": float((self._faces[face] == UNSURE).any(axis=1).mean()),
                "near": float((near == NEAR_UNSURE).mean())}

    def owner_at(self, lon: float, lat: float) -> Owners:
        """The owners of one point: the raster's answer, the polygons where it has none."""
        face, near = self._raster.locate_one(lon, lat) if self._raster else (0, NEAR_UNSURE)
        return self._owner(lon, lat, face, near)

    def center_at(self, lon: float, lat: float) -> dict:
        """The center station of the town a point lies in (the first town's outside every town)."""
        town = self._towns.find(shapely.Point(lon, lat))
        return dict(self.town_centers.get(town.code, self.town_center) if town else self.town_center)

    def owner_at_exact(self, lon: float, lat: float) -> Owners:
        """The owners of one point through the R-trees and prepared `covers` alone (no raster)."""
        return self._owner(lon, lat, 0, NEAR_UNSURE)

    def _owner(self, lon: float, lat: float, face: int, near: int) -> Owners:
        known = self._face_areas[face]
        point = shapely.Point(lon, lat) if _ASK in known else None
        *found, town = [layer.find(point) if area is _ASK else area
                        for layer, area in zip(self._lookup, known, strict=True)]
        if near == NEAR_UNSURE:
            x, y = self._to_metric.transform(lon, lat)
            near = len(self._edges.query(shapely.Point(x, y), predicate="dwithin", distance=self.near_m))
        station, community, workstation, cell = found  # in LAYERS order
        return self._owners(station, community, workstation, cell, bool(near), town)

    def owners_bulk(self, lons: np.ndarray, lats: np.ndarray) -> dict[str, np.ndarray]:
        """Owners of many points: arrays of codes (None where nothing covers) and flags."""
        lons, lats = np.asarray(lons, dtype=float), np.asarray(lats, dtype=float)
        if self._raster is None:
            return self.owners_bulk_exact(lons, lats)
        return self._bulk(lons, lats, *self._raster.locate(lons, lats))

    def owners_bulk_exact(self, lons: np.ndarray, lats: np.ndarray) -> dict[str, np.ndarray]:
        """`owners_bulk` through the vectorised STRtrees alone (no raster)."""
        lons, lats = np.asarray(lons, dtype=float), np.asarray(lats, dtype=float)
        return self._bulk(lons, lats, np.zeros(len(lons), dtype=np.int64), np.full(len(lons), NEAR_UNSURE))

    def _bulk(self, lons: np.ndarray, lats: np.ndarray, face: np.ndarray, near: np.ndarray) -> dict[str, np.ndarray]:
        known = self._faces[face]  # (points, layers + town)
        ask = known == UNSURE
        need = ask.any(axis=1)
        points = np.empty(len(lons), dtype=object)
        points[need] = shapely.points(lons[need], lats[need])
        out: dict[str, np.ndarray] = {}
        for col, (key, name) in enumerate(zip(("station", "community", "workstation", "grid_code"), LAYERS,
                                              strict=True)):
            idx = known[:, col]
            todo = np.flatnonzero(ask[:, col])
            if len(todo):
                idx[todo] = self._layers[name].find_bulk(points[todo])
            out[key] = self._codes[col][idx]  # NONE (-1) picks the trailing None
        town = known[:, -1]
        todo = np.flatnonzero(ask[:, -1])
        if len(todo):
            town[todo] = self._towns.find_bulk(points[todo])
        out["fallback"] = out["station"] == None  # noqa: E711 - elementwise on an object array
        out["station"] = np.where(out["fallback"], self._center_codes[town], out["station"])  # -1: the default
        out["inside_town"] = town >= 0
        flag = near == NEAR
        todo = np.flatnonzero(near == NEAR_UNSURE)
        if len(todo):
            x, y = self._to_metric.transform(lons[todo], lats[todo])
            hit, _ = self._edges.query(shapely.points(x, y), predicate="dwithin", distance=self.near_m)
            flag[todo[hit]] = True
        out["near_boundary"] = flag
        return out

    def _owners(self, station: Area | None, community: Area | None, workstation: Area | None, cell: Area | None,
                near: bool, town: Area | None) -> Owners:
        """The answer from each layer's area (None where nothing covers, the town's center for the station)."""
        center = self.town_centers.get(town.code, self.town_center) if town else self.town_center
        return Owners(
            boundary_version=self.version,
            grid_code=cell.code if cell else None,
            workstation={"code": workstation.code, "name": workstation.name} if workstation else None,
            community={"code": community.code, "name": community.name} if community else None,
            station=dict(center) if station is None else {"code": station.code, "name": station.name},
            near_boundary=near,
            fallback=station is None,
            inside_town=town is not None,
        )


@contextmanager
def _store_lock(store: Path, key: str) -> Iterator[None]:
    """An exclusive lock on one raster of the store, held while it is looked up or built (none if the store
    cannot be written: every process then builds its own)."""
    try:
        store.mkdir(parents=True, exist_ok=True)
        handle = open(store / f".lock-{key}", "a")  # closed below, after the lock is released
    except OSError:
        yield
        return
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        handle.close()  # releases the lock


def _store_raster(raster: _Raster, store: Path, folder: Path) -> None:
    """Write the raster under `folder` atomically (a temporary folder renamed), then delete rasters unused for a week.

    A store that cannot be written (read-only, full) only costs the sharing: the caller keeps its own copy."""
    try:
        store.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".raster-", dir=store))
        try:
            raster.save(staging / "r")
            os.replace(staging / "r", folder)  # another process may have stored the same raster meanwhile: fine
        except OSError:
            if not folder.is_dir():
                raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        _prune(store, keep=folder)
    except OSError:
        return


def _prune(store: Path, keep: Path) -> None:
    """Delete stored rasters not used for RASTER_KEEP_S (a process still mapping one keeps its pages)."""
    cutoff = time.time() - RASTER_KEEP_S
    for old in store.glob("raster-*"):
        if old != keep and old.stat().st_mtime < cutoff:
            shutil.rmtree(old, ignore_errors=True)
            (store / f".lock-{old.name.removeprefix('raster-')}").unlink(missing_ok=True)
