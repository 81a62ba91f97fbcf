"""Road segments from OpenStreetMap (.osm XML and .pbf) and from a GeoPackage with OSM-style columns."""

from __future__ import annotations

import osmium
import pytest
from shapely.geometry import LineString

from routing.importers import read_osm, read_roads_file, speed_from

OSM = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="test">
  <node id="1" lat="30.900" lon="121.900" version="1"/>
  <node id="2" lat="30.900" lon="121.905" version="1"/>
  <node id="3" lat="30.900" lon="121.910" version="1"/>
  <node id="4" lat="30.905" lon="121.905" version="1"/>
  <node id="5" lat="30.895" lon="121.905" version="1"/>
  <way id="10" version="1"><nd ref="1"/><nd ref="2"/><nd ref="3"/>
    <tag k="highway" v="primary"/><tag k="name" v="临港大道"/><tag k="maxspeed" v="60"/></way>
  <way id="11" version="1"><nd ref="4"/><nd ref="2"/><nd ref="5"/>
    <tag k="highway" v="residential"/><tag k="name" v="水芸路"/><tag k="oneway" v="-1"/></way>
  <way id="12" version="1"><nd ref="4"/><nd ref="3"/><tag k="building" v="yes"/></way>
</osm>
"""


def _check(features):
    by_way = {}
    for f in features:
        by_way.setdefault(f.props["osm_way"], []).append(f)
    assert set(by_way) == {10, 11}  # the building is not a road
    # Both ways are split at the shared node 2 (121.905, 30.900).
    assert [list(f.geom.coords) for f in by_way[10]] == [[(121.9, 30.9), (121.905, 30.9)],
                                                         [(121.905, 30.9), (121.91, 30.9)]]
    main = by_way[10][0].props
    assert (main["name"], main["kind"], main["oneway"], main["speed_kph"]) == ("临港大道", "arterial", False, 60.0)
    # oneway=-1: reversed, so one-way runs along the geometry (from node 5 northwards to node 4)
    side = by_way[11]
    assert all(f.props["oneway"] for f in side) and side[0].props["speed_kph"] == 30.0
    assert list(side[0].geom.coords)[0] == (121.905, 30.895)
    assert list(side[-1].geom.coords)[-1] == (121.905, 30.905)


def test_osm_xml(tmp_path):
    path = tmp_path / "extract.osm"
    path.write_text(OSM, encoding="utf-8")
    _check(read_osm(path))


def test_osm_pbf(tmp_path):
    src = tmp_path / "extract.osm"
    src.write_text(OSM, encoding="utf-8")
    pbf = tmp_path / "extract.osm.pbf"
    writer = osmium.SimpleWriter(str(pbf))
    for obj in osmium.FileProcessor(str(src)):
        if obj.is_node():
            writer.add_node(obj)
        elif obj.is_way():
            writer.add_way(obj)
    writer.close()
    _check(read_roads_file(pbf))


def test_geopackage_with_osm_columns(tmp_path):
    import geopandas as gpd

    frame = gpd.GeoDataFrame(
        {"name": ["港城路", None], "highway": ["secondary", "residential"], "oneway": ["yes", "-1"],
         "maxspeed": ["40", None]},
        geometry=[LineString([(121.90, 30.90), (121.91, 30.90)]), LineString([(121.91, 30.90), (121.91, 30.91)])],
        crs="EPSG:4326",
    )
    path = tmp_path / "roads.gpkg"
    frame.to_file(path, driver="GPKG")
    first, second = read_roads_file(path)
    assert (first.props["name"], first.props["kind"], first.props["oneway"], first.props["speed_kph"]) == \
        ("港城路", "radial", True, 40.0)
    assert second.props["oneway"] is True and second.props["speed_kph"] == 30.0
    assert list(second.geom.coords) == [(121.91, 30.91), (121.91, 30.90)]  # reversed for oneway=-1
    assert second.props["name"]  # a name is made up when the road has none


@pytest.mark.parametrize("raw,expected", [("50", 50.0), ("30 mph", 48.28), (None, 30.0), ("CN:urban", 30.0),
                                          (45, 45.0)])
def test_speeds(raw, expected):
    assert speed_from(raw, 30) == pytest.approx(expected, abs=0.01)
