"""District benchmark (`make bench-district`): the platform over a district of N illustrative towns.

Not part of `make bench` (it takes a quarter of an hour). Steps, each timed:

1. The illustrative generator builds a district of BENCH_TOWNS towns (default 10) into
   var/district-N (kept between runs; rebuilt when the generator changes).
2. A fresh database on the DATABASE_URL server (dropped at the end): `flask setup --boundaries`
   migrates and loads it (validation of every layer included).
3. The ownership index: build time and memory of one process with the raster store off (every
   worker holds its own raster), with a cold store (builds and writes it) and a warm one (maps the
   file another process wrote); then `bench/bench_ownership.py` over the district (owners of random
   points: vectorised, per point, and tuned PostGIS on the same points, all fields compared).
4. BENCH_DISTRICT_CASES cases (default 2,000,000) at random points of the towns over the last
   365 days, owners from the index (`owners_bulk`), written with COPY. The cases of the last
   BENCH_OPEN_DAYS (30) days are in the demo's mix of states (20 % still open); older ones are closed
   or archived but for 1 % stuck open: about 36,000 open cases in the district, about a week of
   reports per town (BENCH_OPEN_DAYS=365 keeps 20 % of all cases open: the stress case).
5. gunicorn as `make run` starts it (WORKERS, default 2, RASTER_STORE shared): memory of every
   worker after it has answered (RSS and PSS: pages shared with the other worker count half),
   `GET /api/v1/locate` p50/p99 over random points against the same point asked of tuned PostGIS
   (subdivided layers, one query a point), `POST /api/v1/reports` per second for BENCH_SECONDS,
   the map viewport (`GET /api/v1/cases/map`, open cases) p50/p95 over random viewports of the
   towns, Gi* over every cell of the district (`GET /api/v1/hotspots`, 90 days), the KPI table
   of a month by station (`GET /api/v1/kpi`), and one OGC items page of 1,000 grid cells and of
   1,000 cases.

Ends with one `BENCH district ...` line.

    BENCH_TOWNS (10), BENCH_DISTRICT_CASES (2000000), BENCH_SECONDS (15), BENCH_VIEWPORTS (200),
    BENCH_LOCATES (2000), WORKERS (2).
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import support  # noqa: E402
from bench.bench_intake import load as post_load  # noqa: E402

TOWNS = int(os.environ.get("BENCH_TOWNS", 10))
CASES = int(os.environ.get("BENCH_DISTRICT_CASES", 2_000_000))
SECONDS = float(os.environ.get("BENCH_SECONDS", 15))
VIEWPORTS = int(os.environ.get("BENCH_VIEWPORTS", 200))
LOCATES = int(os.environ.get("BENCH_LOCATES", 2000))
WORKERS = int(os.environ.get("WORKERS", 2))
GENERATOR = ROOT / "data" / "boundaries" / "make_illustrative.py"
FOLDER = ROOT / "var" / f"district-{TOWNS}"
PYTHON = sys.executable


def generate() -> float | None:
    """The district's files (seconds taken, None when the kept ones are newer than the generator)."""
    stamp = FOLDER / "grid_cells.geojson"
    if stamp.exists() and stamp.stat().st_mtime > GENERATOR.stat().st_mtime:
        return None
    start = time.perf_counter()
    subprocess.run([PYTHON, str(GENERATOR), "--towns", str(TOWNS), "--out", str(FOLDER)], check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def setup(base) -> tuple[str, float]:
    """A fresh database migrated and loaded with the district; (url, seconds of `flask setup`)."""
    url = support.new_database(base, "district")
    env = dict(os.environ, DATABASE_URL=url, SECRET_KEY="bench")
    start = time.perf_counter()
    done = subprocess.run([str(ROOT / ".venv" / "bin" / "flask"), "--app", "app", "setup", "--boundaries",
                           str(FOLDER)], env=env, cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"flask setup failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return url, time.perf_counter() - start


def rollup(pid: int | str = "self") -> dict[str, float]:
    """A process's memory in MB from /proc/PID/smaps_rollup: Rss, Pss and Private (clean and dirty)."""
    text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    fields = {k: int(v) / 1024 for k, v in re.findall(r"^(Rss|Pss|Private_Clean|Private_Dirty):\s+(\d+)", text, re.M)}
    return {"Rss": fields.get("Rss", 0.0), "Pss": fields.get("Pss", 0.0),
            "Private": fields.get("Private_Clean", 0.0) + fields.get("Private_Dirty", 0.0)}


INDEX_PROBE = r"""
import json, os, sys, time
sys.path.insert(0, sys.argv[1])
from bench.district import rollup as memory
from app import create_app
from app.territory import caches
app = create_app({"DATABASE_URL": os.environ["DATABASE_URL"], "SECRET_KEY": "bench"})
with app.app_context():
    from app.db import db
    session = db.session()
    version = caches.loaded_version(session)
    before = memory()
    start = time.perf_counter()
    index = caches.build_index(session, version, raster_store=caches.raster_store(sys.argv[2]))
    seconds = time.perf_counter() - start
    index.owners_bulk([121.9], [30.9])
    after = memory()
    print(json.dumps({"seconds": seconds, "raster_mb": index.raster_bytes / 2**20,
                      "rss_mb": after["Rss"] - before["Rss"], "private_mb": after["Private"] - before["Private"]}))
"""


def index_probe(url: str, store: str) -> dict:
    """Build time and memory of the ownership index in a process of its own (RASTER_STORE = `store`)."""
    out = subprocess.run([PYTHON, "-c", INDEX_PROBE, str(ROOT), store], check=True, capture_output=True, text=True,
                         env=dict(os.environ, DATABASE_URL=url, SECRET_KEY="bench"), cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def ownership_bench(url: str) -> tuple[list[str], dict]:
    """bench/bench_ownership.py over the district: its table, and the values of its BENCH line."""
    out = subprocess.run([PYTHON, str(ROOT / "bench" / "bench_ownership.py")], check=True, capture_output=True,
                         text=True, cwd=ROOT, env=dict(os.environ, DATABASE_URL=url, SECRET_KEY="bench",
                                                       N_POINTS="1000000", N_SAMPLE="20000", N_EDGE="100000"))
    lines = out.stdout.strip().splitlines()
    values = dict(re.findall(r"(\w+)=(\S+)", lines[-1]))
    return lines[:-1], values


def town_points(index, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """`n` random points inside the towns (uniform over each town's box, kept when a town covers them)."""
    minx, miny, maxx, maxy = index.town.bounds
    lons, lats = np.empty(0), np.empty(0)
    while len(lons) < n:
        x, y = rng.uniform(minx, maxx, 2 * n), rng.uniform(miny, maxy, 2 * n)
        inside = index.owners_bulk(x, y)["inside_town"]
        lons, lats = np.concatenate([lons, x[inside]]), np.concatenate([lats, y[inside]])
    return lons[:n], lats[:n]


STATES = ("archived", "closed", "in_progress", "dispatched", "handled", "filed")
STATE_SHARE = (0.70, 0.10, 0.06, 0.06, 0.04, 0.04)
OPEN_DAYS = float(os.environ.get("BENCH_OPEN_DAYS", 30))  # cases older than this are closed (STATE_SHARE before)
STUCK_SHARE = 0.01  # ... except this share of them, still open
CATEGORY_CODES = ("09006", "06010", "09010", "07001", "06002", "09008", "01004", "08004")


def insert_cases(url: str, count: int) -> tuple[float, float]:
    """`count` cases at random points of the towns over the last 365 days, owners from the ownership index, written
    with COPY; (seconds to locate them with owners_bulk, seconds to write and analyse them)."""
    from app import create_app
    from app.territory import caches

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench"})
    rng = np.random.default_rng(22)
    with app.app_context():
        from app.db import db

        index = caches.ownership(db.session())
        lons, lats = town_points(index, count, rng)
        start = time.perf_counter()
        owners = index.owners_bulk(lons, lats)
        located = time.perf_counter() - start
    app.extensions["db"].engine.dispose()
    ages = rng.uniform(0, 365 * 86400, count)
    states = rng.choice(len(STATES), count, p=STATE_SHARE)
    old = (ages > OPEN_DAYS * 86400) & (rng.uniform(0, 1, count) > STUCK_SHARE)
    states[old & (states >= 2)] = 0  # older cases are closed and archived, but for a few stuck ones
    categories = rng.integers(0, len(CATEGORY_CODES), count)
    now = datetime.now().astimezone()
    start = time.perf_counter()
    import psycopg

    columns = ("state", "category_code", "urgency", "description", "geom", "grid_code", "workstation_code",
               "community_code", "station_code", "boundary_version_id", "near_boundary", "fallback", "inside_town",
               "report_count", "first_reported_at", "last_reported_at", "created_at", "updated_at", "deadline_at",
               "warn_at")
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        version = conn.execute("SELECT max(id) FROM boundary_versions").fetchone()[0]
        with conn.cursor().copy(f"COPY cases ({', '.join(columns)}) FROM STDIN") as copy:
            for i in range(count):
                t = now - timedelta(seconds=float(ages[i]))
                copy.write_row((STATES[states[i]], CATEGORY_CODES[categories[i]], "normal", "区级基准批量案件",
                                f"SRID=4326;POINT({lons[i]:.7f} {lats[i]:.7f})", owners["grid_code"][i],
                                owners["workstation"][i], owners["community"][i], owners["station"][i], version,
                                bool(owners["near_boundary"][i]), bool(owners["fallback"][i]),
                                bool(owners["inside_town"][i]), 1, t, t, t, t, t + timedelta(days=2),
                                t + timedelta(hours=38)))
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE cases")
    return located, time.perf_counter() - start


def worker_memory(server) -> list[dict]:
    """RSS and PSS (MB) of every gunicorn worker under the server process (the processes under its master)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            line = stat.read_text()
        except OSError:
            continue
        children.setdefault(int(line.rsplit(") ", 1)[1].split()[1]), []).append(int(line.split(" ", 1)[0]))
    found, todo = [], [server.pid]
    while todo:
        pid = todo.pop()
        kids = children.get(pid, [])
        todo.extend(kids)
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if not kids and b"gunicorn" in command:
            found.append(pid)
    out = []
    for pid in found:
        try:
            memory = rollup(pid)
        except OSError:
            continue
        out.append({"pid": pid, "rss_mb": memory["Rss"], "pss_mb": memory["Pss"]})
    return out


def timed_get(session, url: str, params: dict | None = None, repeat: int = 1, headers=None) -> list[float]:
    """Milliseconds of `repeat` GETs (each must answer 200)."""
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        r = session.get(url, params=params, timeout=600, headers=headers)
        r.raise_for_status()
        out.append((time.perf_counter() - start) * 1000)
    return out


def postgis_locate_ms(url: str, lons: np.ndarray, lats: np.ndarray) -> np.ndarray:
    """The same four codes from PostGIS, one query a point, as a competent PostGIS user would ask them: JIT off,
    subdivided, indexed layers prepared once (their preparation not counted)."""
    import psycopg

    layers = {"station": "SELECT station_code AS code, geom FROM station_coverage WHERE version_id = "
                         "(SELECT max(id) FROM boundary_versions)",
              "community": "SELECT code, geom FROM admin_areas WHERE level = 'community' AND version_high IS NULL",
              "workstation": "SELECT code, geom FROM admin_areas WHERE level = 'workstation' AND version_high IS NULL",
              "cell": "SELECT code, geom FROM grid_cells WHERE version_high IS NULL"}
    out = []
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        conn.execute("SET jit = off")
        for name, sql in layers.items():
            conn.execute(f"CREATE TEMP TABLE pg_{name} AS SELECT code, ST_Subdivide(geom, 64) AS geom FROM ({sql}) t")
            conn.execute(f"CREATE INDEX ON pg_{name} USING gist (geom)")
            conn.execute(f"ANALYZE pg_{name}")
        query = "SELECT " + ", ".join(
            f"(SELECT code FROM pg_{n} WHERE ST_Covers(geom, p) ORDER BY code LIMIT 1)" for n in layers
        ) + " FROM ST_SetSRID(ST_MakePoint(%s, %s), 4326) AS p"
        for lon, lat in zip(lons.tolist(), lats.tolist(), strict=True):
            start = time.perf_counter()
            conn.execute(query, (lon, lat), prepare=True).fetchone()
            out.append((time.perf_counter() - start) * 1000)
    return np.array(out)


def login(base_url: str, username: str, password: str):
    """A signed-in browser-like session (the map and the reports page are used this way)."""
    import requests

    s = requests.Session()
    page = s.get(f"{base_url}/login")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    s.post(f"{base_url}/login", data={"csrf_token": token, "username": username, "password": password})
    return s


def viewports(s, base_url: str, lons: np.ndarray, lats: np.ndarray, n: int) -> np.ndarray:
    """Milliseconds of the map's viewport query over random viewports centred on random points of the towns."""
    rng = random.Random(5)
    out = []
    for _ in range(n):
        zoom = rng.randint(12, 17)
        width = 360.0 / 2 ** zoom * 1280 / 256
        height = width * 800 / 1280 * 0.86
        i = rng.randrange(len(lons))
        x, y = lons[i], lats[i]
        box = f"{x - width / 2:.6f},{y - height / 2:.6f},{x + width / 2:.6f},{y + height / 2:.6f}"
        out.extend(timed_get(s, f"{base_url}/api/v1/cases/map", {"bbox": box, "zoom": zoom, "open": "1"}))
    return np.array(out)


def add_users(url: str) -> dict[str, str]:
    """A dispatcher, a leader and an intake account; their passwords (and the intake account's API token)."""
    from app import create_app
    from app.accounts import users

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench"})
    out = {}
    with app.extensions["db"].transaction() as s:
        for name, role in (("bench-dispatcher", "dispatcher"), ("bench-leader", "leader"), ("bench", "intake")):
            out[name] = uuid.uuid4().hex
            users.add_user(s, name, role, out[name])
        out["token"] = users.issue_token(s, "bench")
        out["leader-token"] = users.issue_token(s, "bench-leader")
    app.extensions["db"].engine.dispose()
    return out


def counts(url: str) -> dict:
    engine = create_engine(url)
    with engine.connect() as conn:
        row = conn.execute(text(
            "SELECT (SELECT count(*) FROM admin_areas WHERE level = 'town' AND version_high IS NULL), "
            "(SELECT count(*) FROM grid_cells WHERE version_high IS NULL), (SELECT count(*) FROM addresses), "
            "(SELECT count(*) FROM roads), (SELECT count(*) FROM stations), (SELECT count(*) FROM cases), "
        "(SELECT count(*) FROM cases WHERE state NOT IN ('not_filed', 'closed', 'archived', 'void'))")).one()
    engine.dispose()
    return dict(zip(("towns", "cells", "addresses", "roads", "stations", "cases", "open"), row, strict=True))


def served(url: str, secrets: dict, lons: np.ndarray, lats: np.ndarray) -> dict:
    """Everything measured over HTTP on one gunicorn."""
    port = support.free_port()
    base_url = f"http://127.0.0.1:{port}"
    server = support.serve(url, port, WORKERS=str(WORKERS), SCHEDULER="false")
    try:
        import requests

        api = requests.Session()
        api.headers["Authorization"] = f"Bearer {secrets['leader-token']}"
        started = time.perf_counter()
        with ThreadPoolExecutor(4 * WORKERS) as pool:  # new connections at once: every worker builds its index
            list(pool.map(lambda i: timed_get(requests.Session(), f"{base_url}/api/v1/locate",
                                              {"lon": lons[i], "lat": lats[i]}, headers=api.headers),
                          range(8 * WORKERS)))
        first_locates_s = time.perf_counter() - started
        rng = np.random.default_rng(9)
        pick = rng.integers(0, len(lons), LOCATES)
        clients = [requests.Session() for _ in range(2 * WORKERS)]  # keep-alive connections spread over the workers
        for c in clients:
            c.headers.update(api.headers)
        locate = np.array([timed_get(clients[n % len(clients)], f"{base_url}/api/v1/locate",
                                     {"lon": lons[i], "lat": lats[i]})[0] for n, i in enumerate(pick)])
        memory = worker_memory(server)
        bbox = (float(lons.min()), float(lats.min()), float(lons.max()), float(lats.max()))
        intake = post_load(port, "reports", secrets["token"], bbox, SECONDS)
        dispatcher = login(base_url, "bench-dispatcher", secrets["bench-dispatcher"])
        viewport = viewports(dispatcher, base_url, lons, lats, VIEWPORTS)
        gistar = timed_get(api, f"{base_url}/api/v1/hotspots", repeat=3)
        month = (datetime.now().replace(day=1) - timedelta(days=1)).replace(day=1).date()
        end = (month + timedelta(days=32)).replace(day=1)
        kpi = timed_get(api, f"{base_url}/api/v1/kpi", {"from": month.isoformat(), "to": end.isoformat(),
                                                        "by": "station"}, repeat=3)
        ogc_cells = timed_get(api, f"{base_url}/ogc/collections/grid_cells/items", {"limit": 1000, "offset": 40000},
                              repeat=5)
        ogc_cases = timed_get(api, f"{base_url}/ogc/collections/cases/items", {"limit": 1000}, repeat=5)
        memory_end = worker_memory(server)
    finally:
        support.stop(server)
    return {"first_locates_s": first_locates_s, "locate": locate, "memory": memory, "memory_end": memory_end,
            "intake": intake,
            "viewport": viewport, "gistar": gistar, "kpi": kpi, "ogc_cells": ogc_cells, "ogc_cases": ogc_cases,
            "pg_locate": postgis_locate_ms(url, lons[pick], lats[pick])}


def main() -> None:
    base = support.server_url("make bench-district")
    print(f"district: {TOWNS} towns into {FOLDER.relative_to(ROOT)} ...", flush=True)
    generated = generate()
    print("  a fresh database: flask setup --boundaries ...", flush=True)
    url, setup_s = setup(base)
    try:
        store = str(ROOT / "var" / f"bench-rasters-{os.getpid()}")
        print("  the ownership index: no store, cold store, warm store ...", flush=True)
        probes = {name: index_probe(url, setting) for name, setting in (("off", "off"), ("cold", store),
                                                                         ("warm", store))}
        print("  bench_ownership over the district ...", flush=True)
        own_lines, own = ownership_bench(url)
        print(f"  {CASES:,} cases ...", flush=True)
        located_s, written_s = insert_cases(url, CASES)
        secrets = add_users(url)
        from app import create_app
        from app.territory import caches

        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench"})
        with app.app_context():
            from app.db import db

            lons, lats = town_points(caches.ownership(db.session()), 20_000, np.random.default_rng(3))
        app.extensions["db"].engine.dispose()
        print("  served by gunicorn: locate, intake, map, Gi*, KPI, OGC ...", flush=True)
        http = served(url, secrets, lons, lats)
        n = counts(url)
    finally:
        support.drop_database(base, url)
    report(generated, setup_s, probes, own_lines, own, located_s, written_s, http, n)


def pct(values, q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def report(generated, setup_s, probes, own_lines, own, located_s, written_s, http, n) -> None:
    print(f"district: {n['towns']} towns, {n['cells']:,} grid cells, {n['addresses']:,} addresses, "
          f"{n['roads']:,} road segments, {n['stations']} stations, {n['cases']:,} cases ({n['open']:,} open)")
    print(f"  generated in {generated:.1f} s" if generated is not None else "  generated files kept from a run before")
    print(f"  flask setup --boundaries (migrate, validate, load): {setup_s:.1f} s")
    print("  ownership index per process           build s   raster MB   RSS added MB   private MB")
    for name, label in (("off", "no store (each worker its own)"), ("cold", "store, first process (builds)"),
                        ("warm", "store, later process (maps)")):
        p = probes[name]
        print(f"    {label:34s} {p['seconds']:8.2f} {p['raster_mb']:10.1f} {p['rss_mb']:13.1f} {p['private_mb']:11.1f}")
    print("  bench_ownership over the district:")
    for line in own_lines:
        print(f"    {line}")
    print(f"  {n['cases']:,} cases: owners_bulk {located_s:.2f} s, COPY + VACUUM ANALYZE {written_s:.0f} s")
    mem = http["memory"]
    print(f"  gunicorn {WORKERS} workers after {LOCATES} locates (first {8 * WORKERS} requests took "
          f"{http['first_locates_s']:.1f} s): " + "; ".join(
              f"pid {m['pid']} RSS {m['rss_mb']:.0f} MB PSS {m['pss_mb']:.0f} MB" for m in mem))
    print("    after everything below: " + "; ".join(
        f"pid {m['pid']} RSS {m['rss_mb']:.0f} MB PSS {m['pss_mb']:.0f} MB" for m in http["memory_end"]))
    loc, pg = http["locate"], http["pg_locate"]
    print(f"  GET /api/v1/locate p50 {pct(loc, 50):.1f} ms p99 {pct(loc, 99):.1f} ms; PostGIS per point (tuned, one "
          f"query, no HTTP) p50 {pct(pg, 50):.1f} ms p99 {pct(pg, 99):.1f} ms; "
          f"ratio p99 {pct(loc, 99) / pct(pg, 99):.2f}")
    intake = http["intake"]
    print(f"  POST /api/v1/reports {intake['per_s']:.1f}/s p50 {intake['p50']:.1f} ms p99 {intake['p99']:.1f} ms "
          f"statuses {dict(sorted(intake['statuses'].items()))}")
    vp = http["viewport"]
    print(f"  map viewport ({VIEWPORTS} viewports, zoom 12-17) p50 {pct(vp, 50):.1f} ms p95 {pct(vp, 95):.1f} ms "
          f"max {vp.max():.0f} ms")
    print(f"  Gi* over every cell, 90 days (first computed, then cached): "
          f"{', '.join(f'{t / 1000:.2f}' for t in http['gistar'])} s; "
          f"KPI of a month by station: {', '.join(f'{t / 1000:.2f}' for t in http['kpi'])} s")
    print(f"  OGC items limit=1000: grid cells p50 {pct(http['ogc_cells'], 50):.0f} ms, cases p50 "
          f"{pct(http['ogc_cases'], 50):.0f} ms")
    worst = max(m["pss_mb"] for m in mem + http["memory_end"]) if mem else float("nan")
    print(f"BENCH district towns={n['towns']} cells={n['cells']} cases={n['cases']} open={n['open']} "
          f"setup_s={setup_s:.1f} "
          f"index_build_s={probes['off']['seconds']:.2f} index_mapped_s={probes['warm']['seconds']:.2f} "
          f"index_rss_mb_own={probes['off']['rss_mb']:.0f} index_rss_mb_mapped={probes['warm']['private_mb']:.0f} "
          f"worker_pss_mb={worst:.0f} locate_p99_ms={pct(loc, 99):.1f} postgis_locate_p99_ms={pct(pg, 99):.1f} "
          f"single_p99_us={own.get('single_p99_us')} vs_postgis_bulk={own.get('vs_postgis')} agree={own.get('agree')} "
          f"intake_per_s={intake['per_s']:.1f} viewport_p95_ms={pct(vp, 95):.1f} "
          f"gistar_s={http['gistar'][0] / 1000:.2f} gistar_cached_s={min(http['gistar']) / 1000:.2f} "
          f"kpi_month_s={http['kpi'][0] / 1000:.2f} "
          f"ogc_cells_ms={pct(http['ogc_cells'], 50):.0f} ogc_cases_ms={pct(http['ogc_cases'], 50):.0f}")


if __name__ == "__main__":
    main()
