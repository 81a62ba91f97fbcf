"""Carving drawn territories into the station tiling (gis.carving): sanity checks, hand-made cases and
property-based runs over every shared edge and junction of the illustrative coverage."""

from __future__ import annotations

import json
import math
import time
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely import affinity
from shapely.geometry import MultiPolygon, Point, Polygon, mapping, shape

from gis import carving as cv
from gis.crs import to_metric, to_storage
from gis.validation import GAP_TOLERANCE_M2, OVERLAP_TOLERANCE_M2, Feature, check_coverage, check_tiling, read_layer

DATA = Path(__file__).resolve().parents[2] / "data" / "boundaries"
PROPERTY = settings(max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
CJK = ("\u4e00", "\u9fff")


# --- data and helpers ----------------------------------------------------------------------------


@lru_cache(maxsize=1)
def illustrative() -> tuple[dict[str, shapely.Geometry], shapely.Geometry]:
    """The illustrative station coverage and town, lon/lat."""
    coverage = {f.fid: f.geom for f in read_layer("station_coverage", DATA / "station_coverage.geojson")}
    town = read_layer("town", DATA / "town.geojson")[0].geom
    return coverage, town


@lru_cache(maxsize=1)
def limits() -> cv.Limits:
    return cv.proposal_limits(illustrative()[1])


@lru_cache(maxsize=1)
def anchors() -> tuple[tuple[shapely.Geometry, ...], tuple[tuple[float, float], ...]]:
    """Lines to place shapes across (every shared edge, the town edge) and the junctions where edges meet."""
    coverage, town = illustrative()
    metric = {c: to_metric(g) for c, g in coverage.items()}
    codes = sorted(metric)
    edges = []
    for i, a in enumerate(codes):
        for b in codes[i + 1:]:
            shared = shapely.line_merge(metric[a].boundary.intersection(metric[b].boundary))
            edges += [e for e in shapely.get_parts(shared) if e.length > 0]
    ends = {tuple(np.round(p, 3)) for e in edges for p in (e.coords[0], e.coords[-1])}
    return (*edges, to_metric(town).exterior), tuple(sorted(ends))


def at(x: float, y: float, half: float, aspect: float = 1.0, angle: float = 0.0) -> Polygon:
    """A (rotated) rectangle centred at metric x, y, returned in lon/lat."""
    rect = shapely.box(x - half, y - half * aspect, x + half, y + half * aspect)
    return to_storage(affinity.rotate(rect, angle, origin=(x, y)))


def box_ll(x0: float, y0: float, x1: float, y1: float) -> Polygon:
    """A metric box near Lingang (offsets in metres from a local origin), in lon/lat."""
    ox, oy = 394000.0, 3418000.0
    return to_storage(shapely.segmentize(shapely.box(ox + x0, oy + y0, ox + x1, oy + y1), 250))


def stored(result: cv.Carved) -> list[Feature]:
    """The carved territories as the app stores them: GeoJSON text, read back."""
    text = json.dumps([{"code": c, "geometry": mapping(g)} for c, g in result.territories.items()])
    return [Feature(d["code"], shape(d["geometry"]), {"station_code": d["code"]}) for d in json.loads(text)]


def assert_no_overlap(result: cv.Carved, town: shapely.Geometry) -> None:
    """Whatever the outcome, the stored territories never overlap and share identical edges."""
    features = stored(result)
    if not features:
        return
    errors, _ = check_tiling(features, town, "coverage", gap_is_error=False)
    assert not [e for e in errors if "overlap" in e], errors
    metric = [to_metric(f.geom) for f in features]
    assert shapely.coverage_is_valid(metric), shapely.coverage_invalid_edges(metric)
    assert all(shapely.get_precision(g) == 0 for g in result.territories.values())


def assert_valid_tiling(result: cv.Carved, town: shapely.Geometry) -> None:
    """Accepted: after the round trip through storage, check_coverage finds no error and no gap."""
    assert result.ok, [str(p) for p in result.problems]
    assert_no_overlap(result, town)
    features = stored(result)
    errors, warnings = check_coverage(features, set(result.territories), town)
    assert errors == [] and warnings == [], (errors, warnings)
    union = shapely.union_all([to_metric(f.geom) for f in features])
    assert abs(union.area - to_metric(town).area) < GAP_TOLERANCE_M2
    assert all(isinstance(g, MultiPolygon) for g in result.territories.values())


def assert_clear(problems: list[cv.Problem]) -> None:
    """Every problem names its field, has a stable code, and says what is wrong in English and Chinese."""
    for p in problems:
        assert p.field and p.code and p.message_en
        assert any(CJK[0] <= ch <= CJK[1] for ch in p.message_zh), p.message_zh
        assert p.severity in ("error", "warning")


def codes_of(problems: list[cv.Problem], severity: str = "error") -> set[str]:
    return {p.code for p in problems if p.severity == severity}


# A small hand-made tiling, metres from the local origin: A south-west, C north-west, B east.
TOWN_BOX = (0, 0, 2000, 1000)
HAND = {"A": (0, 0, 1000, 500), "C": (0, 500, 1000, 1000), "B": (1000, 0, 2000, 1000)}


def hand() -> tuple[dict[str, shapely.Geometry], shapely.Geometry]:
    return {c: box_ll(*b) for c, b in HAND.items()}, box_ll(*TOWN_BOX)


def area_m2(geom: shapely.Geometry) -> float:
    return float(to_metric(geom).area)


def noise(*geoms: shapely.Geometry) -> float:
    """How much snapping to the grid may change an area: each edge moves by at most one grid step."""
    return cv.GRID_M * sum(to_metric(g).length for g in geoms)


# --- 1. sanity checks ----------------------------------------------------------------------------


def ring(*points: tuple[float, float]) -> list[list[float]]:
    return [list(p) for p in (*points, points[0])]


SQUARE = ring((121.90, 30.88), (121.91, 30.88), (121.91, 30.89), (121.90, 30.89))


def polygon(coords: list) -> dict:
    return {"type": "Polygon", "coordinates": [coords]}


BAD = {
    "metres": (polygon(ring((592800, 3417800), (593200, 3417800), (593200, 3418200), (592800, 3418200))),
               "projected_metres"),
    "nan": (polygon(ring((121.90, 30.88), (float("nan"), 30.88), (121.91, 30.89))), "not_finite"),
    "inf": (polygon(ring((121.90, 30.88), (float("inf"), 30.88), (121.91, 30.89))), "not_finite"),
    "1e308": (polygon(ring((121.90, 30.88), (1e308, 30.88), (121.91, 30.89))), "out_of_range"),
    "huge_int": (polygon(ring((121.90, 30.88), (10**400, 30.88), (121.91, 30.89))), "not_finite"),
    "latitude_100": (polygon(ring((121.90, 30.88), (121.91, 100.0), (121.91, 30.89))), "out_of_range"),
    "whole_world": (polygon(ring((-180, -90), (180, -90), (180, 90), (-180, 90))), "outside_envelope"),
    "far_away": (polygon(ring((116.30, 39.90), (116.40, 39.90), (116.40, 39.95))), "outside_envelope"),
    "swapped": (polygon([[y, x] for x, y in SQUARE]), "swapped_lon_lat"),
    "empty": ({"type": "Polygon", "coordinates": []}, "empty"),
    "point": ({"type": "Point", "coordinates": [121.9, 30.9]}, "not_polygon"),
    "line": ({"type": "LineString", "coordinates": SQUARE}, "not_polygon"),
    "not_a_mapping": ("POLYGON ((0 0, 1 0, 1 1, 0 0))", "not_geometry"),
    "no_type": ({"coordinates": [SQUARE]}, "not_geometry"),
    "malformed": ({"type": "Polygon", "coordinates": [[[121.9, "30.9"], [121.9, 30.8], [121.8, 30.8],
                                                       [121.9, "30.9"]]]}, "malformed"),
    "not_nested": ({"type": "MultiPolygon", "coordinates": [SQUARE]}, "malformed"),
    "short_ring": (polygon([[121.9, 30.9], [121.91, 30.9], [121.9, 30.9]]), "ring_too_short"),
    "bow_tie": (polygon(ring((121.90, 30.88), (121.91, 30.89), (121.91, 30.88), (121.90, 30.89))), "invalid"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_sanity_checks_refuse_bad_geometry_in_plain_words(case):
    geom, code = BAD[case]
    problems = cv.check_proposal_geometry(geom, "coverage[3].geometry", limits())
    assert [p.code for p in problems] == [code]
    assert problems[0].field == "coverage[3].geometry"
    assert_clear(problems)


def test_metres_are_named_as_such():
    problem = cv.check_proposal_geometry(BAD["metres"][0], "g", limits())[0]
    assert "projected metres, not WGS84 lon/lat" in problem.message_en
    assert "经纬度" in problem.message_zh


def test_a_sound_polygon_passes_as_geojson_and_as_shapely():
    assert cv.check_proposal_geometry(polygon(SQUARE), "g", limits()) == []
    assert cv.check_proposal_geometry(shape(polygon(SQUARE)), "g", limits()) == []
    multi = {"type": "MultiPolygon", "coordinates": [[SQUARE]]}
    assert cv.check_proposal_geometry(multi, "g", limits()) == []


def nan_polygon() -> Polygon:
    with np.errstate(invalid="ignore"):
        ring_ = shapely.linearrings([(121.90, 30.88), (math.nan, 30.88), (121.91, 30.89), (121.90, 30.88)],
                                    handle_nan="allow")
    return Polygon(ring_)


@pytest.mark.parametrize(("make", "code"), [
    (nan_polygon, "not_finite"),
    (Polygon, "empty"),
    (lambda: Point(121.9, 30.9), "not_polygon"),
    (lambda: shapely.box(-180, -90, 180, 90), "outside_envelope"),
    (lambda: shapely.box(392800, 3417800, 393200, 3418200), "projected_metres"),
])
def test_sanity_checks_on_shapely_geometries(make, code):
    geom = make()
    assert [p.code for p in cv.check_proposal_geometry(geom, "g", limits())] == [code]


def test_vertex_limit_is_checked_before_reading_the_numbers():
    big = polygon([[121.9 + 0.01 * math.cos(t), 30.9 + 0.01 * math.sin(t)]
                   for t in np.linspace(0, 2 * math.pi, 1_000_000)])
    started = time.perf_counter()
    problems = cv.check_proposal_geometry(big, "g", limits())
    assert time.perf_counter() - started < 0.05
    assert [p.code for p in problems] == ["too_many_vertices"]
    just = polygon([[121.9 + 0.01 * math.cos(t), 30.9 + 0.01 * math.sin(t)]
                    for t in np.linspace(0, 2 * math.pi, cv.MAX_VERTICES)])
    assert cv.check_proposal_geometry(just, "g", limits()) == []


def test_whole_world_is_refused_in_milliseconds():
    world = BAD["whole_world"][0]
    started = time.perf_counter()
    for _ in range(100):
        cv.check_proposal_geometry(world, "g", limits())
    assert (time.perf_counter() - started) / 100 < 0.002


def test_area_limit_refuses_a_territory_larger_than_the_town_plus_margin():
    lim = limits()
    tight = cv.Limits(lim.lon_min, lim.lat_min, lim.lon_max, lim.lat_max, max_area_m2=1e6)
    inner = polygon(ring((121.88, 30.86), (121.95, 30.86), (121.95, 30.93), (121.88, 30.93)))
    assert [p.code for p in cv.check_proposal_geometry(inner, "g", tight)] == ["too_large"]
    assert cv.check_proposal_geometry(inner, "g", lim) == []


def test_limits_grow_the_town_by_the_margin():
    _, town = illustrative()
    lim = limits()
    x0, y0, x1, y1 = to_metric(town).bounds
    envelope = to_metric(shapely.segmentize(shapely.box(lim.lon_min, lim.lat_min, lim.lon_max, lim.lat_max), 0.001))
    assert envelope.covers(shapely.box(x0 - 1999, y0 - 1999, x1 + 1999, y1 + 1999))
    assert not envelope.covers(shapely.box(x0 - 2100, y0 - 2100, x1 + 2100, y1 + 2100))
    assert lim.max_area_m2 > area_m2(town) + 2000 * to_metric(town).length


def test_carve_refuses_a_drawn_territory_that_fails_the_sanity_checks():
    coverage, town = illustrative()
    bad = shapely.box(392800, 3417800, 393200, 3418200)
    result = cv.carve(coverage, {"JS-004": bad}, town)
    assert not result.ok and result.territories == {}
    assert [(p.field, p.code) for p in result.problems] == [("JS-004", "projected_metres")]


# --- 2. carving: hand-made cases on the illustrative coverage ------------------------------------


TRIPLE = (391872.025, 3419463.955)


def edge_point(a: str, b: str, fraction: float) -> tuple[float, float]:
    """A point along the edge stations a and b share (metric)."""
    coverage, _ = illustrative()
    shared = shapely.line_merge(to_metric(coverage[a]).boundary.intersection(to_metric(coverage[b]).boundary))
    p = shared.interpolate(fraction, normalized=True)
    return p.x, p.y


def test_square_across_two_territories():
    coverage, town = illustrative()
    mid = Point(edge_point("JS-001", "JS-003", 0.5))
    square = at(mid.x, mid.y, 300)
    result = cv.carve(coverage, {"JS-004": square}, town)
    assert_valid_tiling(result, town)
    assert abs(result.area_after_m2["JS-004"] - 360_000) < noise(square)
    lost = {c: result.area_before_m2[c] - result.area_after_m2[c] for c in coverage}
    assert lost["JS-001"] > 1000 and lost["JS-003"] > 1000 and abs(lost["JS-002"]) < noise(coverage["JS-002"])
    assert abs(sum(lost.values()) - 360_000) < noise(town, square)
    assert result.area_before_m2["JS-004"] == 0.0


def test_square_across_the_triple_junction():
    coverage, town = illustrative()
    square = at(*TRIPLE, 400, angle=17)
    result = cv.carve(coverage, {"JS-004": square}, town)
    assert_valid_tiling(result, town)
    for code in coverage:
        assert result.area_before_m2[code] - result.area_after_m2[code] > 10_000
    assert abs(result.area_after_m2["JS-004"] - 640_000) < noise(square)


def test_square_across_the_town_edge_is_clipped():
    coverage, town = illustrative()
    edge = to_metric(town).exterior
    p = edge.interpolate(0.3, normalized=True)
    drawn = at(p.x, p.y, 500)
    result = cv.carve(coverage, {"JS-004": drawn}, town)
    assert_valid_tiling(result, town)
    inside = to_metric(drawn).intersection(to_metric(town)).area
    assert 0 < inside < 1_000_000
    assert abs(result.area_after_m2["JS-004"] - inside) < noise(drawn)
    assert codes_of(result.problems, "warning") == {"clipped_to_town"}
    assert_clear(result.problems)


def test_square_fully_inside_one_neighbour_leaves_a_hole():
    coverage, town = illustrative()
    stations = {f.fid: f.geom for f in read_layer("stations", DATA / "stations.geojson")}
    station = to_metric(stations["JS-001"])
    result = cv.carve(coverage, {"JS-004": at(station.x + 1500, station.y + 1500, 200)}, town)
    assert_valid_tiling(result, town)
    js1 = result.territories["JS-001"]
    assert len(js1.geoms) == 1 and len(js1.geoms[0].interiors) == 1
    for code in ("JS-002", "JS-003"):
        assert abs(result.area_after_m2[code] - result.area_before_m2[code]) < noise(coverage[code])


def test_redrawn_station_takes_area_from_its_neighbours():
    coverage, town = illustrative()
    grown = coverage["JS-001"].union(at(*edge_point("JS-001", "JS-003", 0.4), 600))
    result = cv.carve(coverage, {"JS-001": grown}, town)
    assert_valid_tiling(result, town)
    gained = result.area_after_m2["JS-001"] - result.area_before_m2["JS-001"]
    assert abs(gained - (result.area_before_m2["JS-003"] - result.area_after_m2["JS-003"])) < noise(town, grown)
    assert gained > 100_000


def test_carving_is_reproducible_and_stable_through_storage():
    coverage, town = illustrative()
    drawn = {"JS-004": at(*TRIPLE, 350, aspect=0.6, angle=33)}
    first, second = cv.carve(coverage, drawn, town), cv.carve(coverage, drawn, town)
    again = cv.carve({f.fid: f.geom for f in stored(first)}, {}, town)
    for code, geom in first.territories.items():
        assert shapely.equals_exact(geom, second.territories[code], 0)
        assert shapely.equals_exact(shapely.normalize(geom), shapely.normalize(again.territories[code]), 0)
    assert again.problems == []


def test_untouched_tiling_comes_back_unchanged_within_a_centimetre():
    coverage, town = illustrative()
    result = cv.carve(coverage, {}, town)
    assert_valid_tiling(result, town)
    for code, geom in coverage.items():
        assert to_metric(result.territories[code]).hausdorff_distance(to_metric(geom)) < 0.01
        assert abs(result.area_after_m2[code] - result.area_before_m2[code]) < noise(geom)


# --- 2. carving: a small hand-made tiling ----------------------------------------------------------


def test_neighbour_split_in_two_is_refused_naming_it():
    territories, town = hand()
    strip = box_ll(1400, -50, 1600, 1050)  # crosses B from its south edge to its north edge
    result = cv.carve(territories, {"X": strip}, town)
    assert not result.ok
    split = [p for p in result.problems if p.code == "multipart"]
    assert [p.field for p in split] == ["B"] and "B" in split[0].message_en and "2 pieces" in split[0].message_en
    assert_clear(result.problems)
    assert_no_overlap(result, town)


@pytest.mark.parametrize("allow", [True, {"B"}, ("B", "Z")])
def test_neighbour_split_in_two_is_kept_when_allowed(allow):
    territories, town = hand()
    result = cv.carve(territories, {"X": box_ll(1400, -50, 1600, 1050)}, town, allow_multipart=allow)
    assert_valid_tiling(result, town)
    assert len(result.territories["B"].geoms) == 2
    assert codes_of(result.problems, "warning") >= {"multipart"}


def test_allowing_another_station_to_be_multipart_does_not_allow_this_one():
    territories, town = hand()
    result = cv.carve(territories, {"X": box_ll(1400, -50, 1600, 1050)}, town, allow_multipart={"A"})
    assert codes_of(result.problems) == {"multipart"}


def test_swallowed_neighbour_is_reported():
    territories, town = hand()
    result = cv.carve(territories, {"X": box_ll(-100, -100, 1100, 600)}, town)
    assert not result.ok
    gone = [p for p in result.problems if p.code == "no_territory"]
    assert [p.field for p in gone] == ["A"]
    assert gone[0].message_en == "station A is left without territory"
    assert "A" not in result.territories
    assert_no_overlap(result, town)


def test_sliver_left_between_drawn_and_old_edge_goes_to_the_longest_border():
    territories, town = hand()
    # X's west edge misses the A/C-B edge by 0.4 m: the strip of B left behind borders X along 1000 m,
    # A and C along 500 m each, so X takes it; B stays in one piece and no gap is left.
    result = cv.carve(territories, {"X": box_ll(1000.4, -50, 1500, 1050)}, town)
    assert_valid_tiling(result, town)
    assert len(result.territories["B"].geoms) == 1
    assert abs(result.area_after_m2["X"] - 500_000) < 1
    assert abs(result.area_after_m2["A"] - 500_000) < 1
    assert [f.fid for f in result.features()] == ["A", "B", "C", "X"]


def test_sliver_gap_left_by_a_redraw_is_merged_not_left_as_a_gap():
    territories, town = hand()
    result = cv.carve(territories, {"B": box_ll(1000.5, 0, 2000, 1000)}, town)
    assert_valid_tiling(result, town)
    assert abs(result.area_after_m2["B"] - 1_000_000) < 1


def test_sliver_ring_left_by_a_slightly_shrunk_redraw_goes_back_to_its_station():
    coverage, town = illustrative()
    shrunk = to_storage(to_metric(coverage["JS-001"]).buffer(-0.4, join_style="mitre"))
    result = cv.carve(coverage, {"JS-001": shrunk}, town)
    assert_valid_tiling(result, town)
    for code, geom in coverage.items():
        assert abs(result.area_after_m2[code] - result.area_before_m2[code]) < noise(geom)


def test_large_gap_left_by_a_redraw_is_a_warning():
    territories, town = hand()
    result = cv.carve(territories, {"B": box_ll(1200, 0, 2000, 1000)}, town)
    assert result.ok
    gaps = [p for p in result.problems if p.code == "gap"]
    assert len(gaps) == 1 and gaps[0].severity == "warning" and "200,000 m²" in gaps[0].message_en
    assert_no_overlap(result, town)


def test_two_drawn_territories_overlapping_are_refused_naming_both():
    territories, town = hand()
    result = cv.carve(territories, {"X": box_ll(200, 200, 800, 800), "Y": box_ll(600, 200, 1400, 800)}, town)
    overlap = [p for p in result.problems if p.code == "overlap"]
    assert len(overlap) == 1 and "X and Y" in overlap[0].message_en and "120,000 m²" in overlap[0].message_en
    assert not result.ok
    assert_no_overlap(result, town)


def test_drawn_territory_outside_the_town_leaves_the_station_without_territory():
    territories, town = hand()
    result = cv.carve(territories, {"X": box_ll(2100, 0, 2400, 500)}, town)
    assert codes_of(result.problems) == {"no_territory"}
    assert "clipped_to_town" in codes_of(result.problems, "warning")


def test_tiny_drawn_territory_is_swallowed_and_reported():
    territories, town = hand()
    result = cv.carve(territories, {"X": box_ll(300, 300, 305, 305)}, town)
    assert [(p.field, p.code) for p in result.problems] == [("X", "no_territory")]
    assert_no_overlap(result, town)


# --- 3. station points ---------------------------------------------------------------------------


def test_station_point_outside_its_territory_is_reported():
    coverage, _ = illustrative()
    stations = {f.fid: f.geom for f in read_layer("stations", DATA / "stations.geojson")}
    assert cv.station_point_problems(stations, coverage) == []
    moved = dict(stations, **{"JS-001": stations["JS-003"]})
    problems = cv.station_point_problems(moved, coverage)
    assert [(p.field, p.code) for p in problems] == [("JS-001", "station_outside_territory")]
    assert "it lies in JS-003" in problems[0].message_en
    assert_clear(problems)


def test_station_point_on_its_edge_is_fine():
    territories, _ = hand()
    on_edge = to_storage(Point(394000.0 + 1000, 3418000.0 + 250))
    assert cv.station_point_problems({"A": on_edge, "B": on_edge}, territories) == []


# --- property-based: shapes across every shared edge, junction and the town edge -----------------


@st.composite
def hugging(draw: st.DrawFn) -> Polygon:
    """A rectangle along one segment of an edge, a few metres off it: hand drawing, and where slivers come from."""
    lines, _ = anchors()
    coords = np.asarray(draw(st.sampled_from(lines)).coords)
    k = draw(st.integers(0, len(coords) - 2))
    (x0, y0), (x1, y1) = coords[k], coords[k + 1]
    length = math.hypot(x1 - x0, y1 - y0)
    ux, uy = (x1 - x0) / length, (y1 - y0) / length
    start = draw(st.floats(-0.5, 0.5)) * length
    end = start + max(draw(st.floats(0.0, 1.0)) * length, 50.0)
    offset, width = draw(st.floats(-3.0, 3.0)), draw(st.floats(20.0, 500.0)) * draw(st.sampled_from([-1, 1]))
    tilt = math.radians(draw(st.floats(-0.05, 0.05)))
    nx, ny = -uy, ux
    near = [(x0 + ux * t + nx * (offset + t * tilt), y0 + uy * t + ny * (offset + t * tilt)) for t in (start, end)]
    far = [(x + nx * width, y + ny * width) for x, y in reversed(near)]
    return to_storage(Polygon(near + far).normalize())


@st.composite
def shapes(draw: st.DrawFn) -> Polygon:
    """A square, rotated rectangle or star-shaped polygon placed across an edge, a junction or the town edge."""
    lines, junctions = anchors()
    if draw(st.integers(0, 3)) == 0:
        return draw(hugging())
    if draw(st.booleans()):
        x, y = draw(st.sampled_from(junctions))
    else:
        line = draw(st.sampled_from(lines))
        p = line.interpolate(draw(st.floats(0, 1)), normalized=True)
        x, y = p.x, p.y
    size = math.exp(draw(st.floats(math.log(5), math.log(3000))))
    x += size * draw(st.floats(-0.9, 0.9))
    y += size * draw(st.floats(-0.9, 0.9))
    kind = draw(st.sampled_from(["square", "rectangle", "star"]))
    if kind == "star":
        n = draw(st.integers(3, 12))
        radii = draw(st.lists(st.floats(0.2, 1.0), min_size=n, max_size=n))
        turn = draw(st.floats(0, 2 * math.pi))
        angles = [turn + 2 * math.pi * k / n for k in range(n)]
        ring_m = [(x + size * r * math.cos(a), y + size * r * math.sin(a)) for a, r in zip(angles, radii, strict=True)]
        return to_storage(Polygon(ring_m))
    aspect = 1.0 if kind == "square" else draw(st.floats(0.05, 1.0))
    return at(x, y, size, aspect, draw(st.floats(0, 180)))


def check_outcome(result: cv.Carved, town: shapely.Geometry, refusals: set[str]) -> None:
    """A valid tiling, or a clear refusal for one of the expected reasons; never an overlap."""
    assert_clear(result.problems)
    assert_no_overlap(result, town)
    if result.ok:
        assert_valid_tiling(result, town)
    else:
        assert codes_of(result.problems) <= refusals, [str(p) for p in result.problems]
        assert all(p.field in result.area_before_m2 for p in result.problems if p.severity == "error")


@PROPERTY
@given(shapes())
def test_new_station_drawn_anywhere_gives_a_tiling_or_a_clear_refusal(drawn):
    coverage, town = illustrative()
    result = cv.carve(coverage, {"JS-004": drawn}, town)
    check_outcome(result, town, {"multipart", "no_territory", "outside_envelope"})
    if "JS-004" in result.territories:
        inside = to_metric(drawn).intersection(to_metric(town))
        slack = cv.SLIVER_AREA_M2 + cv.SLIVER_WIDTH_M * inside.length
        assert abs(result.area_after_m2["JS-004"] - inside.area) < slack
    if result.territories:  # carved, not refused by the sanity checks: every m² of the town is owned
        assert abs(sum(result.area_after_m2.values()) - area_m2(town)) < GAP_TOLERANCE_M2


@settings(PROPERTY, max_examples=50)
@given(st.sampled_from(["JS-001", "JS-002", "JS-003"]), shapes())
def test_existing_station_grown_over_its_neighbours_gives_a_tiling_or_a_clear_refusal(code, extra):
    coverage, town = illustrative()
    result = cv.carve(coverage, {code: coverage[code].union(extra)}, town)
    check_outcome(result, town, {"multipart", "no_territory", "outside_envelope"})
    if result.territories:
        assert result.area_after_m2[code] >= result.area_before_m2[code] - noise(coverage[code])


@settings(PROPERTY, max_examples=50)
@given(shapes(), shapes())
def test_two_new_stations_never_overlap(first, second):
    coverage, town = illustrative()
    result = cv.carve(coverage, {"JS-004": first, "JS-005": second}, town)
    check_outcome(result, town, {"multipart", "no_territory", "overlap", "outside_envelope"})
    overlap = to_metric(first).intersection(to_metric(second)).intersection(to_metric(town)).area
    if overlap < OVERLAP_TOLERANCE_M2:
        assert "overlap" not in codes_of(result.problems)


@settings(PROPERTY, max_examples=40)
@given(st.sampled_from(["JS-001", "JS-002", "JS-003"]), st.floats(-2.0, 2.0), st.floats(0.0, 2.0))
def test_station_redrawn_by_hand_within_two_metres_snaps_back_to_its_neighbours(code, grow, simplify):
    """A redraw that follows the old outline within a couple of metres (simplified, grown or shrunk) leaves no
    gap, no overlap and no piece behind: its area changes by no more than the strip it was off by."""
    coverage, town = illustrative()
    metric = to_metric(coverage[code])
    drawn = to_storage(metric.simplify(simplify).buffer(grow, join_style="mitre"))
    result = cv.carve(coverage, {code: drawn}, town)
    assert_valid_tiling(result, town)
    off = (abs(grow) + simplify + cv.GRID_M) * metric.length
    assert abs(result.area_after_m2[code] - result.area_before_m2[code]) < off
