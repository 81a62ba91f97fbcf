"""Ownership benchmark: the raster-first paths vs the exact paths vs tuned PostGIS.

Random points over the town's bounding box, the grid cells and station coverage of the current
boundary version. Prints points per second of each path, the ratios, single-lookup p50/p99, the
index's build time and memory, and whether all paths agree; ends with one `BENCH ownership ...` line.

- vectorised: `owners_bulk` (answer raster, exact STRtree queries for what it cannot answer);
- exact vectorised: `owners_bulk_exact` (STRtree queries only, the path before the raster);
- R-tree: `owner_at_exact`, per point through the R-trees (the reference per-point path);
- single: `owner_at` (answer raster, R-trees for what it cannot answer), timed call by call;
- PostGIS, tuned as a competent PostGIS user would: JIT off, every layer `ST_Subdivide`d (64
  vertices a piece) into indexed temporary tables, all seven fields the app computes (station,
  community, workstation, grid cell, near_boundary against the internal edges in EPSG:4550,
  fallback, inside_town), smallest code on shared edges; query time only, the upload of the points
  and the subdividing reported separately.

Agreement: every field of all four Python paths on the sample, plus the vectorised paths on all
points and on points on and near every polygon edge (where the raster hands over to the exact
path), and all seven fields against PostGIS on the sample.
    N_POINTS (default 1,000,000) points for the vectorised paths; the per-point and PostGIS paths
    use a sample of N_SAMPLE (default 50,000) of the same points.
"""

from __future__ import annotations

import os
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import shapely
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app import create_app
from app.db import db
from app.territory import caches
from app.territory.caches import build_index
from gis.crs import to_metric
from gis.ownership import LAYERS

N_POINTS = int(os.environ.get("N_POINTS", 1_000_000))
N_SAMPLE = int(os.environ.get("N_SAMPLE", 50_000))
N_EDGE = int(os.environ.get("N_EDGE", 200_000))
FIELDS = ("station", "community", "workstation", "grid_code", "near_boundary", "fallback", "inside_town")


SUBDIVIDE = 64  # vertices per piece: what a PostGIS user does to big polygons before point-in-polygon joins


def _pieces(session, name: str, select_sql: str, params: dict) -> None:
    """A temporary table of subdivided polygons (code, geom) with its GiST index, analysed."""
    session.execute(text(f"CREATE TEMP TABLE {name} ON COMMIT DROP AS SELECT code, ST_Subdivide(geom, {SUBDIVIDE}) "
                         f"AS geom FROM ({select_sql}) t"), params)
    session.execute(text(f"CREATE INDEX ON {name} USING gist (geom)"))
    session.execute(text(f"ANALYZE {name}"))


def postgis_owners(session, version: int, near_m: float, lons, lats) -> tuple[list[tuple], float, float, float]:
    """All seven fields per point from tuned PostGIS: JIT off, every layer subdivided and indexed, the
    internal edges (not the town's outline) in EPSG:4550 for near_boundary, smallest code on shared edges.
    Returns (rows in FIELDS order, preparation seconds, upload seconds, query seconds)."""
    session.execute(text("SET LOCAL jit = off"))
    start = time.perf_counter()
    current = "version_high IS NULL"
    _pieces(session, "pg_station", "SELECT station_code AS code, geom FROM station_coverage WHERE version_id = :v",
            {"v": version})
    _pieces(session, "pg_community", f"SELECT code, geom FROM admin_areas WHERE level = 'community' AND {current}", {})
    _pieces(session, "pg_workstation", f"SELECT code, geom FROM admin_areas WHERE level = 'workstation' AND {current}",
            {})
    _pieces(session, "pg_cell", f"SELECT code, geom FROM grid_cells WHERE {current}", {})
    _pieces(session, "pg_town", f"SELECT code, geom FROM admin_areas WHERE level = 'town' AND {current}", {})
    session.execute(text(  # each town's center station (a district holds several towns), the fallback owner
        "CREATE TEMP TABLE pg_center ON COMMIT DROP AS SELECT DISTINCT ON (t.code) t.code AS town, s.code "
        f"FROM admin_areas t JOIN stations s ON s.tier = 'town_center' AND ST_Covers(t.geom, s.location) "
        f"WHERE t.level = 'town' AND t.{current} ORDER BY t.code, s.id"))
    session.execute(text(
        "CREATE TEMP TABLE pg_edge ON COMMIT DROP AS SELECT ST_Subdivide(ST_Difference(ST_Boundary(ST_Transform("
        "a.geom, 4550)), (SELECT ST_Buffer(ST_Boundary(ST_Transform(ST_Union(geom), 4550)), 1.0) FROM admin_areas "
        f"WHERE level = 'town' AND {current})), {SUBDIVIDE}) AS geom FROM (SELECT geom FROM station_coverage "
        f"WHERE version_id = :v UNION ALL SELECT geom FROM admin_areas WHERE level IN ('community', 'workstation') "
        f"AND {current}) a"), {"v": version})
    session.execute(text("CREATE INDEX ON pg_edge USING gist (geom)"))
    session.execute(text("ANALYZE pg_edge"))
    prepared = time.perf_counter() - start
    start = time.perf_counter()
    session.execute(text("CREATE TEMP TABLE bench_pts (i int PRIMARY KEY, geom geometry(Point, 4326)) ON COMMIT DROP"))
    session.execute(
        text("INSERT INTO bench_pts SELECT i, ST_SetSRID(ST_MakePoint(x, y), 4326) "
             "FROM unnest(CAST(:xs AS float8[]), CAST(:ys AS float8[])) WITH ORDINALITY AS t(x, y, i)"),
        {"xs": list(map(float, lons)), "ys": list(map(float, lats))},
    )
    session.execute(text("ANALYZE bench_pts"))
    uploaded = time.perf_counter() - start

    def first(table: str) -> str:
        return f"(SELECT x.code FROM {table} x WHERE ST_Covers(x.geom, p.geom) ORDER BY x.code LIMIT 1)"

    start = time.perf_counter()
    rows = session.execute(text(  # no covering station: the center of the point's town, else the first town's
        "SELECT COALESCE(station, (SELECT code FROM pg_center WHERE pg_center.town = o.town), "
        "(SELECT code FROM pg_center ORDER BY town LIMIT 1)), community, workstation, cell, near, station IS NULL, "
        "town IS NOT NULL FROM ("
        f"SELECT {first('pg_station')} AS station, {first('pg_community')} AS community, "
        f"{first('pg_workstation')} AS workstation, {first('pg_cell')} AS cell, "
        "EXISTS (SELECT 1 FROM pg_edge e WHERE ST_DWithin(e.geom, ST_Transform(p.geom, 4550), :near)) AS near, "
        f"{first('pg_town')} AS town, p.i FROM bench_pts p) o ORDER BY o.i"
    ), {"near": near_m}).all()
    queried = time.perf_counter() - start
    out = [(station, community, workstation, cell, near, fallback, inside)
           for station, community, workstation, cell, near, fallback, inside in rows]
    return out, prepared, uploaded, queried


def as_row(owners) -> tuple:
    """One `Owners` in the field order of FIELDS, codes only."""
    return (owners.station["code"], (owners.community or {}).get("code"), (owners.workstation or {}).get("code"),
            owners.grid_code, owners.near_boundary, owners.fallback, owners.inside_town)


def bulk_rows(bulk: dict, i: int) -> tuple:
    return tuple(bulk[f][i] for f in FIELDS)


def bulk_mismatches(a: dict, b: dict) -> int:
    """Points where two bulk answers differ in any field."""
    differ = np.zeros(len(a["station"]), dtype=bool)
    for f in FIELDS:
        differ |= a[f] != b[f]
    return int(differ.sum())


def edge_points(index, n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Points where the raster hands over to the exact path: polygon vertices, points on polygon edges
    (all layers and the town), within a few pixels of them, and around `near_m` from them."""
    geoms = np.concatenate([index._layers[name].geoms for name in LAYERS] + [np.array([index.town])])
    coords, ring = shapely.get_coordinates(shapely.get_rings(shapely.get_parts(geoms)), return_index=True)
    starts = np.flatnonzero(ring[:-1] == ring[1:])  # a segment from coords[i] to coords[i + 1]
    pick = starts[rng.integers(0, len(starts), n)]
    t = np.where(np.arange(n) % 4 == 0, 0.0, rng.uniform(0, 1, n))  # a quarter exactly on vertices
    xy = coords[pick] + t[:, None] * (coords[pick + 1] - coords[pick])
    minx, miny, maxx, maxy = index.town.bounds
    metric = shapely.get_coordinates(to_metric(shapely.points([minx, maxx, minx], [miny, miny, maxy])))
    deg_per_m = np.array([(maxx - minx) / np.hypot(*(metric[1] - metric[0])),
                          (maxy - miny) / np.hypot(*(metric[2] - metric[0]))])
    pixel = index.pixel_m or 1.0
    reach = np.select([np.arange(n) % 4 < 2, np.arange(n) % 4 == 2], [0.0, 3 * pixel], index.near_m + 3 * pixel)
    angle = rng.uniform(0, 2 * np.pi, n)
    offset = (reach * rng.uniform(0, 1, n))[:, None] * np.column_stack([np.cos(angle), np.sin(angle)]) * deg_per_m
    xy = xy + offset
    return xy[:, 0], xy[:, 1]


def main() -> None:
    app = create_app()
    with app.app_context():
        session = db.session()
        index = caches.ownership(session)
        start = time.perf_counter()
        build_index(session, index.version, index.near_m)
        build_s = time.perf_counter() - start  # what a worker pays when the boundary version changes
        tracemalloc.start()  # a second build, for its peak memory only: numpy and Python, not GEOS or rtree
        build_index(session, index.version, index.near_m)
        build_peak_mb = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
        rng = np.random.default_rng(2026)
        minx, miny, maxx, maxy = index.town.bounds
        lons, lats = rng.uniform(minx, maxx, N_POINTS), rng.uniform(miny, maxy, N_POINTS)

        index.owners_bulk(lons[:1000], lats[:1000])  # warm up
        index.owners_bulk_exact(lons[:1000], lats[:1000])
        start = time.perf_counter()
        bulk = index.owners_bulk(lons, lats)
        vectorised = N_POINTS / (time.perf_counter() - start)
        start = time.perf_counter()
        bulk_exact = index.owners_bulk_exact(lons, lats)
        vectorised_exact = N_POINTS / (time.perf_counter() - start)

        sample = slice(0, N_SAMPLE)
        exact_timings, single_timings = np.empty(N_SAMPLE), np.empty(N_SAMPLE)
        exact, single = [], []
        for i in range(N_SAMPLE):
            t0 = time.perf_counter()
            exact.append(index.owner_at_exact(lons[i], lats[i]))
            exact_timings[i] = time.perf_counter() - t0
        for i in range(N_SAMPLE):
            t0 = time.perf_counter()
            single.append(index.owner_at(lons[i], lats[i]))
            single_timings[i] = time.perf_counter() - t0
        per_point = N_SAMPLE / exact_timings.sum()
        single_rate = N_SAMPLE / single_timings.sum()

        pg_rows, pg_prepare_s, pg_upload_s, pg_seconds = postgis_owners(session, index.version, index.near_m,
                                                                         lons[sample], lats[sample])
        session.rollback()
        postgis = N_SAMPLE / pg_seconds

        edge_lons, edge_lats = edge_points(index, N_EDGE, rng)
        edge_bulk, edge_exact = index.owners_bulk(edge_lons, edge_lats), index.owners_bulk_exact(edge_lons, edge_lats)
        edge_share = index.exact_share(edge_lons, edge_lats)
        edge_single = sum(1 for i in range(0, N_EDGE, 10)
                          if as_row(index.owner_at(edge_lons[i], edge_lats[i])) != bulk_rows(edge_exact, i))
        build_mb = index.raster_bytes / 1e6
        exact_share = index.exact_share(lons, lats)

    python_paths = sum(
        1 for i in range(N_SAMPLE)
        if not (as_row(exact[i]) == as_row(single[i]) == bulk_rows(bulk, i) == bulk_rows(bulk_exact, i))
    )
    bulk_paths = bulk_mismatches(bulk, bulk_exact)
    edge_paths = bulk_mismatches(edge_bulk, edge_exact) + edge_single
    pg = sum(1 for i, row in enumerate(pg_rows) if row != bulk_rows(bulk, i))
    agree = python_paths == bulk_paths == edge_paths == pg == 0
    p50, p99 = (np.percentile(single_timings, q) * 1e6 for q in (50, 99))
    e50, e99 = (np.percentile(exact_timings, q) * 1e6 for q in (50, 99))
    print(f"points: {N_POINTS:,} vectorised; {N_SAMPLE:,} per-point and PostGIS (same points); "
          f"{N_EDGE:,} on and near edges")
    print(f"index build {build_s:.2f} s (read from PostGIS + R-trees + answer raster), peak {build_peak_mb:.0f} MB "
          f"traced; raster {build_mb:.1f} MB; "
          f"{exact_share['layers']:.1%} of random points ask polygons for some layer, "
          f"{exact_share['near']:.1%} the near-boundary edges (near edges: {edge_share['layers']:.0%}, "
          f"{edge_share['near']:.0%})")
    print(f"vectorised        {vectorised:>12,.0f} points/s   (owners_bulk: raster + exact remainder)")
    print(f"exact vectorised  {vectorised_exact:>12,.0f} points/s   (owners_bulk_exact: STRtree only)")
    print(f"single            {single_rate:>12,.0f} points/s   owner_at p50 {p50:.1f} us, p99 {p99:.1f} us")
    print(f"R-tree            {per_point:>12,.0f} points/s   owner_at_exact p50 {e50:.1f} us, p99 {e99:.1f} us")
    print(f"PostGIS           {postgis:>12,.0f} points/s   (tuned: JIT off, subdivided and indexed layers, all seven "
          f"fields; query time only: upload of the points {pg_upload_s:.2f} s and the subdividing "
          f"{pg_prepare_s:.2f} s not counted)")
    print(f"vectorised / PostGIS = {vectorised / postgis:.1f}x; vectorised / exact vectorised = "
          f"{vectorised / vectorised_exact:.1f}x; R-tree / PostGIS = {per_point / postgis:.1f}x; "
          f"single / R-tree = {single_rate / per_point:.1f}x")
    print(f"disagreements: Python paths {python_paths} of {N_SAMPLE}; raster vs exact {bulk_paths} of {N_POINTS} "
          f"random and {edge_paths} of {N_EDGE + -(-N_EDGE // 10)} near edges; PostGIS {pg} of {N_SAMPLE}")
    print(f"BENCH ownership vectorised_pts_per_s={vectorised:.0f} rtree_pts_per_s={per_point:.0f} "
          f"postgis_pts_per_s={postgis:.0f} vs_postgis={vectorised / postgis:.2f} postgis_upload_s={pg_upload_s:.2f} "
          f"exact_vectorised_pts_per_s={vectorised_exact:.0f} single_pts_per_s={single_rate:.0f} "
          f"single_p50_us={p50:.1f} single_p99_us={p99:.1f} rtree_p99_us={e99:.1f} build_s={build_s:.2f} "
          f"raster_mb={build_mb:.1f} build_peak_mb={build_peak_mb:.0f} agree={'true' if agree else 'false'}")


if __name__ == "__main__":
    main()
