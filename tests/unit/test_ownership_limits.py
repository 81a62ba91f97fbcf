"""An ownership index over a broken or absurd boundary version: refused at once, or built in bounded time."""

from __future__ import annotations

import time
import warnings

import pytest
from shapely.geometry import Polygon, box

from gis.crs import to_storage
from gis.ownership import Area, OwnershipIndex

X0, Y0 = 397_000.0, 3_418_000.0  # metres, EPSG:4550, near Dishui Lake


def layout(coverage: list[Area]) -> OwnershipIndex:
    town = to_storage(box(X0, Y0, X0 + 2000, Y0 + 1000))
    return OwnershipIndex(version=9, town=town, town_center={"code": "TC", "name": "中心"}, coverage=coverage,
                          communities=[Area("001", "甲", town)], workstations=[Area("001", "一", town)],
                          cells=[Area("310115145001001", "", town, "001")])


def test_a_territory_over_the_whole_world_builds_in_bounded_time():
    world = Polygon([(-179.9, -89.9), (179.9, -89.9), (179.9, 89.9), (-179.9, 89.9)])
    start = time.perf_counter()
    index = layout([Area("JS-W", "世界", world)])
    assert time.perf_counter() - start < 20  # was over 20 minutes: the raster and the edges spanned the world
    inside = to_storage(box(X0 + 500, Y0 + 500, X0 + 500, Y0 + 500).centroid)
    assert index.owner_at(inside.x, inside.y).station["code"] == "JS-W"
    assert index.owner_at(0.0, 0.0).station["code"] == "JS-W"  # the exact path still answers far away
    assert index.raster_bytes < 200_000_000


def test_a_territory_wholly_outside_the_town_builds_and_owns_nothing_inside():
    far = Polygon([(121.0, 31.0), (121.1, 31.0), (121.1, 31.1), (121.0, 31.1)])
    index = layout([Area("JS-F", "远", far)])
    inside = to_storage(box(X0 + 500, Y0 + 500, X0 + 500, Y0 + 500).centroid)
    assert index.owner_at(inside.x, inside.y).fallback
    assert index.owner_at(121.05, 31.05).station["code"] == "JS-F"


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_a_territory_with_coordinates_that_are_not_finite_is_refused(bad):
    with warnings.catch_warnings():  # shapely warns while making it; the index must refuse it, not warn
        warnings.simplefilter("ignore", RuntimeWarning)
        broken = Polygon([(121.9, 30.9), (bad, 30.9), (121.95, 30.95), (121.9, 30.9)])
    with pytest.raises(ValueError, match="JS-X has coordinates that are not finite"):
        layout([Area("JS-X", "坏", broken)])
