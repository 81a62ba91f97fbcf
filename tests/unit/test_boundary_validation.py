"""Reading and validating boundary layers, without a database."""

from __future__ import annotations

import json

import pytest
from shapely.geometry import Point, box

from gis import validation as gb
from gis.crs import to_storage


def square(x0: float, y0: float, size: float):
    """A square given in EPSG:4550 metres, returned in lon/lat."""
    return to_storage(box(x0, y0, x0 + size, y0 + size))


X0, Y0 = 397_000.0, 3_418_000.0  # near Dishui Lake in EPSG:4550


def feature(fid, geom, **props):
    return gb.Feature(fid, geom, {"code": fid, **props})


def write_geojson(path, features, crs=None):
    doc = {"type": "FeatureCollection", "features": features}
    if crs:
        doc["crs"] = {"type": "name", "properties": {"name": crs}}
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def test_self_intersecting_polygon_is_refused_with_its_id(tmp_path):
    bowtie = {"type": "Polygon", "coordinates": [[[121.90, 30.90], [121.92, 30.92], [121.92, 30.90],
                                                  [121.90, 30.92], [121.90, 30.90]]]}
    path = write_geojson(tmp_path / "c.geojson", [
        {"type": "Feature", "properties": {"code": "001", "name": "甲"}, "geometry": bowtie}
    ])
    with pytest.raises(gb.LayerError) as err:
        gb.read_layer("communities", path)
    assert "feature 001" in str(err.value)
    assert "Self-intersection" in str(err.value)


def test_broken_json_is_refused_with_line_and_column(tmp_path):
    path = tmp_path / "town.geojson"
    path.write_text('{"type": "FeatureCollection", "features": [', encoding="utf-8")
    with pytest.raises(gb.LayerError) as err:
        gb.read_layer("town", path)
    assert "not valid JSON" in str(err.value) and "line 1" in str(err.value)


def test_unknown_crs_is_refused(tmp_path):
    path = write_geojson(tmp_path / "t.geojson", [], crs="urn:ogc:def:crs:EPSG::999999")
    with pytest.raises(gb.LayerError) as err:
        gb.read_layer("town", path)
    assert "unknown CRS" in str(err.value)
    path = write_geojson(tmp_path / "t2.geojson", [])
    with pytest.raises(gb.LayerError) as err:
        gb.read_layer("town", path, crs="EPSG:999999")
    assert "unknown CRS" in str(err.value)


def test_declared_crs_is_transformed_to_storage(tmp_path):
    metric = box(X0, Y0, X0 + 100, Y0 + 100)
    path = write_geojson(tmp_path / "t.geojson", [
        {"type": "Feature", "properties": {"code": "310115145", "name": "镇"},
         "geometry": json.loads(json.dumps(metric.__geo_interface__))}
    ], crs="urn:ogc:def:crs:EPSG::4550")
    [town] = gb.read_layer("town", path)
    assert 121.0 < town.geom.centroid.x < 123.0 and 30.0 < town.geom.centroid.y < 32.0
    assert town.geom.is_valid


def test_wrong_geometry_type_and_missing_property(tmp_path):
    path = write_geojson(tmp_path / "c.geojson", [
        {"type": "Feature", "properties": {"code": "001"}, "geometry": {"type": "Point", "coordinates": [121.9, 30.9]}},
        {"type": "Feature", "properties": {"code": "002"},
         "geometry": json.loads(json.dumps(square(X0, Y0, 100).__geo_interface__))},
    ])
    with pytest.raises(gb.LayerError) as err:
        gb.read_layer("communities", path)
    message = str(err.value)
    assert "feature 001: geometry is Point" in message
    assert "feature 002: missing name" in message


def test_overlapping_communities_are_reported_with_area():
    town = square(X0, Y0, 1000)
    parts = [feature("001", square(X0, Y0, 600)), feature("002", square(X0 + 500, Y0, 500))]
    errors, _ = gb.check_tiling(parts, town, "communities")
    overlap = [e for e in errors if "overlap" in e]
    assert overlap and "001 and 002" in overlap[0]
    assert any("gap" in e for e in errors)  # the northern strip is not covered


def test_exact_tiling_passes():
    town = square(X0, Y0, 1000)
    halves = [feature("001", to_storage(box(X0, Y0, X0 + 500, Y0 + 1000))),
              feature("002", to_storage(box(X0 + 500, Y0, X0 + 1000, Y0 + 1000)))]
    assert gb.check_tiling(halves, town, "communities") == ([], [])


def test_grid_codes_and_nesting():
    ws = [feature("001", square(X0, Y0, 200))]
    cells = [
        gb.Feature("a", square(X0, Y0, 100), {"code": "310115145001001", "workstation_code": "001"}),
        gb.Feature("b", square(X0 + 100, Y0, 100), {"code": "31011514500100", "workstation_code": "001"}),
        gb.Feature("c", square(X0, Y0 + 100, 100), {"code": "310115145002001", "workstation_code": "001"}),
        gb.Feature("d", square(X0 + 150, Y0 + 150, 100), {"code": "310115145001004", "workstation_code": "001"}),
    ]
    problems = "\n".join(gb.check_grid(cells, ws))
    assert "grid cell b: code" in problems
    assert "grid cell c: code does not carry its workstation code 001" in problems
    assert "grid cell d is not inside workstation_code 001" in problems
    assert "grid cell a" not in problems


def test_a_cell_drawn_twice_is_an_overlap_and_neighbours_are_not():
    ws = [feature("001", square(X0, Y0, 200))]
    cells = [
        gb.Feature("a", square(X0, Y0, 100), {"code": "310115145001001", "workstation_code": "001"}),
        gb.Feature("b", square(X0, Y0, 100), {"code": "310115145001002", "workstation_code": "001"}),  # a again
        gb.Feature("c", square(X0 + 100, Y0, 100), {"code": "310115145001003", "workstation_code": "001"}),
    ]
    problems = gb.check_grid(cells, ws)
    assert len(problems) == 1 and problems[0].startswith("grid cells a and b overlap by 10,000")


def test_stations_need_one_town_center_and_known_parents():
    town = square(X0, Y0, 1000)
    inside = to_storage(Point(X0 + 10, Y0 + 10))
    stations = [
        gb.Feature("TC", inside, {"code": "TC", "tier": "town_center"}),
        gb.Feature("TC2", inside, {"code": "TC2", "tier": "town_center"}),
        gb.Feature("JS", inside, {"code": "JS", "tier": "joint_station", "parent_code": "XX"}),
        gb.Feature("W", to_storage(Point(X0 - 500, Y0)), {"code": "W", "tier": "hut"}),
    ]
    problems = "\n".join(gb.check_stations(stations, [gb.Feature("310115145", town)]))
    assert "exactly one town_center station, found 2" in problems
    assert "parent 'XX' does not exist" in problems
    assert "tier 'hut'" in problems and "station W lies outside the town" in problems


def test_no_parts_is_an_error_not_a_crash():
    errors, warnings = gb.check_tiling([], square(X0, Y0, 1000), "communities")
    assert errors == ["there are no communities: nothing covers the whole"] and warnings == []
