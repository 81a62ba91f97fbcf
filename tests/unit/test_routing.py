"""The road network on a small graph with known shortest paths: snapping, one-way streets, speeds,
unreachable points, the many-to-many costs; and the OSM/GeoPackage importers."""

from __future__ import annotations

import numpy as np
import pytest
from shapely.geometry import LineString

from routing.network import RoadNetwork, Segment, Unreachable


def seg(i, coords, oneway=False, speed=36.0, name=None):
    return Segment(i, name or f"r{i}", "local", oneway, speed, LineString(coords))


def grid_network(changes: dict | None = None) -> RoadNetwork:
    """A 3x3 grid of 100 m blocks (nodes at 0/100/200); 36 km/h = 10 m/s unless changed.

    Segments: rows y=0: 0, 1; y=100: 2, 3; y=200: 4, 5; columns x=0: 6, 7; x=100: 8, 9; x=200: 10, 11.
    """
    kw = changes or {}
    segments, i = [], 0
    for y in (0, 100, 200):
        for x in (0, 100):
            segments.append(seg(i, [(x, y), (x + 100, y)], **kw.get(i, {})))
            i += 1
    for x in (0, 100, 200):
        for y in (0, 100):
            segments.append(seg(i, [(x, y), (x, y + 100)], **kw.get(i, {})))
            i += 1
    return RoadNetwork(segments)


def test_shortest_path_on_a_grid_with_snapping():
    net = grid_network()
    a = net.snap(50, -3)  # 3 m below the middle of the bottom-left block's edge
    b = net.snap(200, 150)  # on the right edge, half-way up the top block
    assert a.distance == pytest.approx(3) and (a.x, a.y) == (50, 0)
    r = net.route(a, b, "length")
    # 50 to the corner (100,0), 100 across, 150 up: 300 m; or the other way round: also >= 300
    assert r.length_m == pytest.approx(300)
    assert r.time_s == pytest.approx(30)
    assert LineString(r.coords).length == pytest.approx(r.length_m)
    assert r.coords[0] == (50, 0) and r.coords[-1] == (200, 150)


def test_a_point_on_the_same_segment_goes_straight_there():
    net = grid_network()
    r = net.route(net.snap(10, 0), net.snap(90, 0), "length")
    assert r.length_m == pytest.approx(80) and r.nodes == []


def test_one_way_streets_force_a_detour():
    # Bottom-left edge (segment 0, 0,0 -> 100,0) becomes one-way eastwards.
    net = grid_network({0: {"oneway": True}})
    east = net.route(net.snap(10, 0), net.snap(90, 0), "length")
    west = net.route(net.snap(90, 0), net.snap(10, 0), "length")
    assert east.length_m == pytest.approx(80)
    # east 10 m to (100,0), up 100, west 100, down 100, then east 10 m along the one-way edge: 320
    assert west.length_m == pytest.approx(320)
    costs = net.costs([net.snap(90, 0), net.snap(10, 0)], [net.snap(10, 0), net.snap(90, 0)], "length")
    assert costs == pytest.approx(np.array([[320, 0], [0, 80]]))


def test_time_and_length_can_choose_different_paths():
    # The right column is a fast road (72 km/h = 20 m/s); the direct middle row is slow (7.2 km/h).
    changes = {i: {"speed": 72.0} for i in (0, 1, 4, 5, 6, 7, 10, 11)}
    changes.update({i: {"speed": 7.2} for i in (2, 3)})
    net = grid_network(changes)
    a, b = net.snap(0, 100), net.snap(200, 100)
    by_length = net.route(a, b, "length")
    by_time = net.route(a, b, "time")
    assert by_length.length_m == pytest.approx(200)
    assert by_time.length_m == pytest.approx(400)  # around on fast roads
    assert by_time.time_s < by_length.time_s


def test_unreachable_points_and_one_way_traps():
    net = grid_network()
    with pytest.raises(Unreachable) as exc:
        net.snap(1000, 1000, field="to", max_m=200)
    assert exc.value.field == "to" and "m from the nearest road" in exc.value.message
    # A dead-end one-way spur leaving the grid: not strongly connected, so points snap elsewhere.
    spur = [*grid_network().segments, seg(99, [(200, 200), (300, 300)], oneway=True)]
    net2 = RoadNetwork(spur)
    assert not net2.routable[-1]
    s = net2.snap(290, 290)
    assert s.seg != 12 and (s.x, s.y) == (200, 200)


@pytest.mark.parametrize("build, x, y", [
    # One one-way street: its two ends are two strongly connected parts, so no segment is routable.
    (lambda: RoadNetwork([seg(1, [(0, 0), (100, 0)], oneway=True)]), 50.0, 5.0),
    # A point that is not finite (a failed projection): no segment is nearest to it.
    (grid_network, float("nan"), 0.0),
    (grid_network, float("inf"), float("inf")),
])
def test_a_point_with_no_road_to_snap_to_is_unreachable(build, x, y):
    """snap() used to fail with AttributeError on None from snap_many (a 500 instead of the field's error)."""
    with pytest.raises(Unreachable) as exc:
        build().snap(x, y, field="from")
    assert exc.value.field == "from" and "cannot be placed on any road" in exc.value.message


def test_costs_agree_with_routes_both_ways():
    net = grid_network({3: {"oneway": True}, 8: {"oneway": True}})
    rng = np.random.default_rng(4)
    pts = [net.snap(*p) for p in rng.uniform(0, 200, size=(12, 2))]
    for weight in ("length", "time"):
        m = net.costs(pts[:6], pts[6:], weight)
        for i in range(6):
            for j in range(6):
                r = net.route(pts[i], pts[6 + j], weight)
                assert m[i, j] == pytest.approx(r.length_m if weight == "length" else r.time_s)


def test_intersections_are_nodes_with_three_roads():
    net = grid_network()
    xy = {tuple(net.node_xy[n]) for n in net.intersections()}
    assert xy == {(100, 0), (0, 100), (100, 100), (200, 100), (100, 200)}


def _reference_cost(net: RoadNetwork, a, b, weight: str) -> float:
    """What the router must find: the best of every exit x entry pair through networkx, or the direct way."""
    import networkx as nx

    best = np.inf
    for ex, ce in net.exits(a, weight):
        for en, cn in net.entries(b, weight):
            try:
                best = min(best, ce + nx.dijkstra_path_length(net.graph, ex, en, weight=weight) + cn)
            except nx.NetworkXNoPath:
                pass
    direct = net._direct(a, b, weight)
    return min(best, direct) if direct is not None else best


def test_one_search_finds_what_every_pair_of_searches_finds():
    """A random street grid with one-way streets and mixed speeds: the one bidirectional search between
    virtual start and end gives the same cost (and a path of that cost) as the exhaustive reference."""
    rng = np.random.default_rng(7)
    segments, i = [], 0
    for y in range(0, 1000, 100):
        for x in range(0, 900, 100):
            segments.append(seg(i, [(x, y), (x + 100, y)], oneway=bool(rng.random() < 0.3),
                                speed=float(rng.choice([20, 30, 50]))))
            i += 1
    for x in range(0, 1000, 100):
        for y in range(0, 900, 100):
            segments.append(seg(i, [(x, y), (x, y + 100)], oneway=bool(rng.random() < 0.3),
                                speed=float(rng.choice([20, 30, 50]))))
            i += 1
    net = RoadNetwork(segments)
    points = net.snap_many(rng.uniform(0, 900, size=(400, 2)), max_m=np.inf)
    checked = 0
    for k in range(0, 400, 2):
        a, b = points[k], points[k + 1]
        for weight in ("time", "length"):
            expected = _reference_cost(net, a, b, weight)
            if not np.isfinite(expected):
                with pytest.raises(Unreachable):
                    net.route(a, b, weight)
                continue
            found = net.route(a, b, weight)
            assert (found.time_s if weight == "time" else found.length_m) == pytest.approx(expected, rel=1e-9)
            checked += 1
    assert checked > 300
