"""Intake benchmark: POST /api/v1/reports under gunicorn, against GET /healthz on the same server.

A fresh database (created on the DATABASE_URL server, dropped at the end) is set up as `make run`
does; gunicorn serves it as scripts/serve.sh does. Concurrent clients (processes x threads, each
with a keep-alive connection) first call /healthz for a fixed time (the baseline: the same server,
one database round trip), then post reports at random points of the town for the same time.
Prints requests per second, p50/p99 latency, the ratio to the baseline, and checks that every
accepted report is stored exactly once. Ends with one `BENCH intake ...` line.

    BENCH_SECONDS (default 15) per phase; BENCH_CLIENTS (default 4) concurrent clients;
    WORKERS (default 2) gunicorn workers, THREADS (default 2) threads each.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import sys
import threading
import time
import uuid
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import support  # noqa: E402

SECONDS = float(os.environ.get("BENCH_SECONDS", 15))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", 4))
WORKERS = int(os.environ.get("WORKERS", 2))
THREADS = int(os.environ.get("THREADS", 2))
PROCESSES = 2
CATEGORIES = ("01004", "01005", "02001", "03001", "04002", "05001", "06001", "07001", "08001", "09001")
CHANNELS = ("hotline", "12345", "video", "app", "patrol", "citizen", "sensor")


def _client(args) -> tuple[list[float], dict[int, int]]:
    """One client process: `threads` keep-alive connections hammering one request kind for `seconds`."""
    port, kind, token, bbox, seconds, threads, seed = args
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def run(n: int) -> None:
        rng = random.Random(f"{seed}-{n}-{uuid.uuid4()}")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine, codes = [], {}
        while time.monotonic() < stop:
            if kind == "healthz":
                method, path, body, headers = "GET", "/healthz", None, {}
            else:
                method, path = "POST", "/api/v1/reports"
                body = json.dumps({
                    "channel": rng.choice(CHANNELS), "category": rng.choice(CATEGORIES), "reference": f"B-{n}",
                    "description": "基准测试上报：道路积水", "lon": rng.uniform(bbox[0], bbox[2]),
                    "lat": rng.uniform(bbox[1], bbox[3]),
                })
                headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                           "Idempotency-Key": uuid.uuid4().hex}
            t0 = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                status = 0
            mine.append((time.perf_counter() - t0) * 1000.0)
            codes[status] = codes.get(status, 0) + 1
        with lock:
            latencies.extend(mine)
            for k, v in codes.items():
                statuses[k] = statuses.get(k, 0) + v

    pool = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return latencies, statuses


def load(port: int, kind: str, token: str, bbox, seconds: float) -> dict:
    per_process = max(1, CLIENTS // PROCESSES)
    args = [(port, kind, token, bbox, seconds, per_process, i) for i in range(PROCESSES)]
    start = time.perf_counter()
    with Pool(PROCESSES) as pool:
        results = pool.map(_client, args)
    elapsed = time.perf_counter() - start
    latencies = np.array([x for r in results for x in r[0]])
    statuses: dict[int, int] = {}
    for r in results:
        for k, v in r[1].items():
            statuses[k] = statuses.get(k, 0) + v
    ok = statuses.get(201 if kind == "reports" else 200, 0)
    return {
        "per_s": ok / elapsed, "ok": ok, "statuses": statuses,
        "p50": float(np.percentile(latencies, 50)), "p99": float(np.percentile(latencies, 99)),
    }


def main() -> None:
    base = support.server_url()
    print("intake: setting up a fresh database ...", flush=True)
    url, _, bbox = support.fresh_database(base, "bench", "bench", "intake")
    token = support.issue_token(url, "bench")
    port = support.free_port()
    server = support.serve(url, port, WORKERS=str(WORKERS), THREADS=str(THREADS))
    try:
        warm = load(port, "reports", token, bbox, 6.0)  # every worker has built its ownership index by then
        health = load(port, "healthz", token, bbox, SECONDS)
        intake = load(port, "reports", token, bbox, SECONDS)
    finally:
        support.stop(server)
    engine = create_engine(url)
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT count(*) FROM reports WHERE reference LIKE 'B-%'")).scalar_one()
        keys = conn.execute(text("SELECT count(DISTINCT idempotency_key) FROM reports")).scalar_one()
        merged = conn.execute(text("SELECT count(*) FROM reports WHERE merged")).scalar_one()
    engine.dispose()
    support.drop_database(base, url)
    accepted = warm["ok"] + intake["ok"]
    ratio = intake["per_s"] / health["per_s"] if health["per_s"] else float("nan")
    kind = os.environ.get("WORKER_CLASS", "gevent")
    print(f"server: gunicorn {WORKERS} {kind} workers" + (f" x {THREADS} threads" if kind == "gthread" else "")
          + f"; {CLIENTS} clients; {SECONDS:.0f} s per phase")
    for name, r in (("GET /healthz", health), ("POST /api/v1/reports", intake)):
        print(f"  {name:22s} {r['per_s']:8.1f}/s  p50 {r['p50']:6.1f} ms  p99 {r['p99']:6.1f} ms  "
              f"statuses {dict(sorted(r['statuses'].items()))}")
    print(f"  reports/healthz ratio {ratio:.3f}; stored {stored} reports ({merged} merged into an open case), "
          f"{keys} distinct keys, {accepted} accepted (201)")
    errors = sum(v for k, v in intake["statuses"].items() if k != 201)
    print(
        f"BENCH intake reports_per_s={intake['per_s']:.1f} p50_ms={intake['p50']:.1f} p99_ms={intake['p99']:.1f} "
        f"healthz_per_s={health['per_s']:.1f} vs_healthz={ratio:.3f} errors={errors} "
        f"accepted={accepted} stored={stored} lost={accepted - stored} duplicates={stored - keys}"
    )

if __name__ == "__main__":
    main()
