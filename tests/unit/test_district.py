"""A jurisdiction of several towns (a district): ownership falls back to each town's own center, and the
boundary checks hold per town."""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import Point, box

from gis import validation as gb
from gis.ownership import Area, OwnershipIndex

WEST = box(121.80, 30.85, 121.85, 30.90)  # town 310115901
EAST = box(121.90, 30.85, 121.95, 30.90)  # town 310115145, 5 km east of it: a gap between the two
CENTERS = {"310115145": {"code": "310115145-TC", "name": "东镇中心"},
           "310115901": {"code": "310115901-TC", "name": "西镇中心"}}


def district(pixel_m: float | None = 20.0) -> OwnershipIndex:
    """Two towns; each one's station covers all but its northern strip (there the town's center takes over)."""
    towns = [Area("310115145", "东镇", EAST), Area("310115901", "西镇", WEST)]
    coverage = [Area(f"{t.code}-JS-001", f"{t.name}联勤联动站", box(*t.geom.bounds[:3], 30.89)) for t in towns]
    communities = [Area(f"{t.code}001", f"{t.name}社区", t.geom, t.code) for t in towns]
    cells = [Area(f"{t.code}001{i:03d}", "", box(t.geom.bounds[0] + i * 0.01, 30.85, t.geom.bounds[0] + (i + 1) * 0.01,
                                                30.90), f"{t.code}001") for t in towns for i in range(5)]
    return OwnershipIndex(
        version=1, town=shapely.union_all([EAST, WEST]), town_center=CENTERS["310115145"],
        coverage=coverage, communities=communities, workstations=communities, cells=cells,
        towns=towns, town_centers=CENTERS, pixel_m=pixel_m,
    )


def test_a_point_no_station_covers_goes_to_the_center_of_its_own_town():
    index = district()
    west = index.owner_at(121.825, 30.895)  # the west town's northern strip
    assert west.fallback and west.inside_town and west.station["code"] == "310115901-TC"
    assert west.community["code"] == "310115901001" and west.grid_code == "310115901001002"
    east = index.owner_at(121.925, 30.895)
    assert east.fallback and east.station["code"] == "310115145-TC"
    covered = index.owner_at(121.825, 30.86)
    assert not covered.fallback and covered.station["code"] == "310115901-JS-001"
    between = index.owner_at(121.875, 30.87)  # in no town: the first town's center, flagged outside
    assert between.fallback and not between.inside_town and between.station["code"] == "310115145-TC"
    assert index.center_at(121.81, 30.86)["code"] == "310115901-TC"


def test_bulk_raster_and_exact_paths_agree_over_the_district():
    index, plain = district(), district(pixel_m=None)
    rng = np.random.default_rng(7)
    lons, lats = rng.uniform(121.79, 121.96, 3000), rng.uniform(30.84, 30.91, 3000)
    bulk, exact = index.owners_bulk(lons, lats), plain.owners_bulk_exact(lons, lats)
    for key in ("station", "community", "workstation", "grid_code", "fallback", "inside_town", "near_boundary"):
        assert list(bulk[key]) == list(exact[key]), key
    assert set(bulk["station"][bulk["fallback"] & bulk["inside_town"]]) == {"310115145-TC", "310115901-TC"}
    for i in range(0, 3000, 97):
        one = index.owner_at(lons[i], lats[i])
        assert (one.station["code"], one.inside_town) == (bulk["station"][i], bool(bulk["inside_town"][i]))


def feature(code: str, geom, **props) -> gb.Feature:
    return gb.Feature(code, geom, {"code": code, **props})


def test_towns_must_not_overlap_and_each_needs_its_own_center():
    towns = [feature("310115145", EAST), feature("310115901", WEST)]
    assert gb.check_towns(towns) == []
    overlapping = [feature("310115145", EAST), feature("310115902", box(121.94, 30.85, 121.99, 30.90))]
    assert any("overlap" in p for p in gb.check_towns(overlapping))
    assert any("310115X" in p for p in gb.check_towns([feature("310115X", WEST)]))
    stations = [feature("310115145-TC", Point(121.92, 30.86), tier="town_center")]
    problems = gb.check_stations(stations, towns)
    assert problems == ["there must be exactly one town_center station in town 310115901, found 0"]
    stations.append(feature("310115901-TC", Point(121.82, 30.86), tier="town_center"))
    assert gb.check_stations(stations, towns) == []


def test_district_codes_carry_the_town():
    towns = [feature("310115145", EAST), feature("310115901", WEST)]
    ws = [feature("310115901001", WEST, community_code="310115901001")]
    good = feature("310115901001007", box(121.80, 30.85, 121.81, 30.86), workstation_code="310115901001")
    wrong_ws = feature("310115145001007", box(121.80, 30.85, 121.81, 30.86), workstation_code="310115901001")
    assert gb.check_grid([good], ws, ["310115145", "310115901"]) == []
    assert any("does not carry its workstation" in p for p in gb.check_grid([wrong_ws], ws, ["310115145", "310115901"]))
    one_town = feature("310115999001007", box(121.80, 30.85, 121.81, 30.86), workstation_code="001")
    assert any("town's code" in p for p in gb.check_grid([one_town], [feature("001", WEST)], ["310115145"]))
    communities = [feature("310115901001", WEST, town_code="310115901"), feature("310115145001", EAST)]
    assert gb.check_in_towns(communities, towns) == [
        "community 310115145001: town_code is missing (the town layer holds 2 towns)"]
    assert gb.AREA_CODE.match("310115901001") and gb.AREA_CODE.match("001") and not gb.AREA_CODE.match("0011")
