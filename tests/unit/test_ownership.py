"""Ownership on edges, corners, holes and outside the town, on a small hand-made layout."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
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


# --- The answer raster: whatever it answers must be what the exact paths answer ---------------

FIELDS = ("station", "community", "workstation", "grid_code", "near_boundary", "fallback", "inside_town")


def edge_and_random_points(index, rng, n=4000):
    """Vertices, points on edges, a few metres off them, around near_m off them, and anywhere around the town."""
    geoms = [a.geom for name in ("coverage", "communities", "workstations", "cells")
             for a in getattr(index, name)] + [index.town]
    coords, ring = shapely.get_coordinates(shapely.get_rings(shapely.get_parts(geoms)), return_index=True)
    starts = np.flatnonzero(ring[:-1] == ring[1:])
    pick = starts[rng.integers(0, len(starts), n)]
    t = np.where(np.arange(n) % 4 == 0, 0.0, rng.uniform(0, 1, n))
    xy = coords[pick] + t[:, None] * (coords[pick + 1] - coords[pick])
    metres = np.select([np.arange(n) % 4 < 2, np.arange(n) % 4 == 2], [0.0, 12.0], index.near_m + 12.0)
    angle = rng.uniform(0, 2 * np.pi, n)
    xy += (metres * rng.uniform(0, 1, n) / 100_000)[:, None] * np.column_stack([np.cos(angle), np.sin(angle)])
    minx, miny, maxx, maxy = index.town.bounds
    w, h = maxx - minx, maxy - miny
    lons = np.concatenate([xy[:, 0], rng.uniform(minx - w / 5, maxx + w / 5, n)])
    lats = np.concatenate([xy[:, 1], rng.uniform(miny - h / 5, maxy + h / 5, n)])
    return lons, lats


def assert_raster_matches_exact(index, lons, lats, single_every=7):
    bulk, exact = index.owners_bulk(lons, lats), index.owners_bulk_exact(lons, lats)
    for f in FIELDS:
        assert np.array_equal(bulk[f], exact[f]), f
    for i in range(0, len(lons), single_every):
        assert index.owner_at(lons[i], lats[i]) == index.owner_at_exact(lons[i], lats[i]), (lons[i], lats[i])
        assert index.owner_at(lons[i], lats[i]).station["code"] == exact["station"][i]


def rebuilt(index, **changes):
    fields = dict(version=index.version, town=index.town, town_center=index.town_center, coverage=index.coverage,
                  communities=index.communities, workstations=index.workstations, cells=index.cells,
                  near_m=index.near_m, pixel_m=index.pixel_m)
    return OwnershipIndex(**(fields | changes))


def test_raster_answers_are_the_exact_answers(index):
    rng = np.random.default_rng(21)
    lons, lats = edge_and_random_points(index, rng)
    assert_raster_matches_exact(index, lons, lats)


def test_raster_answers_most_random_points_itself(index):
    rng = np.random.default_rng(22)
    minx, miny, maxx, maxy = index.town.bounds
    share = index.exact_share(rng.uniform(minx, maxx, 20_000), rng.uniform(miny, maxy, 20_000))
    assert share["layers"] < 0.2 and share["near"] < 0.2
    assert 0 < index.raster_bytes < 10_000_000


@pytest.mark.parametrize("pixel_m", [1.5, 9.0, 37.0])
def test_raster_answers_at_other_pixel_sizes(index, pixel_m):
    coarse = rebuilt(index, pixel_m=pixel_m)
    rng = np.random.default_rng(int(pixel_m * 10))
    assert_raster_matches_exact(coarse, *edge_and_random_points(coarse, rng, n=2000))


def test_without_a_raster_both_paths_are_exact(index):
    plain = rebuilt(index, pixel_m=None)
    assert plain.raster_bytes == 0
    lons, lats = edge_and_random_points(index, np.random.default_rng(23), n=1000)
    a, b = plain.owners_bulk(lons, lats), index.owners_bulk(lons, lats)
    for f in FIELDS:
        assert np.array_equal(a[f], b[f]), f


def test_overlapping_polygons_keep_the_tie_break(index):
    """Polygons that overlap in area: the smallest code wins, in the raster as everywhere."""
    overlap = m(box(X0 + 800, Y0 + 100, X0 + 1300, Y0 + 900))
    odd = rebuilt(index, coverage=index.coverage + [Area("JS-0", "零站", overlap)],
                  cells=index.cells + [Area("310115145001999", "", overlap, "001")])
    inside = odd.owner_at(*lonlat(1100, 500))
    assert inside.station["code"] == "JS-0" and inside.grid_code == "310115145001002"
    assert_raster_matches_exact(odd, *edge_and_random_points(odd, np.random.default_rng(24), n=2000))


def test_invalid_polygons_are_left_to_the_exact_path(index):
    bowtie = m(Polygon([(X0 + 100, Y0 + 100), (X0 + 700, Y0 + 700), (X0 + 700, Y0 + 100), (X0 + 100, Y0 + 700)]))
    assert not bowtie.is_valid
    odd = rebuilt(index, workstations=[Area("001", "一站", bowtie)])
    assert_raster_matches_exact(odd, *edge_and_random_points(odd, np.random.default_rng(25), n=2000))


def test_no_internal_edges(index):
    lonely = rebuilt(index, coverage=[Area("JS-A", "A站", index.town)], communities=[], workstations=[])
    lons, lats = edge_and_random_points(lonely, np.random.default_rng(26), n=1000)
    assert not lonely.owners_bulk(lons, lats)["near_boundary"].any()
    assert_raster_matches_exact(lonely, lons, lats)


def test_a_stored_raster_is_mapped_by_the_next_process_and_answers_the_same(index, tmp_path):
    first = rebuilt(index, raster_store=str(tmp_path))
    stored = list(tmp_path.glob("raster-*"))
    assert len(stored) == 1 and {p.name for p in stored[0].iterdir()} == {"face.npy", "near.npy", "faces.npy",
                                                                           "grid.json"}
    second = rebuilt(index, raster_store=str(tmp_path))  # another worker: maps the files, builds nothing
    assert isinstance(second._raster.face, np.memmap) and isinstance(second._raster.faces, np.memmap)
    assert list(tmp_path.glob("raster-*")) == stored
    lons, lats = edge_and_random_points(index, np.random.default_rng(24), n=3000)
    assert_raster_matches_exact(second, lons, lats)
    for a, b in ((first, index), (second, index)):
        got, want = a.owners_bulk(lons, lats), b.owners_bulk(lons, lats)
        for f in FIELDS:
            assert np.array_equal(got[f], want[f]), f


def test_other_polygons_or_sizes_never_reuse_a_stored_raster(index, tmp_path):
    rebuilt(index, raster_store=str(tmp_path))
    moved = [Area(a.code, a.name, shapely.affinity.translate(a.geom, xoff=0.0005), a.parent) for a in index.coverage]
    other = rebuilt(index, coverage=moved, raster_store=str(tmp_path))
    rebuilt(index, pixel_m=9.0, raster_store=str(tmp_path))
    assert len(list(tmp_path.glob("raster-*"))) == 3
    lons, lats = edge_and_random_points(other, np.random.default_rng(25), n=2000)
    assert_raster_matches_exact(other, lons, lats)


def test_a_broken_or_unwritable_store_costs_only_the_sharing(index, tmp_path):
    rebuilt(index, raster_store=str(tmp_path))
    (folder,) = tmp_path.glob("raster-*")
    (folder / "faces.npy").write_bytes(b"not an array")  # a writer that crashed half-way
    again = rebuilt(index, raster_store=str(tmp_path))
    lons, lats = edge_and_random_points(index, np.random.default_rng(26), n=1000)
    assert_raster_matches_exact(again, lons, lats)
    blocked = tmp_path / "file"
    blocked.write_text("a file where the store's folder should be")
    kept = rebuilt(index, raster_store=str(blocked / "store"))
    assert not isinstance(kept._raster.face, np.memmap)
    assert_raster_matches_exact(kept, lons, lats)
