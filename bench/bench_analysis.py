"""Analysis benchmarks: Gi* over all grid cells, route queries, patrol planning.

- gistar: 1,000,000 synthetic cases (clustered around a few centres) aggregated to the grid cells of
  the current boundary version; our Gi* with 999 permutations against esda's `G_Local(star=True)`
  on the same weights, permutations and seed (what a PySAL user runs; ours calls it, then adds the
  standardised p, FDR and bins), and whether the z values agree to 1e-9. Statistics only:
  aggregation and weights are timed separately and not counted.
- route: 1,000 random pairs of points in the town, snapped and routed on the road network; p50/p99
  against networkx's bidirectional Dijkstra between virtual start and end nodes joined to the
  snapped segments (what a competent networkx user writes; cost only, no geometry), and whether
  both find the same travel time.
- patrol: 40 candidate stops around a station on the real network; OR-Tools with a 2 s limit
  against the best value of a 30 s run (best known), the gap in collected value; a greedy
  best-value-per-second tour as a second baseline (the solver starts from it).

Each ends with one `BENCH ...` line. Needs the boundaries and roads loaded (`make run` or setup).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app import create_app
from app.analysis import hotspots
from app.field import network
from gis import spatial_stats as gh
from routing import patrol

N_CASES = int(os.environ.get("N_CASES", 1_000_000))
N_PAIRS = int(os.environ.get("N_PAIRS", 1000))
PATROL_LIMIT_S = float(os.environ.get("PATROL_LIMIT_S", 2.0))
PATROL_REFERENCE_S = float(os.environ.get("PATROL_REFERENCE_S", 30.0))


def bench_gistar(cells) -> None:
    rng = np.random.default_rng(1)
    n = len(cells.codes)
    t0 = time.perf_counter()
    centres = rng.choice(n, 12, replace=False)
    from scipy.spatial import cKDTree

    near = np.concatenate(cKDTree(cells.xy).query_ball_point(cells.xy[centres], r=600.0))
    hot = rng.choice(near, N_CASES // 3)
    background = rng.integers(0, n, N_CASES - len(hot))
    counts = np.bincount(np.concatenate([hot, background]), minlength=n).astype(float)
    w = cells.weights(hotspots.DEFAULT_DISTANCE_M)
    prep = time.perf_counter() - t0
    import esda

    t0 = time.perf_counter()
    ours = gh.gi_star(counts, w, permutations=999, seed=1)
    seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    theirs = esda.G_Local(counts, w, transform="B", star=True, permutations=999, seed=1, n_jobs=1)
    esda_seconds = time.perf_counter() - t0
    their_z = np.nan_to_num(np.asarray(theirs.Zs, dtype=float), nan=0.0, posinf=0.0, neginf=0.0)
    z_equal = bool(np.allclose(ours.z, their_z, rtol=0, atol=1e-9))
    print(f"gistar: {N_CASES:,} cases over {n} cells (aggregation + weights {prep:.2f} s, not counted); "
          f"999 permutations: ours {seconds:.2f} s (esda's G_Local inside, then the standardised p, FDR and "
          f"bins), esda.G_Local(star=True) alone {esda_seconds:.2f} s, ratio {seconds / esda_seconds:.2f}; "
          f"hot {int((ours.bins > 0).sum())}, cold {int((ours.bins < 0).sum())}; z equal to 1e-9: {z_equal}")
    print(f"BENCH gistar seconds={seconds:.3f} esda_seconds={esda_seconds:.3f} ratio={seconds / esda_seconds:.2f} "
          f"cells={n} z_equal={int(z_equal)}")


def _baseline_route(net, a, b, weight: str) -> float:
    """What a competent networkx user writes: virtual start and end nodes joined to the snapped segments'
    nodes, one bidirectional Dijkstra, the virtual nodes removed again (on a copy: the app's graph is shared)."""
    import networkx as nx

    g = net.baseline_graph
    for node, cost in net.exits(a, weight):
        g.add_edge("s", node, **{weight: cost})
    for node, cost in net.entries(b, weight):
        g.add_edge(node, "t", **{weight: cost})
    try:
        cost, _ = nx.bidirectional_dijkstra(g, "s", "t", weight=weight)
    finally:
        g.remove_nodes_from(("s", "t"))
    direct = net._direct(a, b, weight)
    return min(cost, direct) if direct is not None else cost


def bench_route(net) -> None:
    rng = np.random.default_rng(2)
    lo, hi = net.node_xy.min(axis=0), net.node_xy.max(axis=0)
    pts = rng.uniform(lo, hi, size=(N_PAIRS * 2, 2))
    snaps = net.snap_many(pts, max_m=np.inf)
    net.baseline_graph = net.graph.copy()
    times, base, same = [], [], 0
    for k in range(N_PAIRS):
        a, b = snaps[2 * k], snaps[2 * k + 1]
        t0 = time.perf_counter()
        found = net.route(a, b, "time")
        times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        expected = _baseline_route(net, a, b, "time")
        base.append(time.perf_counter() - t0)
        same += abs(found.time_s - expected) <= 1e-6 * max(expected, 1.0)
    ms, bms = np.array(times) * 1000, np.array(base) * 1000
    p50, p99, b50, b99 = (np.percentile(ms, 50), np.percentile(ms, 99), np.percentile(bms, 50),
                          np.percentile(bms, 99))
    print(f"route: {N_PAIRS} pairs on {len(net.node_xy)} nodes / {net.graph.number_of_edges()} edges; "
          f"ours (search + the route's geometry) p50 {p50:.3f} ms p99 {p99:.3f} ms; networkx bidirectional "
          f"Dijkstra between virtual snapped nodes (cost only) p50 {b50:.3f} ms p99 {b99:.3f} ms; "
          f"ratio p50 {p50 / b50:.2f}; same times {same}/{N_PAIRS}")
    print(f"BENCH route p50_ms={p50:.3f} p99_ms={p99:.3f} baseline_p50_ms={b50:.3f} ratio_p50={p50 / b50:.2f} "
          f"same={same}/{N_PAIRS}")


def greedy(times: np.ndarray, values: list[float], service: int, shift: int) -> float:
    """Baseline: repeatedly go to the unvisited stop with the best value per second that still fits."""
    here, used, total, left = 0, 0.0, 0.0, set(range(len(values)))
    while True:
        best, score = None, 0.0
        for i in left:
            cost = times[here, i + 1] + service
            if used + cost + times[i + 1, 0] <= shift and values[i] / max(cost, 1) > score:
                best, score = i, values[i] / max(cost, 1)
        if best is None:
            return total
        used += times[here, best + 1] + service
        total += values[best]
        here = best + 1
        left.remove(best)


def bench_patrol(session, net) -> None:
    from geoalchemy2.shape import to_shape
    from sqlalchemy import select

    from app.territory.models import Station

    station = session.scalar(select(Station).where(Station.code == "JS-003"))
    home = to_shape(station.location)
    depot = network.snap(net, home.x, home.y, "station", 1000)
    rng = np.random.default_rng(3)
    stops = net.snap_many(np.array([depot.x, depot.y]) + rng.uniform(-3000, 3000, size=(40, 2)), max_m=np.inf)
    points = [depot, *stops]
    times = np.ceil(net.costs(points, points, "length") / (15 / 3.6))
    np.fill_diagonal(times, 0)
    values = [float(v) for v in rng.integers(1, 10, size=40)]
    shift, service = 3 * 3600, 300
    t0 = time.perf_counter()
    quick = patrol.plan(times, values, service, shift, time_limit_s=PATROL_LIMIT_S)
    seconds = time.perf_counter() - t0
    reference = patrol.plan(times, values, service, shift, time_limit_s=PATROL_REFERENCE_S)
    g = greedy(times, values, service, shift)
    best = max(reference.value, quick.value, g)
    gap = 100 * (best - quick.value) / best if best else 0.0
    print(f"patrol: 40 stops, 3 h shift, 5 min per stop at 15 km/h: {seconds:.2f} s -> value {quick.value:g} "
          f"({len(quick.order)} stops, {quick.total_s / 60:.0f} min); "
          f"{PATROL_REFERENCE_S:g} s run {reference.value:g}; "
          f"greedy {g:g} ({100 * (best - g) / best:.1f}% below best)")
    print(f"BENCH patrol seconds={seconds:.2f} gap_pct={gap:.2f} greedy_gap_pct={100 * (best - g) / best:.2f}")


def main() -> None:
    app = create_app({"WARM_CACHES": False, "SCHEDULER": False})
    with app.app_context(), app.extensions["db"].transaction() as session:
        cells = hotspots.cell_set(session)
        net = network.get(session)
        bench_gistar(cells)
        bench_route(net)
        bench_patrol(session, net)


if __name__ == "__main__":
    main()
