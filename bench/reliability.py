"""Reliability under load and faults (`make reliability`): no report lost or duplicated, no partial case.

Everything runs against a private, throw-away PostgreSQL 15 cluster (initdb in a temporary folder
under /var/tmp, a free port, PostGIS, `flask --app app setup`), never the shared embedded one, so
that it can be restarted at will. gunicorn serves the app as scripts/serve.sh does (several
workers, no scheduler). Then, for RELIABILITY_SECONDS:

- concurrent clients (keep-alive connections) post reports, each with its own Idempotency-Key; a
  client retries a failed request (503, 5xx, broken connection) with the same key and body after
  the Retry-After hint, and re-sends RETRY_SHARE of its accepted reports to check that the replay
  answers the same report;
- a third of the way in, PostgreSQL is restarted (`pg_ctl restart -m fast`): requests meanwhile
  must fail cleanly with 503 and a Retry-After hint, and the workers must recover without a restart;
- two thirds of the way in, a gunicorn worker that holds an open database transaction (found
  through pg_stat_activity and its sockets) is killed with SIGKILL.

- half-way, a planner tries to save broken station polygons (metres instead of degrees, 1e308,
  latitude 100, a bow-tie, the whole world): each must be refused with a 4xx while intake goes on,
  never a 500; then the planner saves a valid new station cut into the tiling (201), with the
  reports still coming in.

Afterwards two dispatchers race to dispatch the same cases with the same version (one 200 and one
409 per case); two planners race to save a new station each on the same base version (one 201, one
409 naming what changed, the chain stays linear, no station without territory); a supervisor opens
orders with hostile due dates (year 1, year 9999, 30 February, NUL, numbers), each a 4xx, and the
supervision list still answers 200 for everyone; a reconciliation query looks for partial writes: a
report without its case or its event, a case without a report or without its 'opened' event, a
report_count that disagrees.

Prints its figures and ends with one line
`BENCH reliability sent=N accepted=N stored=N duplicates=N lost=N http5xx=N p99_ms=N ...`;
exits 1 when an invariant is broken. The cluster and the processes are removed even on failure.

    RELIABILITY_SECONDS (default 45), RELIABILITY_CLIENTS (default 32 concurrent connections),
    RELIABILITY_WORKERS (default 4) x RELIABILITY_THREADS (default 4), RETRY_SHARE (default 0.2).
"""

from __future__ import annotations

import http.client
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PGBIN = Path(os.environ.get("PGBIN", "/usr/lib/postgresql/15/bin"))
SECONDS = float(os.environ.get("RELIABILITY_SECONDS", 45))
CLIENTS = int(os.environ.get("RELIABILITY_CLIENTS", 32))
WORKERS = int(os.environ.get("RELIABILITY_WORKERS", 4))
THREADS = int(os.environ.get("RELIABILITY_THREADS", 4))
RETRY_SHARE = float(os.environ.get("RETRY_SHARE", 0.2))
RACE_CASES = 20
PROCESSES = 2
GRACE_S = 30.0  # after the load stops, how long a client keeps retrying what is still unanswered
CATEGORIES = ("01004", "01005", "02001", "03001", "04002", "05001", "06001", "07001", "08001", "09001")
CHANNELS = ("hotline", "12345", "video", "app", "patrol", "citizen", "sensor")
APP_ROLE, APP_DB = "nanhui", "nanhui"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------------------------
# The private cluster
# --------------------------------------------------------------------------------------------


class Cluster:
    """A throw-away PostgreSQL 15 cluster with PostGIS, run by `postgres` when we are root."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="nanhui-reliability-", dir="/var/tmp"))
        self.data, self.log = self.root / "data", self.root / "server.log"
        self.port = free_port()
        self.super_password = secrets.token_hex(16)
        self.app_password = secrets.token_hex(16)
        self.as_root = os.geteuid() == 0

    def pg(self, tool: str, *args: str) -> None:
        """Run a PostgreSQL tool as the cluster's owner."""
        cmd = [str(PGBIN / tool), *args]
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, cwd="/", capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            tail = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{tool} {' '.join(args)} failed:\n{done.stdout}{done.stderr}{tail}")

    def create(self) -> None:
        """initdb, configure, start, then the application role and database with PostGIS."""
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.super_password + "\n")
        pwfile.chmod(0o600)
        if self.as_root:
            shutil.chown(self.root, "postgres")
            shutil.chown(pwfile, "postgres")
        self.root.chmod(0o700)
        self.pg("initdb", "-D", str(self.data), "-U", "bench_super", f"--pwfile={pwfile}", "--encoding=UTF8",
                "--locale=C.UTF-8", "--auth-local=scram-sha-256", "--auth-host=scram-sha-256")
        pwfile.unlink()
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(f"listen_addresses = '127.0.0.1'\nport = {self.port}\nunix_socket_directories = ''\n"
                       "max_connections = 300\nshared_buffers = 128MB\nfsync = on\n")
        self.start()
        with self.connect("postgres", autocommit=True) as conn:
            conn.execute(f"CREATE ROLE {APP_ROLE} LOGIN PASSWORD '{self.app_password}'")
            conn.execute(f"CREATE DATABASE {APP_DB} OWNER {APP_ROLE}")
        with self.connect(APP_DB, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION postgis")

    def start(self) -> None:
        self.pg("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")

    def restart(self) -> None:
        """Stop (fast: sessions terminated, open transactions rolled back), then start again."""
        self.pg("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "-m", "fast", "restart")

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            try:
                self.pg("pg_ctl", "-D", str(self.data), "-w", "-t", "30", "-m", "immediate", "stop")
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                print(f"reliability: could not stop the private cluster: {exc}", file=sys.stderr)
        shutil.rmtree(self.root, ignore_errors=True)

    def connect(self, dbname: str, autocommit: bool = False) -> psycopg.Connection:
        return psycopg.connect(host="127.0.0.1", port=self.port, user="bench_super", password=self.super_password,
                               dbname=dbname, autocommit=autocommit)

    @property
    def app_url(self) -> str:
        return f"postgresql+psycopg://{APP_ROLE}:{self.app_password}@127.0.0.1:{self.port}/{APP_DB}"


def set_up_database(cluster: Cluster) -> dict:
    """`flask --app app setup` into the private cluster, then an intake clerk and two dispatchers."""
    env = dict(os.environ, DATABASE_URL=cluster.app_url, SECRET_KEY="reliability")
    done = subprocess.run([str(ROOT / ".venv" / "bin" / "flask"), "--app", "app", "setup"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"flask setup failed:\n{done.stdout}{done.stderr}")
    from app import create_app
    from app.accounts import users

    app = create_app({"DATABASE_URL": cluster.app_url, "SECRET_KEY": "reliability"})
    tokens = {}
    with app.extensions["db"].transaction() as s:
        for name, role in (("rel_intake", "intake"), ("rel_dispatcher_a", "dispatcher"),
                           ("rel_dispatcher_b", "dispatcher"), ("rel_planner_a", "planner"),
                           ("rel_planner_b", "planner"), ("rel_supervisor", "supervisor")):
            users.add_user(s, name, role, secrets.token_hex(12))
            tokens[name] = users.issue_token(s, name)
        from sqlalchemy import text

        bbox = tuple(s.execute(text(
            "SELECT ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom) FROM admin_areas "
            "WHERE level = 'town' AND version_high IS NULL"
        )).one())
        # a point well inside each of the three largest station territories: where new stations go
        inside = [tuple(r) for r in s.execute(text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p, ST_Area(geom) AS a "
            "FROM station_coverage WHERE version_id = (SELECT max(id) FROM boundary_versions)) t "
            "ORDER BY a DESC LIMIT 3"))]
    app.extensions["db"].engine.dispose()
    return {"tokens": tokens, "bbox": bbox, "inside": inside}


# --------------------------------------------------------------------------------------------
# gunicorn and its workers
# --------------------------------------------------------------------------------------------


def start_server(cluster: Cluster, port: int, log: Path) -> subprocess.Popen:
    env = dict(os.environ, DATABASE_URL=cluster.app_url, SECRET_KEY="reliability", PORT=str(port),
               WORKERS=str(WORKERS), THREADS=str(THREADS), ACCESS_LOG="", SCHEDULER="false", WARM_CACHES="true")
    with open(log, "ab") as out:
        proc = subprocess.Popen([str(ROOT / "scripts" / "serve.sh")], env=env, stdout=out, stderr=out,
                                start_new_session=True)  # its own process group, removed as one
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited:\n{log.read_text()[-2000:]}")
        if http_status(port, "/healthz") == 200:
            return proc
        time.sleep(0.3)
    raise RuntimeError("gunicorn did not answer /healthz within 90 s")


def stop_server(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    except ProcessLookupError:
        pass


def http_status(port: int, path: str) -> int:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", path)
        status = conn.getresponse().status
        conn.close()
        return status
    except OSError:
        return 0


def workers_of(master: int) -> list[int]:
    """Pids of the processes whose parent is `master` (gunicorn's workers)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat[stat.rfind(")") + 2 :].split()[1]) == master:
            found.append(int(entry))
    return sorted(found)


def local_ports(pid: int) -> set[int]:
    """Local TCP ports of a process's sockets (its connections to PostgreSQL among them)."""
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
    except OSError:
        return set()
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def kill_worker_in_transaction(cluster: Cluster, master: int) -> dict:
    """SIGKILL a worker whose database connection has a transaction open right now."""
    deadline = time.monotonic() + 10
    with cluster.connect(APP_DB, autocommit=True) as conn:
        while time.monotonic() < deadline:
            busy = {port: state for port, state in conn.execute(
                "SELECT client_port, state FROM pg_stat_activity WHERE datname = %s AND usename = %s "
                "AND xact_start IS NOT NULL AND state <> 'idle'", (APP_DB, APP_ROLE)).fetchall()}
            for pid in workers_of(master):
                hit = local_ports(pid) & set(busy)
                if hit:
                    os.kill(pid, signal.SIGKILL)
                    return {"pid": pid, "in_transaction": True, "backend_state": busy[min(hit)],
                            "at": time.time()}
            time.sleep(0.005)
    pid = workers_of(master)[0]
    os.kill(pid, signal.SIGKILL)
    return {"pid": pid, "in_transaction": False, "backend_state": None, "at": time.time()}


# --------------------------------------------------------------------------------------------
# Clients
# --------------------------------------------------------------------------------------------


class _Poster:
    """One keep-alive connection filing reports (with Idempotency-Key retries and replays) until `stop_at`."""

    def __init__(self, port: int, token: str, rng: random.Random, give_up_at: float) -> None:
        self.port, self.token, self.rng, self.give_up_at = port, token, rng, give_up_at
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.records: list[tuple] = []  # (start, ms, status, kind, clean)
        self.got: dict[str, int] = {}
        self.mismatches: list[tuple] = []

    def _reconnect(self) -> None:
        self.conn.close()
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def send(self, key: str, body: str, kind: str) -> tuple[int, int | None, str | None]:
        """One POST: (status, report id, Retry-After); 0 when the connection failed."""
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json", "Idempotency-Key": key}
        start, t0 = time.time(), time.perf_counter()
        status, report_id, clean, hint = 0, None, True, None
        try:
            self.conn.request("POST", "/api/v1/reports", body=body, headers=headers)
            response = self.conn.getresponse()
            raw = response.read()
            status, hint = response.status, response.getheader("Retry-After")
            if status in (200, 201):
                report_id = json.loads(raw)["report_id"]
            elif status == 503:
                clean = hint is not None and json.loads(raw).get("error") == "unavailable"
            if response.getheader("Connection", "").lower() == "close":
                self.conn.close()
        except (OSError, http.client.HTTPException, ValueError):
            self._reconnect()
        self.records.append((start, (time.perf_counter() - t0) * 1000.0, status, kind, clean))
        return status, report_id, hint

    def submit(self, key: str, body: str, kind: str) -> int | None:
        """Send until acknowledged (the report id), refused (4xx) or out of time (None)."""
        while True:
            status, report_id, hint = self.send(key, body, kind)
            if status in (200, 201):
                if key in self.got and self.got[key] != report_id or (kind == "replay" and status != 200):
                    self.mismatches.append((key, self.got.get(key), report_id, status))
                self.got[key] = report_id
                return report_id
            if (status != 0 and status < 500) or time.time() > self.give_up_at:
                return None  # refused (4xx): nothing to retry; or out of time
            time.sleep(min(_seconds(hint), 5.0) * (0.5 + self.rng.random()))  # honour the hint, with jitter
            self.conn.close()  # gunicorn drops keep-alive connections idle for 2 s: retry on a fresh one
            kind = "retry" if kind == "new" else kind

    def run(self, bbox, stop_at: float) -> None:
        """File new reports until `stop_at`; a share of them is replayed with the same key."""
        rng = self.rng
        while time.time() < stop_at:
            key = uuid.uuid4().hex
            body = json.dumps({
                "channel": rng.choice(CHANNELS), "category": rng.choice(CATEGORIES), "reference": f"R-{key[:8]}",
                "description": "可靠性测试上报：道路积水", "lon": rng.uniform(bbox[0], bbox[2]),
                "lat": rng.uniform(bbox[1], bbox[3]),
            })
            if self.submit(key, body, "new") is not None and rng.random() < RETRY_SHARE:
                self.submit(key, body, "replay")  # the same key again: must answer the same report, 200
        self.conn.close()


def _seconds(hint: str | None) -> float:
    try:
        return float(hint) if hint else 0.5
    except ValueError:
        return 0.5


def _client(args) -> dict:
    """One client process: `threads` keep-alive connections filing reports until `stop_at`."""
    port, token, bbox, stop_at, threads, seed = args
    posters = [_Poster(port, token, random.Random(f"{seed}-{n}-{uuid.uuid4()}"), stop_at + GRACE_S)
               for n in range(threads)]
    pool = [threading.Thread(target=p.run, args=(bbox, stop_at), daemon=True) for p in posters]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    accepted: dict[str, int] = {}
    for p in posters:
        accepted.update(p.got)
    return {"records": [r for p in posters for r in p.records], "accepted": accepted,
            "mismatches": [m for p in posters for m in p.mismatches]}


def load_async(pool, port: int, token: str, bbox, stop_at: float, clients: int):
    per_process = max(1, clients // PROCESSES)
    return pool.map_async(_client, [(port, token, bbox, stop_at, per_process, i) for i in range(PROCESSES)])


def merge(results: list[dict]) -> dict:
    out = {"records": [], "accepted": {}, "mismatches": []}
    for r in results:
        out["records"].extend(r["records"])
        out["accepted"].update(r["accepted"])
        out["mismatches"].extend(r["mismatches"])
    return out


# --------------------------------------------------------------------------------------------
# Two dispatchers racing
# --------------------------------------------------------------------------------------------


def api(port: int, token: str, method: str, path: str, body: dict | None = None,
        timeout: float = 30) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    conn.request(method, path, body=json.dumps(body) if body is not None else None,
                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    response = conn.getresponse()
    answer = json.loads(response.read() or b"{}")
    conn.close()
    return response.status, answer


def race(cluster: Cluster, port: int, tokens: dict) -> dict:
    """Verify and file RACE_CASES cases, then two dispatchers dispatch each with the same version at once."""
    with cluster.connect(APP_DB) as conn:
        ids = [r[0] for r in conn.execute(
            "SELECT id FROM cases WHERE state = 'reported' ORDER BY id LIMIT %s", (RACE_CASES,)).fetchall()]
    ready = []
    for case_id in ids:
        status, case = api(port, tokens["rel_dispatcher_a"], "GET", f"/api/v1/cases/{case_id}")
        status, case = api(port, tokens["rel_intake"], "POST", f"/api/v1/cases/{case_id}/actions",
                           {"action": "verify", "version": case["version"]})
        if status == 200:
            status, case = api(port, tokens["rel_dispatcher_a"], "POST", f"/api/v1/cases/{case_id}/actions",
                               {"action": "file", "version": case["version"]})
        if status != 200:
            raise RuntimeError(f"could not prepare case {case_id} for the race: {status} {case}")
        ready.append((case_id, case["version"]))

    def duel(item) -> list[int]:
        case_id, version = item
        barrier = threading.Barrier(2)

        def one(who: str) -> int:
            barrier.wait()
            return api(port, tokens[who], "POST", f"/api/v1/cases/{case_id}/actions",
                       {"action": "dispatch", "version": version})[0]

        with ThreadPoolExecutor(2) as duo:
            return sorted(duo.map(one, ("rel_dispatcher_a", "rel_dispatcher_b")))

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(duel, ready))
    with cluster.connect(APP_DB) as conn:
        events = dict(conn.execute(
            "SELECT case_id, count(*) FROM case_events WHERE action = 'dispatch' AND case_id = ANY(%s) "
            "GROUP BY case_id", (ids,)).fetchall())
    good = sum(1 for (case_id, _), o in zip(ready, outcomes, strict=True)
               if o == [200, 409] and events.get(case_id) == 1)
    return {"cases": len(ready), "one_winner": good, "outcomes": outcomes}


# --------------------------------------------------------------------------------------------
# Planners: broken polygons mid-load, then two planners racing
# --------------------------------------------------------------------------------------------


def x_station(code: str, ring: list, lon: float, lat: float, base: int) -> dict:
    """A new joint station drawn as one polygon, cut into the current tiling."""
    return {"coverage": {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"station_code": code, "carve": True},
         "geometry": {"type": "Polygon", "coordinates": ring}}]},
            "new_stations": [{"code": code, "name": f"可靠性测试站{code}", "lon": lon, "lat": lat}],
            "reason": "可靠性测试：新增联勤工作站", "base_version": base, "reassign": "move"}


def square(lon: float, lat: float, d: float) -> list:
    return [[[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d], [lon - d, lat + d], [lon - d, lat - d]]]


def base_version(port: int, token: str) -> int:
    status, answer = api(port, token, "GET", "/api/v1/boundaries/versions")
    if status != 200:
        raise RuntimeError(f"could not read the boundary versions: {status} {answer}")
    return max(v["id"] for v in answer["versions"])


BROKEN = {
    "metres, not degrees": [[[592800, 3417800], [593200, 3417800], [593200, 3418200], [592800, 3418200],
                             [592800, 3417800]]],
    "1e308": [[[121.9, 30.9], [1e308, 30.9], [121.95, 30.95], [121.9, 30.9]]],
    "latitude 100": [[[121.9, 30.9], [121.95, 100.0], [121.95, 30.95], [121.9, 30.9]]],
    "bow-tie": [[[121.90, 30.90], [121.94, 30.94], [121.94, 30.90], [121.90, 30.94], [121.90, 30.90]]],
    "the whole world": [[[-180, -90], [180, -90], [180, 90], [-180, 90], [-180, -90]]],
}


def broken_saves(port: int, tokens: dict, inside: list) -> dict:
    """Mid-load: every broken polygon refused with a 4xx, then one valid new station saved (201)."""
    token = tokens["rel_planner_a"]
    started = time.time()
    base = base_version(port, token)
    refused = {}
    for name, ring in BROKEN.items():
        lon, lat = inside[0]
        refused[name] = api(port, token, "POST", "/api/v1/planning/coverage",
                            x_station("JS-901", ring, lon, lat, base))[0]
    lon, lat = inside[0]
    saved, answer = api(port, token, "POST", "/api/v1/planning/coverage",
                        x_station("JS-900", square(lon, lat, 0.002), lon, lat, base), timeout=120)
    return {"refused": refused, "saved": saved, "saved_version": answer.get("boundary_version"),
            "from": started, "to": time.time()}


def planners_race(cluster: Cluster, port: int, tokens: dict, inside: list) -> dict:
    """Two planners save a new station each, at once, on the same base: one 201, one 409."""
    base = base_version(port, tokens["rel_planner_a"])
    barrier = threading.Barrier(2)

    def one(item) -> tuple[int, dict]:
        who, code, (lon, lat) = item
        barrier.wait()
        return api(port, tokens[who], "POST", "/api/v1/planning/coverage",
                   x_station(code, square(lon, lat, 0.002), lon, lat, base), timeout=120)

    with ThreadPoolExecutor(2) as duo:
        answers = list(duo.map(one, (("rel_planner_a", "JS-911", inside[1]), ("rel_planner_b", "JS-912", inside[2]))))
    statuses = sorted(a[0] for a in answers)
    lost = next((a[1] for a in answers if a[0] == 409), {})
    with cluster.connect(APP_DB) as conn:
        forks = conn.execute("SELECT count(*) - count(DISTINCT parent_id) FROM boundary_versions "
                             "WHERE parent_id IS NOT NULL").fetchone()[0]
        homeless = conn.execute(
            "SELECT count(*) FROM stations s WHERE s.active AND s.tier = 'joint_station' AND NOT EXISTS "
            "(SELECT 1 FROM station_coverage c WHERE c.station_code = s.code "
            "AND c.version_id = (SELECT max(id) FROM boundary_versions))").fetchone()[0]
    ok = statuses == [201, 409] and lost.get("error") == "stale_base" and bool(lost.get("changes")) \
        and forks == 0 and homeless == 0
    return {"statuses": statuses, "stale_named": lost.get("error") == "stale_base" and bool(lost.get("changes")),
            "forks": forks, "homeless": homeless, "ok": ok}


# --------------------------------------------------------------------------------------------
# Supervision after hostile dates
# --------------------------------------------------------------------------------------------

HOSTILE_DUE = ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00", "2026-02-30T10:00:00+08:00",
               "2026-12-01T10:00:00\u0000", 1e308, 20261201, ["2026-12-01"], "明天")


def hostile_supervision(cluster: Cluster, port: int, tokens: dict) -> dict:
    """Orders with hostile due dates are refused (4xx, nothing stored); the list answers 200 after them."""
    token = tokens["rel_supervisor"]
    with cluster.connect(APP_DB) as conn:
        case_id = conn.execute("SELECT id FROM cases WHERE state NOT IN ('not_filed', 'closed', 'archived', 'void') "
                               "ORDER BY id LIMIT 1").fetchone()[0]
        before = conn.execute("SELECT count(*) FROM supervision_orders").fetchone()[0]
    statuses = [api(port, token, "POST", f"/api/v1/cases/{case_id}/supervision",
                    {"method": "phone", "reason": "可靠性测试督办", "due_at": due})[0] for due in HOSTILE_DUE]
    good, _ = api(port, token, "POST", f"/api/v1/cases/{case_id}/supervision",
                  {"method": "phone", "reason": "可靠性测试督办", "due_at": "2026-12-31T17:00:00+08:00"})
    with cluster.connect(APP_DB) as conn:
        stored = conn.execute("SELECT count(*) FROM supervision_orders").fetchone()[0] - before
    lists = [api(port, tokens[who], "GET", "/api/v1/supervision")[0]
             for who in ("rel_supervisor", "rel_dispatcher_a", "rel_intake")]
    ok = all(400 <= s < 500 for s in statuses) and good == 201 and stored == 1 and all(s == 200 for s in lists)
    return {"hostile": statuses, "good": good, "stored": stored, "lists": lists, "ok": ok}


# --------------------------------------------------------------------------------------------
# Reconciliation
# --------------------------------------------------------------------------------------------

PARTIAL_CHECKS = {
    "reports without their case": "SELECT count(*) FROM reports r LEFT JOIN cases c ON c.id = r.case_id "
                                  "WHERE c.id IS NULL",
    "cases without a report": "SELECT count(*) FROM cases c WHERE NOT EXISTS "
                              "(SELECT 1 FROM reports r WHERE r.case_id = c.id)",
    "cases without their 'opened' event": "SELECT count(*) FROM cases c WHERE c.split_from_id IS NULL AND NOT EXISTS "
                                          "(SELECT 1 FROM case_events e WHERE e.case_id = c.id "
                                          "AND e.action = 'opened')",
    "cases whose report_count is wrong": "SELECT count(*) FROM cases c WHERE c.report_count <> "
                                         "(SELECT count(*) FROM reports r WHERE r.case_id = c.id)",
    "reports without their event": "SELECT count(*) FROM reports r WHERE NOT EXISTS (SELECT 1 FROM case_events e "
                                   "WHERE e.case_id = r.case_id AND e.action IN ('opened', 'report_merged') "
                                   "AND (e.data->>'report_id')::bigint = r.id)",
    "reports without their audit entry": "SELECT count(*) FROM reports r WHERE NOT EXISTS (SELECT 1 FROM audit_log a "
                                         "WHERE a.action = 'report.create' AND a.entity_id = r.id::text)",
}


def reconcile(cluster: Cluster, accepted: dict[str, int]) -> dict:
    with cluster.connect(APP_DB) as conn:
        rows = conn.execute(
            "SELECT r.idempotency_key, r.id FROM reports r JOIN users u ON u.id = r.submitted_by "
            "WHERE u.username = 'rel_intake'").fetchall()
        partial = {name: conn.execute(sql).fetchone()[0] for name, sql in PARTIAL_CHECKS.items()}
    stored: dict[str, list[int]] = {}
    for key, report_id in rows:
        stored.setdefault(key, []).append(report_id)
    return {
        "stored": len(rows),
        "duplicates": len(rows) - len(stored),
        "lost": sum(1 for key, rid in accepted.items() if rid not in stored.get(key, ())),
        "unacknowledged": sum(1 for key in stored if key not in accepted),
        "partial": partial,
    }


# --------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the clean-up below on `kill` too
    cluster, server, pool = Cluster(), None, None
    try:
        print(f"reliability: private PostgreSQL 15 cluster in {cluster.root} on port {cluster.port} ...", flush=True)
        cluster.create()
        print("reliability: flask --app app setup into it ...", flush=True)
        setup = set_up_database(cluster)
        port = free_port()
        server = start_server(cluster, port, cluster.root / "gunicorn.log")
        master = server.pid  # serve.sh execs gunicorn
        workers_before = workers_of(master)
        print(f"reliability: gunicorn {WORKERS} workers x {THREADS} threads (pids {workers_before}); "
              f"{CLIENTS} clients for {SECONDS:.0f} s", flush=True)
        pool = Pool(PROCESSES, initializer=signal.signal, initargs=(signal.SIGTERM, signal.SIG_DFL))
        start = time.time()
        pending = load_async(pool, port, setup["tokens"]["rel_intake"], setup["bbox"], start + SECONDS, CLIENTS)

        time.sleep(max(0.0, start + SECONDS / 3 - time.time()))
        restart_at = time.time()
        cluster.restart()
        restarted_at = time.time()
        workers_after_restart = workers_of(master)
        print(f"reliability: PostgreSQL restarted at +{restart_at - start:.1f} s in {restarted_at - restart_at:.2f} s; "
              f"workers {'unchanged' if workers_after_restart == workers_before else workers_after_restart}",
              flush=True)

        time.sleep(max(0.0, start + SECONDS / 2 - time.time()))
        planner = broken_saves(port, setup["tokens"], setup["inside"])
        print(f"reliability: planner mid-load at +{planner['from'] - start:.1f} s: broken polygons answered "
              f"{planner['refused']}; a valid new station answered {planner['saved']} "
              f"(version {planner['saved_version']}) at +{planner['to'] - start:.1f} s", flush=True)

        time.sleep(max(0.0, start + 2 * SECONDS / 3 - time.time()))
        killed = kill_worker_in_transaction(cluster, master)
        print(f"reliability: SIGKILL worker {killed['pid']} at +{killed['at'] - start:.1f} s "
              f"(its database transaction: {killed['backend_state'] or 'none found'})", flush=True)

        result = merge(pending.get(timeout=SECONDS + GRACE_S + 120))
        pool.close()
        respawned = len(workers_of(master)) == WORKERS and http_status(port, "/healthz") == 200
        races = race(cluster, port, setup["tokens"])
        races["planners"] = planners_race(cluster, port, setup["tokens"], setup["inside"])
        races["planner"] = planner
        races["supervision"] = hostile_supervision(cluster, port, setup["tokens"])
        figures = reconcile(cluster, result["accepted"])
        return report(result, figures, races, start, restart_at, restarted_at, killed,
                      workers_before == workers_after_restart, respawned)
    finally:
        if pool is not None:
            pool.terminate()
        stop_server(server)
        cluster.destroy()


def report(result, figures, races, start, restart_at, restarted_at, killed, same_workers, respawned) -> int:
    records = result["records"]
    statuses: dict[int, int] = {}
    for r in records:
        statuses[r[2]] = statuses.get(r[2], 0) + 1
    latencies = np.array([r[1] for r in records]) if records else np.array([0.0])
    http5xx = sum(n for s, n in statuses.items() if s >= 500)
    http503 = statuses.get(503, 0)
    unclean503 = sum(1 for r in records if r[2] == 503 and not r[4])
    outage = [r for r in records if restart_at <= r[0] <= restarted_at + 1.0]
    outage_bad = sum(1 for r in outage if r[2] not in (200, 201, 503))
    recovered = any(r[2] == 201 and r[0] > restarted_at for r in records)
    broken = [r for r in records if r[2] == 0]
    # in flight to the killed worker, or sent on a keep-alive connection it held, within a second of the kill
    by_kill = sum(1 for r in broken if r[0] <= killed["at"] + 1.0 and r[0] + r[1] / 1000.0 >= killed["at"])
    by_restart = sum(1 for r in broken if r[0] <= restarted_at + 1.0 and r[0] + r[1] / 1000.0 >= restart_at)
    partial = sum(figures["partial"].values())
    kinds = {k: sum(1 for r in records if r[3] == k) for k in ("new", "retry", "replay")}

    print(f"  sent {len(records)} requests ({kinds['new']} new, {kinds['retry']} retries after a failure, "
          f"{kinds['replay']} deliberate replays); statuses {dict(sorted(statuses.items()))} (0: connection broken)")
    print(f"  accepted {len(result['accepted'])} reports, stored {figures['stored']}, duplicates "
          f"{figures['duplicates']}, lost {figures['lost']}, stored but never acknowledged "
          f"{figures['unacknowledged']}, replays answering another report {len(result['mismatches'])}")
    print(f"  latency p50 {np.percentile(latencies, 50):.1f} ms, p99 {np.percentile(latencies, 99):.1f} ms "
          f"over every request")
    print(f"  database restart: {len(outage)} requests in the window, {outage_bad} not 200/201/503; "
          f"{http503} answered 503 in all, {unclean503} without Retry-After or error=unavailable; "
          f"intake recovered without a restart: {recovered and same_workers}")
    print(f"  killed worker {killed['pid']} (mid-transaction: {killed['in_transaction']}); "
          f"{by_kill} connections to it broke and were retried; respawned and healthy: {respawned}")
    print(f"  broken connections: {len(broken)} in all, {by_kill} at the kill, {by_restart} during the restart, "
          f"{len(broken) - by_kill - by_restart} other")
    print(f"  race: {races['one_winner']}/{races['cases']} cases with exactly one 200 and one 409 and one dispatch")
    planner, planners, sup = races["planner"], races["planners"], races["supervision"]
    in_window = [r for r in records if planner["from"] <= r[0] <= planner["to"]]
    window500 = sum(1 for r in in_window if r[2] >= 500 and r[2] != 503)
    broken_ok = all(400 <= s < 500 for s in planner["refused"].values()) and planner["saved"] == 201
    print(f"  planner mid-load: {len(planner['refused'])} broken polygons, answers "
          f"{sorted(planner['refused'].values())}; valid save {planner['saved']}; intake meanwhile "
          f"{len(in_window)} requests, {sum(1 for r in in_window if r[2] == 201)} filed, {window500} answered 5xx")
    print(f"  planners racing on one base: {planners['statuses']}; loser told what changed: "
          f"{planners['stale_named']}; forks in the version chain {planners['forks']}; "
          f"stations without territory {planners['homeless']}")
    print(f"  supervision after hostile due dates: {sup['hostile']}; a good order {sup['good']}; orders stored "
          f"{sup['stored']}; list for supervisor/dispatcher/intake {sup['lists']}")
    for name, n in figures["partial"].items():
        print(f"  reconciliation: {name}: {n}")
    ok = (figures["duplicates"] == 0 and figures["lost"] == 0 and partial == 0 and not result["mismatches"]
          and outage_bad == 0 and unclean503 == 0 and http5xx == http503 and recovered and same_workers
          and respawned and races["one_winner"] == races["cases"] > 0
          and broken_ok and window500 == 0 and planners["ok"] and sup["ok"])
    print(
        f"BENCH reliability sent={len(records)} accepted={len(result['accepted'])} stored={figures['stored']} "
        f"duplicates={figures['duplicates']} lost={figures['lost']} http5xx={http5xx} "
        f"p99_ms={np.percentile(latencies, 99):.0f} http503={http503} http503_unclean={unclean503} "
        f"conn_broken={statuses.get(0, 0)} unacked={figures['unacknowledged']} partial={partial} "
        f"restart_s={restarted_at - restart_at:.2f} killed_mid_txn={int(killed['in_transaction'])} "
        f"race_one_winner={races['one_winner']}/{races['cases']} planner_broken_4xx="
        f"{sum(1 for s in planner['refused'].values() if 400 <= s < 500)}/{len(planner['refused'])} "
        f"planner_intake_5xx={window500} planners_race={'/'.join(map(str, planners['statuses']))} "
        f"supervision_hostile_4xx={sum(1 for s in sup['hostile'] if 400 <= s < 500)}/{len(sup['hostile'])} "
        f"supervision_list={'/'.join(map(str, sup['lists']))} ok={int(ok)}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
