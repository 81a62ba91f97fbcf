"""The inside summary of an incident's affected area (app/command/summary.py) on the full illustrative data
with 200,000 cases, against the best single plain-PostGIS statement a competent user would write for the same
answer.

A fresh database set up like `make run`, the demo duty office (roster, resources, compound populations) and
`demo bulk-cases` (200,000 cases, about 30 % open); ANALYZE. Then INCIDENT_AREAS 2 km buffers (EPSG:4550)
around random points of the town; for each, ours (`summary.inside`: one indexed query per part, the duty board
joined to the stations whose territory reaches the area) and the baseline (one statement: a CTE of the area and
one scalar subquery per part on the same GiST indexes) run alternately, each timed REPEATS times. p50/p95 in
milliseconds, the ratio baseline / ours (above 1: ours is faster), and whether both give the same counts.
Ends with one `BENCH incident ...` line.

    INCIDENT_CASES (200000), INCIDENT_AREAS (20), INCIDENT_REPEATS (3).
"""

from __future__ import annotations

import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.support import drop_database, fresh_database

CASES = int(os.environ.get("INCIDENT_CASES", 200_000))
AREAS = int(os.environ.get("INCIDENT_AREAS", 20))
REPEATS = int(os.environ.get("INCIDENT_REPEATS", 3))
BUFFER_M = 2000.0

# What a competent PostGIS user writes: the area once, one scalar subquery per part, the same indexes.
BASELINE = text("""
WITH a AS (SELECT ST_Transform(ST_Buffer(ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 4550), :m), 4326)
                  AS g),
     v AS (SELECT id FROM boundary_versions WHERE effective_from <= statement_timestamp() ORDER BY id DESC LIMIT 1),
     comp AS (SELECT ad.compound, count(*) AS buildings FROM addresses ad, a
              WHERE ad.kind = 'building' AND ad.compound IS NOT NULL AND ST_Intersects(ad.geom, a.g)
              GROUP BY ad.compound),
     stn AS (SELECT s.code FROM stations s, a WHERE s.active AND ST_Intersects(s.location, a.g)
             UNION SELECT c.station_code FROM station_coverage c, a, v
             WHERE c.version_id = v.id AND ST_Intersects(c.geom, a.g))
SELECT
  (SELECT ST_Area(ST_Transform(g, 4550)) FROM a) AS area_m2,
  (SELECT count(*) FROM grid_cells c, a, v WHERE c.version_low <= v.id AND (c.version_high IS NULL
     OR c.version_high >= v.id) AND ST_Intersects(c.geom, a.g)) AS grid_cells,
  (SELECT count(*) FROM admin_areas x, a, v WHERE x.level = 'community' AND x.version_low <= v.id
     AND (x.version_high IS NULL OR x.version_high >= v.id) AND ST_Intersects(x.geom, a.g)) AS communities,
  (SELECT count(*) FROM admin_areas x, a, v WHERE x.level = 'workstation' AND x.version_low <= v.id
     AND (x.version_high IS NULL OR x.version_high >= v.id) AND ST_Intersects(x.geom, a.g)) AS workstations,
  (SELECT count(*) FROM comp) AS compounds,
  (SELECT coalesce(sum(p.population), 0) FROM comp LEFT JOIN compound_populations p USING (compound)) AS population,
  (SELECT count(*) FROM addresses ad, a WHERE ad.kind = 'place' AND ST_Intersects(ad.geom, a.g)) AS places,
  (SELECT count(*) FROM cases k, a WHERE ST_Intersects(k.geom, a.g)
     AND k.state NOT IN ('not_filed', 'closed', 'archived', 'void')) AS open_cases,
  (SELECT count(*) FROM stations s, a WHERE s.active AND ST_Intersects(s.location, a.g)) AS stations,
  (SELECT count(*) FROM duty_assignments d JOIN duty_positions p ON p.code = d.position_code
     WHERE p.station_code IN (SELECT code FROM stn) AND d.starts_at <= :now AND d.ends_at > :now) AS on_duty,
  (SELECT count(*) FROM resources r, a WHERE ST_Intersects(r.geom, a.g)) AS resources
""")


def ours(session, lon: float, lat: float, now: datetime) -> dict:
    from sqlalchemy import func

    from app.command import summary
    from gis.crs import METRIC_EPSG, STORAGE_EPSG

    area = session.scalar(func.ST_Transform(func.ST_Buffer(func.ST_Transform(
        func.ST_SetSRID(func.ST_MakePoint(lon, lat), STORAGE_EPSG), METRIC_EPSG), BUFFER_M), STORAGE_EPSG))
    s = summary.inside(session, area, now)
    return {"grid_cells": s["grid_cells"], "communities": len(s["communities"]),
            "workstations": len(s["workstations"]), "compounds": len(s["compounds"]), "population": s["population"],
            "places": len(s["places"]), "open_cases": s["open_cases"], "stations": len(s["stations"]),
            "on_duty": len(s["on_duty"]), "resources": len(s["resources"])}


def baseline(session, lon: float, lat: float, now: datetime) -> dict:
    row = session.execute(BASELINE, {"lon": lon, "lat": lat, "m": BUFFER_M, "now": now}).mappings().one()
    return {k: int(v) for k, v in row.items() if k != "area_m2"}


def timed(fn, *args) -> tuple[float, dict]:
    t0 = time.perf_counter()
    result = fn(*args)
    return (time.perf_counter() - t0) * 1000, result


def main() -> None:
    from app import create_app
    from app.config import normalise_db_url
    from app.demo import bulk_cases

    base = make_url(normalise_db_url(os.environ["DATABASE_URL"]))
    url, _password, _bbox = fresh_database(base, "bench_incident", "bench", "commander")
    try:
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench"})
        db = app.extensions["db"]
        t0 = time.perf_counter()
        from app.command import demo as command_demo

        with db.transaction() as s:
            made = command_demo.seed(s)
            bulk_cases(s, CASES)
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
        print(f"bench_incident: data ready in {time.perf_counter() - t0:.1f} s ({CASES:,} cases, "
              f"{made['assignments']} duty assignments, {made['resources']} resources, "
              f"{made['populations']} compounds with a population)", flush=True)
        with db.transaction() as s:  # random points of the town, seeded (ST_GeneratePoints' third argument)
            town = s.execute(text("SELECT ST_X(p), ST_Y(p) FROM (SELECT (ST_Dump(ST_GeneratePoints(geom, :n, 5))).geom"
                                  " p FROM admin_areas WHERE level = 'town' AND version_high IS NULL) q"),
                             {"n": AREAS}).all()
        now = datetime.now(UTC)
        times: dict[str, list[float]] = {"ours": [], "baseline": []}
        agree = True
        with db.transaction() as s:
            ours(s, *town[0], now), baseline(s, *town[0], now)  # warm both (plans, the first network read)
            for i, (lon, lat) in enumerate(town):
                for r in range(REPEATS):
                    order = (("ours", ours), ("baseline", baseline)) if (i + r) % 2 == 0 else \
                        (("baseline", baseline), ("ours", ours))
                    answers = {}
                    for name, fn in order:
                        ms, answers[name] = timed(fn, s, lon, lat, now)
                        times[name].append(ms)
                    if answers["ours"] != answers["baseline"]:
                        agree = False
                        print("disagree at", lon, lat, answers)
        p = {k: (float(np.percentile(v, 50)), float(np.percentile(v, 95))) for k, v in times.items()}
        ratio50, ratio95 = p["baseline"][0] / p["ours"][0], p["baseline"][1] / p["ours"][1]
        print(f"inside summary of a {BUFFER_M / 1000:.0f} km buffer, {len(town)} areas x {REPEATS}: "
              f"ours p50 {p['ours'][0]:.1f} ms p95 {p['ours'][1]:.1f} ms; one plain-PostGIS statement p50 "
              f"{p['baseline'][0]:.1f} ms p95 {p['baseline'][1]:.1f} ms; ratio (baseline / ours) p50 {ratio50:.2f} "
              f"p95 {ratio95:.2f}; same counts: {agree}")
        print(f"BENCH incident p50_ms={p['ours'][0]:.1f} p95_ms={p['ours'][1]:.1f} "
              f"baseline_p50_ms={p['baseline'][0]:.1f} baseline_p95_ms={p['baseline'][1]:.1f} "
              f"ratio_p95={ratio95:.2f} cases={CASES} areas={len(town)} agree={int(agree)}")
        db.engine.dispose()
    finally:
        drop_database(base, url)


if __name__ == "__main__":
    main()
