"""A boundary edit reaches every worker process at once, and `cases reassign` moves the cases.

On a database of the module's own (`own_app`): the edits must not reach the other tests.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from app.territory import caches
from gis.crs import to_metric, to_storage
from tests import factories

ROOT = Path(__file__).resolve().parents[2]
STATION = "JS-003"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def workers(own_app):
    """Two separate gunicorn worker processes serving the module's database."""
    env = dict(os.environ, DATABASE_URL=own_app.config["DATABASE_URL"], SECRET_KEY="two-workers")
    procs, urls = [], []
    for _ in range(2):
        port = free_port()
        procs.append(subprocess.Popen(
            [str(Path(sys.executable).with_name("gunicorn")), "--chdir", str(ROOT), "--bind", f"127.0.0.1:{port}",
             "--workers", "1", "app:create_app()"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))
        urls.append(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 60
        for url in urls:
            while True:
                try:
                    if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.2)
        yield urls
    finally:  # never leave the servers behind, even when they failed to start
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)


def test_an_edit_reaches_both_workers_and_reassign_moves_the_case(own_app, workers):
    app = own_app
    auth = factories.bearer(factories.user(app, "dispatcher")[2])
    with app.extensions["db"].transaction() as s:
        index = caches.ownership(s)
    area = next(a for a in index.coverage if a.code == STATION)
    p = to_storage(to_metric(area.geom).buffer(-150).representative_point())
    original = factories.coverage(app)

    def locate(url):
        return requests.get(f"{url}/api/v1/locate", params={"lon": p.x, "lat": p.y}, headers=auth, timeout=10).json()

    before = [locate(url) for url in workers]
    assert [b["station"]["code"] for b in before] == [STATION, STATION]
    filed = requests.post(f"{workers[0]}/api/v1/reports", headers=auth, timeout=10, json={
        "channel": "video", "reference": "CAM-17", "category": "04001", "description": "占道堆物",
        "lon": p.x, "lat": p.y,
    }).json()
    assert filed["station"]["code"] == STATION

    factories.boundary_version(app, factories.coverage(app, drop=STATION), f"{STATION} closed")
    try:
        after = [locate(url) for url in workers]  # no restart: each process checks the version on use
        assert {a["boundary_version"] for a in after} == {before[0]["boundary_version"] + 1}
        assert all(a["station"]["code"] == "TC" and a["fallback"] for a in after)

        result = app.test_cli_runner().invoke(args=["cases", "reassign", "--open-only"])
        assert result.exit_code == 0, result.output
        assert f"{STATION} -> TC:" in result.output and "moved to another station" in result.output
        case = requests.get(f"{workers[1]}/api/v1/cases/{filed['case_id']}", headers=auth, timeout=10).json()
        assert case["station"] == "TC" and case["boundary_version"] == after[0]["boundary_version"]
        last = case["history"][-1]
        assert last["action"] == "reassigned" and last["data"]["before"]["station_code"] == STATION
        again = app.test_cli_runner().invoke(args=["cases", "reassign", "--open-only"])
        assert "0 case(s) checked" in again.output  # every open case is under the new version now
    finally:
        factories.boundary_version(app, original, "reopen the station")
        app.test_cli_runner().invoke(args=["cases", "reassign"])
    restored = [locate(url) for url in workers]
    assert [r["station"]["code"] for r in restored] == [STATION, STATION]
