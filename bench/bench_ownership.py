"""Ownership benchmark: vectorised path vs per-point R-tree path vs a PostGIS ST_Covers join.

Random points over the town's bounding box, the grid cells and station coverage of the current
boundary version. Prints points per second of each path, the ratios, the single-lookup p50/p99,
and whether the three agree; ends with one `BENCH ownership ...` line.
    N_POINTS (default 1,000,000) points for the vectorised path; the per-point and PostGIS paths
    use a sample of N_SAMPLE (default 50,000) of the same points.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app import create_app  # noqa: E402
from app.db import db  # noqa: E402

N_POINTS = int(os.environ.get("N_POINTS", 1_000_000))
N_SAMPLE = int(os.environ.get("N_SAMPLE", 50_000))


def postgis_owners(session, version: int, lons, lats) -> tuple[list, list, float]:
    """Grid code and station per point by ST_Covers (smallest code on shared edges); query time only."""
    session.execute(text("CREATE TEMP TABLE bench_pts (i int PRIMARY KEY, geom geometry(Point, 4326)) ON COMMIT DROP"))
    session.execute(
        text("INSERT INTO bench_pts SELECT i, ST_SetSRID(ST_MakePoint(x, y), 4326) "
             "FROM unnest(CAST(:xs AS float8[]), CAST(:ys AS float8[])) WITH ORDINALITY AS t(x, y, i)"),
        {"xs": list(map(float, lons)), "ys": list(map(float, lats))},
    )
    session.execute(text("ANALYZE bench_pts"))
    start = time.perf_counter()
    cells = session.execute(text(
        "SELECT p.i, (SELECT c.code FROM grid_cells c WHERE c.version_high IS NULL AND ST_Covers(c.geom, p.geom) "
        "ORDER BY c.code LIMIT 1) FROM bench_pts p ORDER BY p.i"
    )).all()
    stations = session.execute(text(
        "SELECT p.i, (SELECT s.station_code FROM station_coverage s WHERE s.version_id = :v "
        "AND ST_Covers(s.geom, p.geom) ORDER BY s.station_code LIMIT 1) FROM bench_pts p ORDER BY p.i"
    ), {"v": version}).all()
    elapsed = time.perf_counter() - start
    return [c for _, c in cells], [s for _, s in stations], elapsed


def main() -> None:
    app = create_app()
    with app.app_context():
        session = db.session()
        index = app.extensions["ownership"].get(session)
        rng = np.random.default_rng(2026)
        minx, miny, maxx, maxy = index.town.bounds
        lons, lats = rng.uniform(minx, maxx, N_POINTS), rng.uniform(miny, maxy, N_POINTS)

        index.owners_bulk(lons[:1000], lats[:1000])  # warm up
        start = time.perf_counter()
        bulk = index.owners_bulk(lons, lats)
        vectorised = N_POINTS / (time.perf_counter() - start)

        sample = slice(0, N_SAMPLE)
        timings = np.empty(N_SAMPLE)
        single = []
        for i in range(N_SAMPLE):
            t0 = time.perf_counter()
            single.append(index.owner_at(lons[i], lats[i]))
            timings[i] = time.perf_counter() - t0
        per_point = N_SAMPLE / timings.sum()

        cells, stations, pg_seconds = postgis_owners(session, index.version, lons[sample], lats[sample])
        session.rollback()
        postgis = N_SAMPLE / pg_seconds

    bulk_cells, bulk_stations = bulk["grid_code"][sample], bulk["station"][sample]
    mismatch = sum(
        1 for i in range(N_SAMPLE)
        if not (single[i].grid_code == bulk_cells[i] == cells[i]
                and single[i].station["code"] == bulk_stations[i] == (stations[i] or index.town_center["code"]))
    )
    print(f"points: {N_POINTS:,} vectorised; {N_SAMPLE:,} per-point and PostGIS (same points)")
    print(f"vectorised  {vectorised:>12,.0f} points/s")
    print(f"R-tree      {per_point:>12,.0f} points/s   single lookup p50 {np.percentile(timings, 50) * 1e6:.1f} us, "
          f"p99 {np.percentile(timings, 99) * 1e6:.1f} us")
    print(f"PostGIS     {postgis:>12,.0f} points/s   (ST_Covers join, query time only)")
    print(f"vectorised / PostGIS = {vectorised / postgis:.1f}x; R-tree / PostGIS = {per_point / postgis:.1f}x; "
          f"disagreements {mismatch} of {N_SAMPLE}")
    print(f"BENCH ownership vectorised_pts_per_s={vectorised:.0f} rtree_pts_per_s={per_point:.0f} "
          f"postgis_pts_per_s={postgis:.0f} vs_postgis={vectorised / postgis:.2f} "
          f"single_p99_us={np.percentile(timings, 99) * 1e6:.1f} agree={'true' if mismatch == 0 else 'false'}")


if __name__ == "__main__":
    main()
