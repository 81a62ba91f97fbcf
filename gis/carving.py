"""Carving a planner's drawn territories into the station tiling, and the checks that guard it.

Two steps, in this order:

1. `check_proposal_geometry` runs on every drawn geometry before any other geometry work: type,
   structure, finiteness, lon/lat plausibility, the town's envelope, vertex and area limits, then
   validity. It walks plain numbers, so a whole-world or 10-million-vertex polygon is refused in
   microseconds instead of taking the intake down.
2. `carve` gives the drawn territories precedence over the current tiling, in EPSG:4550 on a 1 cm
   grid (`GRID_M`): every boundary (town, current territories, drawn ones) is snap-rounded into one
   noded set of lines, the lines are polygonized into faces, each face inside the town is given to
   one station (drawn first, then current), slivers are merged (a sliver gap a redraw left goes
   back to the station that had it, any other sliver to the neighbour with the longest shared
   edge), and each station's faces are dissolved. Neighbours therefore share identical vertices
   along every shared edge; reprojection to lon/lat moves each vertex the same way in every
   territory that has it, so no overlap or gap appears in storage, or when it is read back.

Problems carry the field (or station code), a stable code and a message in Chinese and English.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import shapely
from shapely import STRtree
from shapely.geometry import MultiPolygon, Point

from gis.crs import to_metric, to_storage
from gis.validation import CELL_EDGE_TOLERANCE_M, GAP_TOLERANCE_M2, OVERLAP_TOLERANCE_M2, Feature, as_multipolygon

# The 1 cm grid: far below the accuracy of any drawn or surveyed boundary (decimetres), far above
# float noise at EPSG:4550 magnitudes (~1e-9 m) and the lon/lat round trip (~1e-9 m), so snapping
# a stored territory again gives the same coordinates: carving is exactly reproducible.
GRID_M = 0.01
# A sliver is a separate piece (or a gap) in which no disc of SLIVER_WIDTH_M fits, or smaller than
# the gap the validator ignores (GAP_TOLERANCE_M2, 100 m²). 5 m is the accuracy of an edge drawn by
# hand on a web map at street zoom (a few pixels of about 1 m) and narrower than any street a patrol
# would own on its own: such pieces are drawing artefacts, merged rather than refused or left as gaps.
# Wider pieces are real: a neighbour cut in two is refused, a wide gap is reported.
SLIVER_WIDTH_M = 5.0
SLIVER_AREA_M2 = GAP_TOLERANCE_M2
ENVELOPE_MARGIN_M = 2000.0
MAX_VERTICES = 5000
POLYGONAL = ("Polygon", "MultiPolygon")
# Beyond this, a number is not a plausible projected coordinate either (EPSG:4550 y is ~3.4e6).
_METRES_MAX = 1e8
_M_PER_DEG_LAT = 111_320.0

Severity = Literal["error", "warning"]
Label = str | tuple[str, ...] | None  # a station, several (an overlap), or none (a gap)


@dataclass(frozen=True)
class Problem:
    """What is wrong, where: `field` is the input field (or the station code when carving).

    Codes of the sanity checks: not_geometry, not_polygon, malformed, empty, ring_too_short,
    too_many_vertices, not_finite, projected_metres, out_of_range, swapped_lon_lat,
    outside_envelope, too_large, invalid. Of carving: no_territory, multipart, overlap (errors);
    gap, clipped_to_town, multipart when allowed (warnings). Of station points:
    station_outside_territory.
    """

    field: str
    code: str
    message_en: str
    message_zh: str
    severity: Severity = "error"
    # Where it is (lon/lat), for drawing on the map: the overlap, gap or piece, or the station's point.
    geometry: shapely.Geometry | None = dataclasses.field(default=None, compare=False)
    area_m2: float | None = dataclasses.field(default=None, compare=False)

    def __str__(self) -> str:
        return f"{self.field}: {self.message_en} / {self.message_zh}"


@dataclass(frozen=True)
class Limits:
    """Where a drawn territory may lie (lon/lat envelope) and how big it may be."""

    lon_min: float
    lat_min: float
    lon_max: float
    lat_max: float
    max_area_m2: float
    margin_m: float = ENVELOPE_MARGIN_M
    max_vertices: int = MAX_VERTICES

    def covers(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """True where a point lies inside the envelope."""
        return (lon >= self.lon_min) & (lon <= self.lon_max) & (lat >= self.lat_min) & (lat <= self.lat_max)


@dataclass
class Carved:
    """The carved tiling in lon/lat, areas before/after in m², and the problems found.

    When an error refuses the proposal, `territories` is still the best carving (for a preview),
    without overlaps; it is empty only when a drawn geometry failed the sanity checks.
    """

    territories: dict[str, MultiPolygon]
    area_before_m2: dict[str, float]
    area_after_m2: dict[str, float]
    problems: list[Problem] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no problem is an error (warnings do not refuse a proposal)."""
        return not any(p.severity == "error" for p in self.problems)

    def features(self) -> list[Feature]:
        """The territories as station_coverage features, sorted by station code."""
        return [Feature(c, g, {"station_code": c}) for c, g in sorted(self.territories.items())]


def proposal_limits(
    town: shapely.Geometry, margin_m: float = ENVELOPE_MARGIN_M, max_vertices: int = MAX_VERTICES
) -> Limits:
    """The town's lon/lat bounds grown by `margin_m`, and the area of the town grown by it."""
    town_m = to_metric(town)
    x0, y0, x1, y1 = town_m.bounds
    grown = shapely.box(x0 - margin_m, y0 - margin_m, x1 + margin_m, y1 + margin_m)
    lon0, lat0, lon1, lat1 = to_storage(shapely.segmentize(grown, margin_m)).bounds
    area = float(town_m.buffer(margin_m, quad_segs=4).area)
    return Limits(lon0, lat0, lon1, lat1, area, margin_m, max_vertices)


# --- 1. Sanity checks on a drawn geometry --------------------------------------------------------


def check_proposal_geometry(geom: Mapping[str, Any] | shapely.Geometry | None, field: str,
                            limits: Limits) -> list[Problem]:
    """Problems of a drawn territory (GeoJSON mapping or shapely geometry), cheapest checks first."""
    if isinstance(geom, shapely.Geometry):
        coords, problems = _shapely_coordinates(geom, field, limits)
    else:
        coords, problems = _geojson_coordinates(geom, field, limits)
    if problems or coords is None:
        return problems
    problems = _number_problems(coords, field, limits)
    if problems:
        return problems
    if isinstance(geom, shapely.Geometry):
        return _shape_problems(geom, field, limits)
    try:
        shaped = shapely.geometry.shape(geom)
    except (ValueError, TypeError, shapely.errors.ShapelyError) as exc:
        return [_malformed(field, "geometry", str(exc), str(exc))]
    return _shape_problems(shaped, field, limits)


def _problem(field: str, code: str, en: str, zh: str, severity: Severity = "error",
             where: shapely.Geometry | None = None) -> Problem:
    """A problem; `where` is in EPSG:4550 (stored in lon/lat with its area in m²)."""
    if where is None or where.is_empty:
        return Problem(field, code, en, zh, severity)
    area = float(where.area) if where.geom_type in POLYGONAL else None
    return Problem(field, code, en, zh, severity, to_storage(where), area)


def _shapely_coordinates(geom: shapely.Geometry, field: str,
                         limits: Limits) -> tuple[np.ndarray | None, list[Problem]]:
    """The x/y array of a shapely geometry, or the problem with its type, emptiness or size."""
    kind = geom.geom_type
    if kind not in POLYGONAL:
        return None, [_not_polygon(field, kind)]
    if geom.is_empty:
        return None, [_empty(field)]
    count = int(shapely.get_num_coordinates(geom))
    if count > limits.max_vertices:
        return None, [_too_many(field, limits.max_vertices)]
    return shapely.get_coordinates(geom), []


def _geojson_coordinates(geom: object, field: str, limits: Limits) -> tuple[np.ndarray | None, list[Problem]]:
    """The x/y array of a GeoJSON Polygon/MultiPolygon, walked with a vertex budget."""
    if not isinstance(geom, Mapping) or not isinstance(geom.get("type"), str):
        return None, [_problem(field, "not_geometry", "not a GeoJSON geometry object", "不是 GeoJSON 几何对象")]
    kind = geom["type"]
    if kind not in POLYGONAL:
        return None, [_not_polygon(field, kind)]
    polygons = [geom.get("coordinates")] if kind == "Polygon" else geom.get("coordinates")
    if not isinstance(polygons, list | tuple):
        return None, [_malformed(field, kind, "coordinates must be a list", "coordinates 必须是数组")]
    if len(polygons) * 4 > limits.max_vertices:  # every polygon needs a ring of 4 positions at least
        return None, [_too_many(field, limits.max_vertices)]
    positions: list[Sequence[Any]] = []
    for p, rings in enumerate(polygons):
        problem = _walk_polygon(rings, p, positions, field, kind, limits)
        if problem:
            return None, [problem]
    if not positions:
        return None, [_empty(field)]
    return _position_array(positions, field, kind)


def _walk_polygon(rings: object, p: int, positions: list[Sequence[Any]], field: str, kind: str,
                  limits: Limits) -> Problem | None:
    """Append one polygon's positions; the first structural problem, if any."""
    if not isinstance(rings, list | tuple):
        return _malformed(field, kind, f"polygon {p + 1} must be a list of rings", f"第 {p + 1} 个多边形必须是环的数组")
    for r, ring in enumerate(rings):
        if not isinstance(ring, list | tuple) or (ring and not isinstance(ring[0], list | tuple)):
            return _malformed(field, kind, f"ring {r + 1} of polygon {p + 1} must be a list of positions",
                              f"第 {p + 1} 个多边形的第 {r + 1} 个环必须是坐标点的数组")
        if len(positions) + len(ring) > limits.max_vertices:
            return _too_many(field, limits.max_vertices)
        if len(ring) < 4:
            return _problem(
                field, "ring_too_short",
                f"ring {r + 1} of polygon {p + 1} has {len(ring)} positions; a ring needs at least 4 "
                "(the first repeated at the end)",
                f"第 {p + 1} 个多边形的第 {r + 1} 个环只有 {len(ring)} 个点，至少需要 4 个（首尾相同）",
            )
        positions.extend(ring)
    return None


def _position_array(positions: list[Sequence[Any]], field: str, kind: str) -> tuple[np.ndarray | None, list[Problem]]:
    """Positions [lon, lat(, z)] of plain numbers -> an (n, 2) float array."""
    for pos in positions:
        if not isinstance(pos, list | tuple) or len(pos) not in (2, 3) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in pos
        ):
            return None, [_malformed(field, kind, f"position {_short(pos)} is not [lon, lat] numbers",
                                     f"坐标点 {_short(pos)} 不是 [经度, 纬度] 数字")]
    try:
        return np.array([(pos[0], pos[1]) for pos in positions], dtype=float), []
    except OverflowError:  # an integer beyond the range of a float
        return None, [_problem(field, "not_finite", "a coordinate is too large to be a number (beyond a float)",
                               "坐标数值过大，超出浮点数范围")]


def _number_problems(coords: np.ndarray, field: str, limits: Limits) -> list[Problem]:
    """Finite, degrees rather than metres, in range, not swapped, inside the town's envelope."""
    finite = np.isfinite(coords)
    if not finite.all():
        return [_not_finite(field, str(float(coords[~finite][0])))]
    lon, lat = coords[:, 0], coords[:, 1]
    big = np.abs(coords).max()
    if big > _METRES_MAX:
        return [_problem(field, "out_of_range", f"coordinate {big:.6g} is not a longitude or latitude in degrees",
                         f"坐标 {big:.6g} 不是以度为单位的经纬度")]
    if big > 360:
        x, y = coords[int(np.abs(coords).max(axis=1).argmax())]
        return [_problem(
            field, "projected_metres",
            f"coordinates such as {x:.0f}, {y:.0f} look like projected metres, not WGS84 lon/lat degrees: "
            "send lon/lat (EPSG:4326)",
            f"坐标（如 {x:.0f}, {y:.0f}）像是投影坐标（米），不是 WGS84 经纬度（度）：请提交经纬度（EPSG:4326）",
        )]
    if limits.covers(lon, lat).all():
        return []
    if limits.covers(lat, lon).all():
        return [_problem(field, "swapped_lon_lat",
                         "longitude and latitude look swapped: GeoJSON positions are [lon, lat]",
                         "经纬度顺序可能颠倒：GeoJSON 坐标顺序为 [经度, 纬度]")]
    return _range_problems(lon, lat, field) or _envelope_problems(lon, lat, field, limits)


def _range_problems(lon: np.ndarray, lat: np.ndarray, field: str) -> list[Problem]:
    """Latitude within -90..90, longitude within -180..180."""
    problems = []
    if (np.abs(lat) > 90).any():
        bad = float(lat[np.abs(lat) > 90][0])
        problems.append(_problem(field, "out_of_range", f"latitude {bad:g} is outside -90..90",
                                 f"纬度 {bad:g} 超出 -90 到 90 的范围"))
    if (np.abs(lon) > 180).any():
        bad = float(lon[np.abs(lon) > 180][0])
        problems.append(_problem(field, "out_of_range", f"longitude {bad:g} is outside -180..180",
                                 f"经度 {bad:g} 超出 -180 到 180 的范围"))
    return problems


def _envelope_problems(lon: np.ndarray, lat: np.ndarray, field: str, limits: Limits) -> list[Problem]:
    """The first vertex outside the town's bounds plus the margin, and how far out it is."""
    inside = limits.covers(lon, lat)
    margin_km = limits.margin_m / 1000
    x, y = float(lon[~inside][0]), float(lat[~inside][0])
    km = _km_outside(x, y, limits)
    far_en = f"about {km:,.1f} km" if km < 1000 else "more than 1,000 km"
    far_zh = f"约 {km:,.1f} 公里" if km < 1000 else "超过 1,000 公里"
    return [_problem(
        field, "outside_envelope",
        f"vertex lon {x:.6f}, lat {y:.6f} lies {far_en} beyond the town's bounds plus {margin_km:g} km",
        f"顶点（经度 {x:.6f}，纬度 {y:.6f}）在镇域范围外扩 {margin_km:g} 公里之外{far_zh}",
    )]


def _km_outside(lon: float, lat: float, limits: Limits) -> float:
    """Rough distance in km from a point to the envelope (an equirectangular estimate for the message)."""
    dx = max(limits.lon_min - lon, 0.0, lon - limits.lon_max)
    dy = max(limits.lat_min - lat, 0.0, lat - limits.lat_max)
    mid = math.radians((limits.lat_min + limits.lat_max) / 2)
    return math.hypot(dx * math.cos(mid), dy) * _M_PER_DEG_LAT / 1000


def _shape_problems(geom: shapely.Geometry, field: str, limits: Limits) -> list[Problem]:
    """Area within the limit, then validity: only run once the coordinates are known to be sane."""
    area = float(to_metric(geom).area)
    if area > limits.max_area_m2:
        return [_problem(
            field, "too_large",
            f"area {area / 1e6:,.1f} km² is larger than the town plus its margin ({limits.max_area_m2 / 1e6:,.1f} km²)",
            f"面积 {area / 1e6:,.1f} 平方公里，超过镇域加外扩范围（{limits.max_area_m2 / 1e6:,.1f} 平方公里）",
        )]
    if not geom.is_valid:
        reason = shapely.is_valid_reason(geom)
        return [_problem(field, "invalid", f"invalid polygon ({reason})", f"多边形无效（{reason}）")]
    return []


def _not_polygon(field: str, kind: object) -> Problem:
    return _problem(field, "not_polygon", f"a territory must be a Polygon or MultiPolygon, not {_short(kind)}",
                    f"辖区必须是面（Polygon 或 MultiPolygon），而不是 {_short(kind)}")


def _empty(field: str) -> Problem:
    return _problem(field, "empty", "the territory is empty", "辖区图形为空")


def _too_many(field: str, limit: int) -> Problem:
    return _problem(field, "too_many_vertices", f"more than {limit:,} vertices: simplify the drawing",
                    f"顶点超过 {limit:,} 个：请简化图形")


def _not_finite(field: str, value: str) -> Problem:
    return _problem(field, "not_finite", f"coordinate {value} is not a finite number (NaN or infinity)",
                    f"坐标 {value} 不是有限数（NaN 或无穷大）")


def _malformed(field: str, kind: str, detail_en: str, detail_zh: str) -> Problem:
    return _problem(field, "malformed", f"not a well-formed {kind}: {detail_en}", f"{kind} 结构不正确：{detail_zh}")


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# --- 2. Carving ----------------------------------------------------------------------------------


@dataclass
class _Tiling:
    """Faces of the noded linework inside the town (EPSG:4550), their labels and shared edge lengths."""

    faces: np.ndarray
    labels: list[Label]
    fallback: list[str | None]  # for a face no one owns: the redrawn station that had it before
    shared: dict[tuple[int, int], float]
    neighbours: dict[int, list[int]]
    areas: list[float] = dataclasses.field(default_factory=list)
    unions: dict[tuple[int, ...], shapely.Geometry] = dataclasses.field(default_factory=dict)
    slivers: dict[tuple[int, ...], bool] = dataclasses.field(default_factory=dict)


def carve(
    territories: Mapping[str, shapely.Geometry],
    drawn: Mapping[str, shapely.Geometry],
    town: shapely.Geometry,
    *,
    allow_multipart: bool | Collection[str] = False,
    limits: Limits | None = None,
) -> Carved:
    """Carve the `drawn` territories (lon/lat, precedence over `territories`) into the tiling, clipped to the town."""
    limits = limits or proposal_limits(town)
    problems = [p for c, g in drawn.items() for p in check_proposal_geometry(g, c, limits)]
    before = {c: float(to_metric(g).area) for c, g in territories.items()}
    before |= {c: 0.0 for c in drawn if c not in before}
    if problems:
        return Carved({}, before, {}, problems)
    town_m = _on_grid(town)
    kept = {c: g for c, g in territories.items() if c not in drawn}
    drawn_m = {c: _on_grid(g) for c, g in drawn.items()}
    kept_m = {c: _on_grid(g) for c, g in kept.items()}
    redrawn_m = {c: _on_grid(territories[c]) for c in drawn if c in territories}
    tiling = _tiling(town_m, drawn_m, kept_m, redrawn_m)
    problems += _resolve(tiling)
    result = _dissolve(tiling)
    codes = [*kept, *(c for c in drawn if c not in kept)]
    parts_before = {c: _count_parts(g) for c, g in (kept_m | drawn_m).items()}
    problems += _station_problems(codes, result, parts_before, allow_multipart)
    problems += _clip_warnings(drawn_m, town_m)
    after = {c: float(result[c].area) if c in result else 0.0 for c in codes}
    stored = {c: as_multipolygon(to_storage(g)) for c, g in result.items()}
    return Carved(stored, before, after, problems)


def _on_grid(geom: shapely.Geometry) -> shapely.Geometry:
    """Lon/lat -> EPSG:4550, 2D, snapped to the GRID_M grid (the one place precision is set)."""
    return shapely.set_precision(to_metric(shapely.force_2d(geom)), GRID_M)


def _tiling(town_m: shapely.Geometry, drawn_m: Mapping[str, shapely.Geometry],
            kept_m: Mapping[str, shapely.Geometry], redrawn_m: Mapping[str, shapely.Geometry]) -> _Tiling:
    """Snap-round every boundary into one noded set of lines, polygonize, label the faces in the town."""
    lines = shapely.boundary([town_m, *drawn_m.values(), *kept_m.values(), *redrawn_m.values()])
    noded = shapely.union_all(lines, grid_size=GRID_M)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    points = shapely.point_on_surface(faces)
    shapely.prepare(town_m)
    inside = shapely.contains(town_m, points)
    faces, points = faces[inside], points[inside]
    labels = _labels(points, drawn_m, kept_m)
    fallback = [None if label is not None else next(iter(owners), None)
                for label, owners in zip(labels, _hits(points, redrawn_m), strict=True)]
    shared = _shared_edges(faces)
    neighbours: dict[int, list[int]] = {i: [] for i in range(len(faces))}
    for i, j in shared:
        neighbours[i].append(j)
        neighbours[j].append(i)
    return _Tiling(faces, labels, fallback, shared, neighbours, [float(a) for a in shapely.area(faces)])


def _labels(points: np.ndarray, drawn_m: Mapping[str, shapely.Geometry],
            kept_m: Mapping[str, shapely.Geometry]) -> list[Label]:
    """Each face's owner: the drawn territories covering it, else the current ones, else none."""
    labels: list[Label] = []
    for first, second in zip(_hits(points, drawn_m), _hits(points, kept_m), strict=True):
        owners = first or second
        labels.append(None if not owners else owners[0] if len(owners) == 1 else tuple(owners))
    return labels


def _hits(points: np.ndarray, polygons: Mapping[str, shapely.Geometry]) -> list[list[str]]:
    """For each point, the codes of the polygons that cover it, in the mapping's order."""
    out: list[list[str]] = [[] for _ in range(len(points))]
    for code, geom in polygons.items():
        shapely.prepare(geom)
        for k in np.flatnonzero(shapely.covers(geom, points)):
            out[k].append(code)
    return out


def _shared_edges(faces: np.ndarray) -> dict[tuple[int, int], float]:
    """Length of the edge each pair of adjacent faces shares (faces touching at a point are not adjacent)."""
    if len(faces) < 2:
        return {}
    left, right = STRtree(faces).query(faces, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    lengths = shapely.length(shapely.intersection(shapely.boundary(faces[left]), shapely.boundary(faces[right])))
    return {(int(i), int(j)): float(n) for i, j, n in zip(left, right, lengths, strict=True) if n > 0}


def _pieces(tiling: _Tiling) -> list[list[int]]:
    """Connected groups of faces with the same label, in a stable order."""
    seen: set[int] = set()
    pieces = []
    for start in range(len(tiling.faces)):
        if start in seen:
            continue
        group, stack = [], [start]
        seen.add(start)
        while stack:
            i = stack.pop()
            group.append(i)
            for j in tiling.neighbours[i]:
                if j not in seen and tiling.labels[j] == tiling.labels[start]:
                    seen.add(j)
                    stack.append(j)
        pieces.append(sorted(group))
    return pieces


def _is_sliver(geom: shapely.Geometry) -> bool:
    """Smaller than SLIVER_AREA_M2, or no disc of SLIVER_WIDTH_M fits inside."""
    if geom.area < SLIVER_AREA_M2:
        return True
    # A piece thinner than w everywhere has area / perimeter below w / 2 (less a little at corners):
    # only such pieces need the negative buffer, which is what decides.
    if geom.area / geom.length >= SLIVER_WIDTH_M:
        return False
    return bool(geom.buffer(-SLIVER_WIDTH_M / 2, quad_segs=2).is_empty)


def _resolve(tiling: _Tiling) -> list[Problem]:
    """Merge slivers into neighbours, settle overlaps, report what cannot be settled; relabels in place."""
    while _merge_slivers(tiling):
        pass
    problems: list[Problem] = []
    for piece in _pieces(tiling):
        label = tiling.labels[piece[0]]
        if isinstance(label, tuple):
            if not _sliver(tiling, piece):
                problems.append(_overlap(label, _union(tiling, piece)))
            for i in piece:
                tiling.labels[i] = label[0]
        elif label is None and not _sliver(tiling, piece):
            problems.append(_gap(_union(tiling, piece)))
    return problems


def _merge_slivers(tiling: _Tiling) -> bool:
    """One round, smallest sliver first: each goes to a non-sliver neighbour; True if any moved.

    A sliver whose neighbours are all slivers waits for a later round, when they have merged.
    """
    pieces = _pieces(tiling)
    owner = {i: n for n, p in enumerate(pieces) for i in p}
    slivers = [n for n, p in enumerate(pieces) if _sliver(tiling, p)]
    slivers.sort(key=lambda n: (sum(tiling.areas[i] for i in pieces[n]), pieces[n]))
    moved = False
    for n in slivers:
        target = _returned(tiling, pieces[n]) or _longest_border(tiling, pieces, owner, n)
        if target is not None:
            for i in pieces[n]:
                tiling.labels[i] = target
            moved = True
    return moved


def _returned(tiling: _Tiling, piece: list[int]) -> str | None:
    """A sliver gap a redraw left behind goes back to the station that had it, when they touch."""
    if any(tiling.labels[i] is not None for i in piece):
        return None
    code = tiling.fallback[max(piece, key=lambda i: tiling.areas[i])]
    touches = any(tiling.labels[j] == code for i in piece for j in tiling.neighbours[i])
    return code if code is not None and touches else None


def _longest_border(tiling: _Tiling, pieces: list[list[int]], owner: Mapping[int, int], n: int) -> str | None:
    """The station of the non-sliver piece sharing the longest edge with piece `n` (ties: lowest code)."""
    border: dict[int, float] = {}
    for i in pieces[n]:
        for j in tiling.neighbours[i]:
            m = owner[j]
            if m != n and isinstance(tiling.labels[j], str) and not _sliver(tiling, pieces[m]):
                border[m] = border.get(m, 0.0) + tiling.shared[(min(i, j), max(i, j))]
    if not border:
        return None
    best = min(border, key=lambda m: (-border[m], str(tiling.labels[pieces[m][0]])))
    return str(tiling.labels[pieces[best][0]])


def _union(tiling: _Tiling, piece: Sequence[int]) -> shapely.Geometry:
    """The faces of `piece` dissolved; exact, as they come from one noded set of lines."""
    key = tuple(piece)
    if key not in tiling.unions:
        tiling.unions[key] = shapely.coverage_union_all(tiling.faces[list(piece)])
    return tiling.unions[key]


def _sliver(tiling: _Tiling, piece: Sequence[int]) -> bool:
    """Whether a piece is a sliver (cached: the same faces give the same answer)."""
    key = tuple(piece)
    if key not in tiling.slivers:
        tiling.slivers[key] = _is_sliver(_union(tiling, piece))
    return tiling.slivers[key]


def _dissolve(tiling: _Tiling) -> dict[str, shapely.Geometry]:
    """Each station's faces dissolved into one (multi)polygon in EPSG:4550."""
    by_station: dict[str, list[int]] = {}
    for i, label in enumerate(tiling.labels):
        if isinstance(label, str):
            by_station.setdefault(label, []).append(i)
    return {c: as_multipolygon(_union(tiling, idx)) for c, idx in by_station.items()}


def _count_parts(geom: shapely.Geometry) -> int:
    return int(shapely.get_num_geometries(geom)) if not geom.is_empty else 0


def _station_problems(codes: Sequence[str], result: Mapping[str, shapely.Geometry],
                      parts_before: Mapping[str, int], allow_multipart: bool | Collection[str]) -> list[Problem]:
    """Stations left without territory, and stations split into more pieces than they had."""
    problems = []
    for code in codes:
        geom = result.get(code)
        if geom is None:
            problems.append(_problem(code, "no_territory", f"station {code} is left without territory",
                                     f"站点 {code} 将没有辖区"))
            continue
        n = _count_parts(geom)
        if n > max(parts_before.get(code, 1), 1):
            allowed = allow_multipart is True or (
                not isinstance(allow_multipart, bool) and code in allow_multipart)
            problems.append(_split(code, geom, allowed))
    return problems


def split_problem(code: str, geom: shapely.Geometry, allowed: bool) -> Problem:
    """A territory (EPSG:4550) in more pieces than it had: an error naming the station, a warning if allowed."""
    return _split(code, geom, allowed)


def _split(code: str, geom: shapely.Geometry, allowed: bool) -> Problem:
    areas = sorted((g.area for g in geom.geoms), reverse=True)
    n = len(areas)
    sizes = ", ".join(f"{a:,.0f}" for a in areas[:5]) + (", ..." if n > 5 else "")
    small = shapely.MultiPolygon(sorted(geom.geoms, key=lambda g: g.area)[:-1])  # all but the largest piece
    if allowed:
        return _problem(code, "multipart", f"station {code} keeps a territory of {n} pieces ({sizes} m²), as allowed",
                        f"站点 {code} 的辖区为 {n} 块（{sizes} 平方米），已允许", "warning", small)
    return _problem(
        code, "multipart",
        f"station {code} would be split into {n} pieces ({sizes} m²): redraw, or allow a multi-part territory",
        f"站点 {code} 的辖区将被分割成 {n} 块（{sizes} 平方米）：请重新绘制，或允许多块辖区", "error", small,
    )


def _overlap(codes: tuple[str, ...], geom: shapely.Geometry) -> Problem:
    names = " and ".join(codes)
    at = to_storage(geom.representative_point())
    return _problem(
        codes[-1], "overlap",
        f"territories {names} overlap by {geom.area:,.0f} m² near lon {at.x:.5f}, lat {at.y:.5f}: "
        f"say which one takes it (given to {codes[0]} for the preview)",
        f"辖区 {'、'.join(codes)} 在经度 {at.x:.5f}、纬度 {at.y:.5f} 附近重叠 {geom.area:,.0f} 平方米："
        f"请明确归属（预览中暂归 {codes[0]}）", "error", geom,
    )


def _gap(geom: shapely.Geometry) -> Problem:
    at = to_storage(geom.representative_point())
    return _problem(
        "coverage", "gap",
        f"{geom.area:,.0f} m² near lon {at.x:.5f}, lat {at.y:.5f} belongs to no station (the town center covers it)",
        f"经度 {at.x:.5f}、纬度 {at.y:.5f} 附近 {geom.area:,.0f} 平方米不属于任何站点（由镇城运分中心兜底）",
        "warning", geom,
    )


def _clip_warnings(drawn_m: Mapping[str, shapely.Geometry], town_m: shapely.Geometry) -> list[Problem]:
    """Drawn territories that reach beyond the town by more than the gap tolerance."""
    problems = []
    for code, geom in drawn_m.items():
        cut = geom.difference(town_m)
        outside = float(cut.area)
        if outside > GAP_TOLERANCE_M2:
            problems.append(_problem(
                code, "clipped_to_town",
                f"{outside:,.0f} m² of the territory drawn for {code} lies outside the town and was cut off",
                f"{code} 绘制的辖区有 {outside:,.0f} 平方米在镇域外，已裁去", "warning", cut,
            ))
    return problems


# --- 3. Station points ---------------------------------------------------------------------------


def station_point_problems(stations: Mapping[str, Point], territories: Mapping[str, shapely.Geometry],
                           tolerance_m: float = CELL_EDGE_TOLERANCE_M) -> list[Problem]:
    """Stations (lon/lat points) that lie outside their own territory by more than `tolerance_m`."""
    metric = {c: to_metric(g) for c, g in territories.items()}
    problems = []
    for code, point in stations.items():
        own = metric.get(code)
        if own is None:
            continue
        p = to_metric(point)
        distance = float(own.distance(p))
        if distance <= tolerance_m:
            continue
        elsewhere = sorted(c for c, g in metric.items() if c != code and g.covers(p))
        where_en = f" (it lies in {', '.join(elsewhere)})" if elsewhere else ""
        where_zh = f"（位于 {'、'.join(elsewhere)} 的辖区内）" if elsewhere else ""
        problems.append(_problem(
            code, "station_outside_territory",
            f"station {code} lies {distance:,.0f} m outside its own territory{where_en}",
            f"站点 {code} 位于自身辖区外 {distance:,.0f} 米{where_zh}", "error", p,
        ))
    return problems


# --- 4. A whole tiling, as the validator judges it, with the places on the map ----------------------


def tiling_problems(territories: Mapping[str, shapely.Geometry], town: shapely.Geometry) -> list[Problem]:
    """Overlaps between territories, parts outside the town (errors) and gaps (warnings; `sliver` when no disc
    of SLIVER_WIDTH_M fits), each with its polygon, in lon/lat; measured in EPSG:4550 with the tolerances of
    gis.validation.check_tiling, so that a tiling without errors here passes the validator."""
    codes = list(territories)
    metric = [to_metric(shapely.force_2d(territories[c])) for c in codes]
    town_m = to_metric(town)
    problems: list[Problem] = []
    if metric:
        left, right = STRtree(metric).query(metric, predicate="intersects")
        for i, j in zip(left, right, strict=True):
            if i < j:
                common = metric[i].intersection(metric[j])
                if common.area > OVERLAP_TOLERANCE_M2:
                    problems.append(_overlap_in_tiling(codes[i], codes[j], common))
    union = shapely.union_all(metric) if metric else shapely.Polygon()
    grown = town_m.buffer(CELL_EDGE_TOLERANCE_M)
    if union.difference(grown).area > GAP_TOLERANCE_M2:
        problems += _outside(codes, metric, grown, union.difference(grown))
    gaps = town_m.difference(union)
    for gap in shapely.get_parts(gaps):
        if gap.area > GAP_TOLERANCE_M2:
            problems.append(_sliver_gap(gap) if _is_sliver(gap) else _gap(gap))
    return problems


def _outside(codes: Sequence[str], metric: Sequence[shapely.Geometry], grown: shapely.Geometry,
             total: shapely.Geometry) -> list[Problem]:
    """The territories reaching outside the town, each named (all of it in one problem if none does alone)."""
    problems = []
    for code, geom in zip(codes, metric, strict=True):
        out = geom.difference(grown)
        if out.area > GAP_TOLERANCE_M2:
            problems.append(_problem(
                code, "outside_town", f"the territory of {code} reaches {out.area:,.0f} m² outside the town",
                f"{code} 的辖区超出镇域 {out.area:,.0f} 平方米", "error", out))
    return problems or [_problem("coverage", "outside_town", f"territories reach {total.area:,.0f} m² outside the town",
                                 f"辖区超出镇域 {total.area:,.0f} 平方米", "error", total)]


def _overlap_in_tiling(a: str, b: str, geom: shapely.Geometry) -> Problem:
    at = to_storage(geom.representative_point())
    return _problem(
        b, "overlap",
        f"territories {a} and {b} overlap by {geom.area:,.0f} m² near lon {at.x:.5f}, lat {at.y:.5f}",
        f"辖区 {a}、{b} 在经度 {at.x:.5f}、纬度 {at.y:.5f} 附近重叠 {geom.area:,.0f} 平方米", "error", geom)


def _sliver_gap(geom: shapely.Geometry) -> Problem:
    at = to_storage(geom.representative_point())
    return _problem(
        "coverage", "sliver",
        f"a sliver of {geom.area:,.0f} m² near lon {at.x:.5f}, lat {at.y:.5f} belongs to no station "
        f"(narrower than {SLIVER_WIDTH_M:g} m: an edge drawn beside its neighbour's)",
        f"经度 {at.x:.5f}、纬度 {at.y:.5f} 附近有 {geom.area:,.0f} 平方米的狭长空隙不属于任何站点"
        f"（宽不足 {SLIVER_WIDTH_M:g} 米：边界未与相邻辖区贴合）", "warning", geom)
