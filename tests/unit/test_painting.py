"""Territories painted by grid cells (gis.painting), carved into a tiling; the tiling's problems with their places
on the map (gis.carving.tiling_problems); problems of carving carry their geometry."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import Point

from gis import carving as cv
from gis import painting
from gis.crs import to_metric, to_storage
from gis.validation import Feature, check_coverage, read_layer
from tests.unit.test_carving import assert_valid_tiling, box_ll, illustrative

DATA = Path(__file__).resolve().parents[2] / "data" / "boundaries"


@lru_cache(maxsize=1)
def cells() -> dict[str, shapely.Geometry]:
    return {f.fid: f.geom for f in read_layer("grid_cells", DATA / "grid_cells.geojson")}


def border_cells(source: str, target: str, n: int) -> list[str]:
    """n cells of `source` nearest to the edge it shares with `target` (a connected band along it)."""
    coverage, _ = illustrative()
    owner = painting.cell_owners(cells(), coverage)
    edge = to_metric(coverage[source]).boundary.intersection(to_metric(coverage[target]).boundary)
    mine = [c for c, o in owner.items() if o == source]
    return sorted(mine, key=lambda c: to_metric(cells()[c]).distance(edge))[:n]


def test_every_cell_has_one_owner_and_owners_match_the_territories():
    coverage, _ = illustrative()
    owner = painting.cell_owners(cells(), coverage)
    assert set(owner.values()) == set(coverage)
    for code in list(owner)[::500]:
        assert coverage[owner[code]].covers(cells()[code].representative_point())


def test_twenty_cells_painted_to_a_neighbour_give_a_tiling_with_those_cells_moved():
    coverage, town = illustrative()
    moved = border_cells("JS-001", "JS-002", 20)
    changed = painting.paint(coverage, cells(), {c: "JS-002" for c in moved})
    assert set(changed) == {"JS-001", "JS-002"}
    carved = cv.carve(coverage, changed, town)
    assert_valid_tiling(carved, town)
    after = painting.cell_owners({c: cells()[c] for c in moved}, carved.territories)
    assert set(after.values()) == {"JS-002"}
    area = sum(to_metric(cells()[c]).area for c in moved)
    lost = carved.area_before_m2["JS-001"] - carved.area_after_m2["JS-001"]
    assert abs(lost - area) < cv.SLIVER_AREA_M2  # slivers along cell edges are merged
    untouched = [c for c, o in painting.cell_owners(cells(), coverage).items() if o == "JS-003"][:50]
    assert set(painting.cell_owners({c: cells()[c] for c in untouched}, carved.territories).values()) == {"JS-003"}


def test_cells_painted_to_a_new_station_make_its_territory():
    coverage, town = illustrative()
    moved = border_cells("JS-001", "JS-002", 10) + border_cells("JS-002", "JS-001", 10)
    changed = painting.paint(coverage, cells(), {c: "JS-009" for c in moved})
    assert set(changed) == {"JS-001", "JS-002", "JS-009"}
    carved = cv.carve(coverage, changed, town)
    assert_valid_tiling(carved, town)
    union = shapely.union_all([to_metric(cells()[c]) for c in moved])
    assert abs(carved.area_after_m2["JS-009"] - union.area) < cv.SLIVER_AREA_M2


def test_painting_nothing_changes_nothing_and_a_station_painted_away_is_empty():
    coverage, _ = illustrative()
    assert painting.paint(coverage, cells(), {}) == {}
    square = {"A": box_ll(0, 0, 100, 100), "B": box_ll(100, 0, 200, 100)}
    changed = painting.paint(square, {"c1": box_ll(0, 0, 100, 100)}, {"c1": "B"})
    assert changed["A"].is_empty
    assert abs(to_metric(changed["B"]).area - 20_000) < 1.0


def test_owners_of_points_outside_every_territory_are_none():
    coverage, _ = illustrative()
    points = np.array([Point(0, 0), Point(121.93, 30.90)], dtype=object)
    found = painting.owners(points, coverage)
    assert found[0] is None and found[1] in coverage


def test_tiling_problems_locate_overlaps_gaps_and_slivers_with_their_areas():
    town = box_ll(0, 0, 2000, 1000)
    territories = {"A": box_ll(0, 0, 1030, 1000), "B": box_ll(1000, 0, 1800, 1000), "C": box_ll(1802, 0, 2000, 1000)}
    problems = cv.tiling_problems(territories, town)
    by_code = {p.code: p for p in problems}
    assert sorted(p.code for p in problems) == ["overlap", "sliver"]
    overlap = by_code["overlap"]
    assert overlap.severity == "error" and abs(overlap.area_m2 - 30_000) < 5 and "A" in overlap.message_en
    assert abs(to_metric(overlap.geometry).area - 30_000) < 5
    sliver = by_code["sliver"]
    assert sliver.severity == "warning" and abs(sliver.area_m2 - 2_000) < 5 and "平方米" in sliver.message_zh


def test_tiling_problems_find_what_the_validator_finds():
    coverage, town = illustrative()
    grown = dict(coverage)
    grown["JS-001"] = to_storage(to_metric(coverage["JS-001"]).buffer(40))
    problems = cv.tiling_problems(grown, town)
    errors, _ = check_coverage([Feature(c, g, {"station_code": c}) for c, g in grown.items()], set(grown), town)
    assert {p.code for p in problems if p.severity == "error"} == {"overlap", "outside_town"}
    assert len([p for p in problems if p.code == "overlap"]) == len([e for e in errors if "overlap" in e])
    assert cv.tiling_problems(coverage, town) == []


def test_carving_problems_carry_their_place():
    coverage, town = illustrative()
    lon, lat = to_storage(to_metric(town).centroid).coords[0]
    outside = to_storage(shapely.box(*to_metric(town).bounds).buffer(-10).exterior.buffer(600))
    carved = cv.carve(coverage, {"JS-009": outside}, town)
    clipped = [p for p in carved.problems if p.code == "clipped_to_town"]
    assert clipped and clipped[0].geometry is not None and clipped[0].area_m2 > 0
    point = cv.station_point_problems({"JS-001": Point(lon + 0.5, lat)}, coverage)
    assert point[0].geometry.geom_type == "Point"
