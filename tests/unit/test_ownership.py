"""Ownership on edges, corners, holes and outside the town, on a small hand-made layout."""

from __future__ import annotations

import numpy as np
import pytest
from shapely.geometry import Polygon, box

from gis.crs import to_storage
from gis.ownership import Area, OwnershipIndex

X0, Y0 = 397_000.0, 3_418_000.0  # metres, EPSG:4550, near Dishui Lake


def m(geom):
    """Metric layout -> lon/lat."""
    return to_storage(geom)


def lonlat(x, y):
    p = to_storage(box(X0 + x, Y0 + y, X0 + x, Y0 + y).centroid)
    return p.x, p.y


@pytest.fixture(scope="module")
def index():
    """Town 2000 x 1000 m; west station A (with a hole that station C fills), east station B."""
    town = m(box(X0, Y0, X0 + 2000, Y0 + 1000))
    # Edge points used by the tests are vertices of both polygons, so they lie exactly on both.
    hole_ring = [(X0 + 200, Y0 + 200), (X0 + 400, Y0 + 200), (X0 + 400, Y0 + 400), (X0 + 200, Y0 + 400),
                 (X0 + 200, Y0 + 300)]
    west_ring = [(X0, Y0), (X0 + 1000, Y0), (X0 + 1000, Y0 + 500), (X0 + 1000, Y0 + 1000), (X0, Y0 + 1000)]
    west = m(Polygon(west_ring, [hole_ring]))
    hole = m(Polygon(hole_ring))
    east = m(Polygon([(X0 + 1000, Y0), (X0 + 1800, Y0), (X0 + 1800, Y0 + 1000), (X0 + 1000, Y0 + 1000),
                      (X0 + 1000, Y0 + 500)]))  # 1800..2000 is covered by no station
    cells = [Area(f"310115145001{i:03d}", "", m(box(X0 + 500 * i, Y0, X0 + 500 * (i + 1), Y0 + 1000)), "001")
             for i in range(4)]
    return OwnershipIndex(
        version=7,
        town=town,
        town_center={"code": "TC", "name": "镇城运分中心"},
        coverage=[Area("JS-B", "B站", east), Area("JS-A", "A站", west), Area("JS-C", "C站", hole)],
        communities=[Area("001", "甲社区", m(Polygon(west_ring))),
                     Area("002", "乙社区", m(Polygon([(X0 + 1000, Y0), (X0 + 2000, Y0), (X0 + 2000, Y0 + 1000),
                                                     (X0 + 1000, Y0 + 1000), (X0 + 1000, Y0 + 500)])))],
        workstations=[Area("001", "一站", town)],
        cells=cells,
        near_m=30.0,
    )


def test_inside_a_territory(index):
    owners = index.owner_at(*lonlat(600, 500))
    assert owners.station["code"] == "JS-A" and owners.community["code"] == "001"
    assert owners.grid_code == "310115145001001"
    assert not owners.near_boundary and not owners.fallback and owners.inside_town
    assert owners.boundary_version == 7


def test_shared_edge_goes_to_the_smallest_code(index):
    edge = index.owner_at(*lonlat(1000, 500))  # on the A/B edge and the 001/002 edge
    assert edge.station["code"] == "JS-A" and edge.community["code"] == "001"
    assert edge.near_boundary


def test_corner_of_four_cells_goes_to_the_smallest_code(index):
    owners = index.owner_at(*lonlat(500, 1000))  # top edge, between cells 000 and 001
    assert owners.grid_code == "310115145001000"


def test_hole_belongs_to_the_station_that_fills_it(index):
    owners = index.owner_at(*lonlat(300, 300))
    assert owners.station["code"] == "JS-C"
    on_hole_edge = index.owner_at(*lonlat(200, 300))  # A and C share it: "JS-A" < "JS-C"
    assert on_hole_edge.station["code"] == "JS-A"


def test_near_boundary_flag_uses_metres(index):
    assert index.owner_at(*lonlat(975, 500)).near_boundary  # 25 m from the A/B edge
    assert not index.owner_at(*lonlat(960, 500)).near_boundary  # 40 m
    assert not index.owner_at(*lonlat(10, 500)).near_boundary  # near the town's outer edge only


def test_uncovered_point_falls_back_to_the_town_center(index):
    owners = index.owner_at(*lonlat(1900, 500))
    assert owners.fallback and owners.station == {"code": "TC", "name": "镇城运分中心"}
    assert owners.inside_town and owners.community["code"] == "002"


def test_outside_the_town(index):
    owners = index.owner_at(*lonlat(-500, 500))
    assert owners.fallback and not owners.inside_town
    assert owners.community is None and owners.grid_code is None and owners.workstation is None


def test_bulk_path_agrees_with_the_per_point_path(index):
    rng = np.random.default_rng(3)
    xs = np.concatenate([rng.uniform(-200, 2200, 3000), [1000, 500, 200, 1900, -500, 975]])
    ys = np.concatenate([rng.uniform(-200, 1200, 3000), [500, 1000, 300, 500, 500, 500]])
    pts = [lonlat(x, y) for x, y in zip(xs, ys, strict=True)]
    lons, lats = np.array([p[0] for p in pts]), np.array([p[1] for p in pts])
    bulk = index.owners_bulk(lons, lats)
    for i, (lon, lat) in enumerate(pts):
        one = index.owner_at(lon, lat)
        assert bulk["station"][i] == one.station["code"]
        assert bulk["grid_code"][i] == one.grid_code
        assert bulk["community"][i] == (one.community["code"] if one.community else None)
        assert bulk["near_boundary"][i] == one.near_boundary
        assert bulk["fallback"][i] == one.fallback and bulk["inside_town"][i] == one.inside_town
