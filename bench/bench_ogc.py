"""OGC API - Features against pygeoapi over the same PostGIS table, side by side.

The baseline is what a competent GIS team would stand up instead: pygeoapi (from PyPI, in a virtual
environment of its own under var/, so its pins never meet ours) with its PostgreSQL provider on the
`grid_cells` table of the same fresh database, served by gunicorn with the same workers and threads
as ours (2 gthread workers x 2 threads: ours runs gthread here, not serve.sh's default gevent, so the two
servers differ in the application alone). Both are warmed up, then the requests alternate between the
two servers (one keep-alive connection each), so both see the same machine noise:

- `items?limit=1000`: a page of 1,000 cells;
- a small bbox (about 1 km x 1 km), up to 1,000 cells;
- one item by id;

p50 and p95 in milliseconds for each, and the ratio pygeoapi / ours (above 1: ours is faster). The
feature rows are compared too: the same cells with the same codes and areas, numberMatched equal.
Ends with one `BENCH ogc ...` line.

    OGC_REQUESTS (default 60) timed requests per scenario and server.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.support import ROOT, drop_database, free_port, fresh_database, issue_token, serve

REQUESTS = int(os.environ.get("OGC_REQUESTS", 60))
WORKERS, THREADS = "2", "2"
VENV = ROOT / "var" / "pygeoapi-venv"
PYGEOAPI = "pygeoapi==0.21.0"
PROVIDER = ("psycopg2-binary", "GeoAlchemy2", "gunicorn")  # what its PostgreSQL provider and serving need


def pygeoapi_venv() -> Path:
    """pygeoapi, psycopg2, GeoAlchemy2 and gunicorn in var/pygeoapi-venv (installed from PyPI once)."""
    marker = VENV / ".installed"
    if not marker.exists():
        print(f"bench_ogc: installing {PYGEOAPI} into {VENV} (once) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", PYGEOAPI,
                        *PROVIDER], check=True)
        marker.touch()
    return VENV


def pygeoapi_config(url: str, port: int, bbox: tuple, folder: Path) -> tuple[Path, Path]:
    """The configuration a pygeoapi user writes for one PostgreSQL collection, and its OpenAPI document."""
    db = make_url(url)
    config = {
        "server": {"bind": {"host": "127.0.0.1", "port": port}, "url": f"http://127.0.0.1:{port}",
                   "mimetype": "application/json; charset=UTF-8", "encoding": "utf-8", "language": "en-US",
                   "limits": {"default_items": 10, "max_items": 10000}, "map": {"url": "", "attribution": ""},
                   "pretty_print": False},
        "logging": {"level": "ERROR"},
        "metadata": {"identification": {"title": "bench", "description": "bench", "keywords": ["bench"],
                                        "keywords_type": "theme", "terms_of_service": "", "url": ""},
                     "license": {"name": "CC-BY 4.0", "url": ""}, "provider": {"name": "bench", "url": ""},
                     "contact": {"name": "bench"}},
        "resources": {"grid_cells": {
            "type": "collection", "title": "grid cells", "description": "grid cells", "keywords": ["grid"],
            "links": [], "extents": {"spatial": {"bbox": list(bbox),
                                                 "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}},
            "providers": [{"type": "feature", "name": "PostgreSQL",
                           "data": {"host": db.host, "port": db.port, "dbname": db.database, "user": db.username,
                                    "password": db.password, "search_path": ["public"]},
                           "id_field": "id", "table": "grid_cells", "geom_field": "geom"}],
        }},
    }
    path = folder / "pygeoapi.yml"
    path.write_text(json.dumps(config))  # YAML is a superset of JSON
    openapi = folder / "openapi.yml"
    env = dict(os.environ, PYGEOAPI_CONFIG=str(path), PYGEOAPI_OPENAPI=str(openapi))
    done = subprocess.run([str(VENV / "bin" / "pygeoapi"), "openapi", "generate", str(path), "--output-file",
                           str(openapi)], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"pygeoapi openapi generate failed:\n{done.stderr[-3000:]}")
    return path, openapi


def serve_pygeoapi(config: Path, openapi: Path, port: int) -> subprocess.Popen:
    env = dict(os.environ, PYGEOAPI_CONFIG=str(config), PYGEOAPI_OPENAPI=str(openapi))
    proc = subprocess.Popen([str(VENV / "bin" / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", WORKERS,
                             "--worker-class", "gthread", "--threads", THREADS, "pygeoapi.flask_app:APP"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            status, _ = get(http.client.HTTPConnection("127.0.0.1", port, timeout=10), "/collections/grid_cells")
            if status == 200:
                return proc
        except OSError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise SystemExit("pygeoapi did not answer within 90 s")


def get(conn: http.client.HTTPConnection, path: str, headers: dict | None = None) -> tuple[int, bytes]:
    conn.request("GET", path, headers=headers or {})
    response = conn.getresponse()
    return response.status, response.read()


def features(conn, path: str, headers: dict | None = None) -> dict:
    status, body = get(conn, path, headers)
    if status != 200:
        raise SystemExit(f"GET {path}: {status} {body[:300]!r}")
    return json.loads(body)


def same_rows(ours: dict, theirs: dict) -> bool:
    """The same cells (by code) with the same areas (to 0.1 m2, as we round), and the same count matched."""
    a = {f["properties"]["code"]: round(f["properties"]["area_m2"], 1) for f in ours["features"]}
    b = {f["properties"]["code"]: round(f["properties"]["area_m2"], 1) for f in theirs["features"]}
    return a == b and ours.get("numberMatched") == theirs.get("numberMatched")


def main() -> int:
    base = make_url(os.environ["DATABASE_URL"])
    pygeoapi_venv()
    url, _, bbox = fresh_database(base, "ogc", "bench_reader", "dispatcher")
    ours_proc = theirs_proc = None
    try:
        token = issue_token(url, "bench_reader")
        auth = {"Authorization": f"Bearer {token}"}
        engine = create_engine(url)
        with engine.connect() as conn:
            one_id, one_code, cx, cy = conn.execute(text(
                "SELECT id, code, ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) FROM grid_cells "
                "WHERE version_high IS NULL ORDER BY code OFFSET 4000 LIMIT 1")).one()
        engine.dispose()
        box = f"{cx - 0.005:.6f},{cy - 0.0045:.6f},{cx + 0.005:.6f},{cy + 0.0045:.6f}"
        ours_port, theirs_port = free_port(), free_port()
        ours_proc = serve(url, ours_port, SCHEDULER="false", WORKERS=WORKERS, THREADS=THREADS, WORKER_CLASS="gthread")
        with tempfile.TemporaryDirectory() as tmp:
            config, openapi = pygeoapi_config(url, theirs_port, bbox, Path(tmp))
            theirs_proc = serve_pygeoapi(config, openapi, theirs_port)
            ours = http.client.HTTPConnection("127.0.0.1", ours_port, timeout=120)
            theirs = http.client.HTTPConnection("127.0.0.1", theirs_port, timeout=120)
            scenarios = {
                "items1000": ("/ogc/collections/grid_cells/items?limit=1000&f=json",
                              "/collections/grid_cells/items?limit=1000&f=json"),
                "bbox": (f"/ogc/collections/grid_cells/items?limit=1000&bbox={box}&f=json",
                         f"/collections/grid_cells/items?limit=1000&bbox={box}&f=json"),
                "item": (f"/ogc/collections/grid_cells/items/{one_code}?f=json",
                         f"/collections/grid_cells/items/{one_id}?f=json"),
            }
            whole_ours = features(ours, "/ogc/collections/grid_cells/items?limit=10000&f=json", auth)
            whole_theirs = features(theirs, "/collections/grid_cells/items?limit=10000&f=json")
            small_ours = features(ours, scenarios["bbox"][0], auth)
            small_theirs = features(theirs, scenarios["bbox"][1])
            agree = same_rows(whole_ours, whole_theirs) and same_rows(small_ours, small_theirs)
            print(f"bench_ogc: {len(whole_ours['features'])} cells from us, {len(whole_theirs['features'])} from "
                  f"pygeoapi; the bbox holds {len(small_ours['features'])}; same rows: {agree}", flush=True)
            figures: dict[str, tuple[float, float, float, float]] = {}
            for name, (mine, other) in scenarios.items():
                for _ in range(3):  # warm both
                    get(ours, mine, auth)
                    get(theirs, other)
                t_ours, t_theirs = [], []
                for _ in range(REQUESTS):
                    t0 = time.perf_counter()
                    get(ours, mine, auth)
                    t_ours.append((time.perf_counter() - t0) * 1000)
                    t0 = time.perf_counter()
                    get(theirs, other)
                    t_theirs.append((time.perf_counter() - t0) * 1000)
                figures[name] = (float(np.percentile(t_ours, 50)), float(np.percentile(t_ours, 95)),
                                 float(np.percentile(t_theirs, 50)), float(np.percentile(t_theirs, 95)))
                o50, o95, p50, p95 = figures[name]
                print(f"  {name:10s} ours p50 {o50:8.1f} ms p95 {o95:8.1f} ms | pygeoapi p50 {p50:8.1f} ms "
                      f"p95 {p95:8.1f} ms | ratio p50 {p50 / o50:5.2f} p95 {p95 / o95:5.2f}", flush=True)
    finally:
        for proc in (ours_proc, theirs_proc):
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=30)
        drop_database(base, url)
    parts = " ".join(f"{n}_p50_ms={f[0]:.1f} {n}_p95_ms={f[1]:.1f} pygeoapi_{n}_p50_ms={f[2]:.1f} "
                     f"pygeoapi_{n}_p95_ms={f[3]:.1f} {n}_ratio_p50={f[2] / f[0]:.2f}" for n, f in figures.items())
    print(f"BENCH ogc requests={REQUESTS} {parts} same_rows={int(agree)}")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
