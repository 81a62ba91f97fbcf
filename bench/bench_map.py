"""Map benchmark: the dispatcher console with 200,000 cases against the same page with none.

A fresh database (created on the DATABASE_URL server, dropped at the end) is set up, served by
gunicorn as `make run` does, and opened in headless Chromium (Debian's chromium through Playwright)
as a dispatcher: the time from navigation to the cases of the first viewport being drawn is the
figure, first with an empty case table (the baseline), then after `flask demo bulk-cases 200000`.
The viewport query (`GET /api/v1/cases/map`, open cases) is then timed over random viewports at
zooms 12-17. Ends with `BENCH map drawn_s=N baseline_drawn_s=N viewport_p50_ms=N viewport_p95_ms=N`.

    BENCH_CASES (default 200000), BENCH_VIEWPORTS (default 200), BENCH_LOADS (default 3 page loads).
"""

from __future__ import annotations

import os
import random
import shutil
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import support  # noqa: E402

CASES = int(os.environ.get("BENCH_CASES", 200_000))
VIEWPORTS = int(os.environ.get("BENCH_VIEWPORTS", 200))
LOADS = int(os.environ.get("BENCH_LOADS", 3))
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def bulk(url: str, count: int) -> float:
    from app import create_app, demo

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench"})
    start = time.perf_counter()
    with app.extensions["db"].transaction() as s:
        demo.bulk_cases(s, count)
    with app.extensions["db"].engine.connect() as conn:
        conn.execute(text("ANALYZE cases"))
        conn.commit()
    app.extensions["db"].engine.dispose()
    return time.perf_counter() - start


def wait_loaded(page, since: str | None, timeout: float = 60.0) -> str:
    """Wait for the console to mark a new load of the viewport's cases (polled: the page's CSP forbids eval)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = page.get_attribute("body", "data-cases-loaded")
        if value is not None and value != since:
            return value
        page.wait_for_timeout(20)
    raise SystemExit("the cases were not drawn within a minute")


def drawn_seconds(base_url: str, password: str, loads: int) -> tuple[float, list[float], dict]:
    """Median seconds from navigation to the cases of the first viewport being drawn."""
    from playwright.sync_api import sync_playwright

    times, info = [], {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        page.goto(f"{base_url}/login")
        page.fill("input[name=username]", "bench-dispatcher")
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base_url}/")
        wait_loaded(page, None)
        for _ in range(loads):
            start = time.perf_counter()
            page.goto(f"{base_url}/")
            wait_loaded(page, None)
            times.append(time.perf_counter() - start)
        info = {k: page.get_attribute("body", f"data-{k}") for k in ("cases-drawn", "cases", "cases-clustered")}
        browser.close()
    return statistics.median(times), times, info


def viewport_times(base_url: str, password: str, bbox, n: int) -> np.ndarray:
    """Milliseconds of GET /api/v1/cases/map over random viewports (a signed-in session, like the page)."""
    import requests

    s = requests.Session()
    login = s.get(f"{base_url}/login")
    token = login.text.split('name="csrf_token" value="')[1].split('"')[0]
    s.post(f"{base_url}/login", data={"csrf_token": token, "username": "bench-dispatcher", "password": password})
    rng = random.Random(5)
    out = []
    for _ in range(n):
        zoom = rng.randint(12, 17)
        width = 360.0 / 2 ** zoom * 1280 / 256  # degrees across a 1280 px map at this zoom
        height = width * 800 / 1280 * 0.86
        x = rng.uniform(bbox[0], bbox[2])
        y = rng.uniform(bbox[1], bbox[3])
        box = f"{x - width / 2:.6f},{y - height / 2:.6f},{x + width / 2:.6f},{y + height / 2:.6f}"
        start = time.perf_counter()
        r = s.get(f"{base_url}/api/v1/cases/map", params={"bbox": box, "zoom": zoom, "open": "1"})
        r.raise_for_status()
        out.append((time.perf_counter() - start) * 1000)
    return np.array(out)


def main() -> None:
    base = support.server_url()
    print("map: setting up a fresh database ...", flush=True)
    url, password, bbox = support.fresh_database(base, "benchmap", "bench-dispatcher", "dispatcher")
    port = support.free_port()
    try:
        server = support.serve(url, port, settle_s=3.0, SCHEDULER="false")  # workers build their index
        try:
            baseline, base_runs, base_info = drawn_seconds(f"http://127.0.0.1:{port}", password, LOADS)
        finally:
            support.stop(server)
        print(f"  inserting {CASES} cases ...", flush=True)
        inserted_s = bulk(url, CASES)
        server = support.serve(url, port, settle_s=3.0, SCHEDULER="false")  # workers build their index
        try:
            drawn, runs, info = drawn_seconds(f"http://127.0.0.1:{port}", password, LOADS)
            ms = viewport_times(f"http://127.0.0.1:{port}", password, bbox, VIEWPORTS)
        finally:
            support.stop(server)
    finally:
        support.drop_database(base, url)
    p50, p95 = float(np.percentile(ms, 50)), float(np.percentile(ms, 95))
    print(f"  empty table: drawn in {baseline:.2f} s (runs {', '.join(f'{t:.2f}' for t in base_runs)})")
    print(f"  {CASES} cases (inserted in {inserted_s:.0f} s): drawn in {drawn:.2f} s "
          f"(runs {', '.join(f'{t:.2f}' for t in runs)}); first viewport: {info}")
    print(f"  ratio drawn / baseline {drawn / baseline:.2f}; viewport query over {VIEWPORTS} random viewports "
          f"(zoom 12-17): p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {ms.max():.1f} ms")
    print(f"BENCH map drawn_s={drawn:.2f} baseline_drawn_s={baseline:.2f} viewport_p50_ms={p50:.1f} "
          f"viewport_p95_ms={p95:.1f} cases={CASES} vs_baseline={drawn / baseline:.2f}")


if __name__ == "__main__":
    main()
