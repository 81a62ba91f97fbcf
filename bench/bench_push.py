"""Live push benchmark: 200 open event streams (GET /api/v1/events, each its own HTTP connection) on gunicorn as
scripts/serve.sh starts it, on a fresh database of the embedded PostGIS, while reports are posted at 20/s.

Measured: the time from each POST's answer to the case's event at every stream (p50/p95/max, and how many of
the expected deliveries arrived); GET /healthz per second (4 keep-alive clients in another process) with the
reports flowing and no stream open (the baseline), then the same with the 200 streams open; the memory of the
gunicorn workers per open stream (their RSS difference / streams). Ends with one `BENCH push ...` line.

    WORKER_CLASS (serve.sh's default unless set: gevent or gthread), WORKERS (2), THREADS (gthread only);
    BENCH_STREAMS (200), BENCH_RATE (20 reports/s), BENCH_SECONDS (8 per phase).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import random
import re
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from multiprocessing import Pool
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import support  # noqa: E402

STREAMS = int(os.environ.get("BENCH_STREAMS", 200))
RATE = float(os.environ.get("BENCH_RATE", 20))
SECONDS = float(os.environ.get("BENCH_SECONDS", 8))
WORKERS = int(os.environ.get("WORKERS", 2))
HEALTH_CLIENTS = 4
REFUSED: dict[int, int] = {}
CASE = re.compile(rb'^data: \{"id":(\d+),"kind":"opened","case_id":(\d+)', re.MULTILINE)


def _healthz(args) -> int:
    """Keep-alive clients calling /healthz for `seconds`: how many answered 200."""
    port, seconds, clients = args
    done = [0] * clients
    stop = time.monotonic() + seconds

    def run(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.monotonic() < stop:
            try:
                conn.request("GET", "/healthz")
                answer = conn.getresponse()
                answer.read()
                done[i] += answer.status == 200
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    pool = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return sum(done)


class Streams:
    """`n` event streams read by one selector thread: when each saw the `opened` event of each case."""

    def __init__(self, port: int, token: str, n: int) -> None:
        self.selector = selectors.DefaultSelector()
        self.arrived: list[dict[int, float]] = [{} for _ in range(n)]
        self.ready = [False] * n
        self.buffers = [b""] * n
        self.closed = 0
        request = (f"GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n"
                   f"Authorization: Bearer {token}\r\n\r\n").encode()
        for i in range(n):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sock.sendall(request)
            sock.setblocking(False)
            self.selector.register(sock, selectors.EVENT_READ, i)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        while not self.stop.is_set():
            for key, _ in self.selector.select(timeout=0.2):
                now = time.time()
                i = key.data
                try:
                    data = key.fileobj.recv(65536)
                except BlockingIOError:
                    continue
                if not data:
                    self.selector.unregister(key.fileobj)
                    self.closed += 1
                    continue
                buf = self.buffers[i] + data
                cut = buf.rfind(b"\n")
                whole, self.buffers[i] = buf[:cut + 1], buf[cut + 1:]
                if not self.ready[i] and b"event: ready" in whole:
                    self.ready[i] = True
                for match in CASE.finditer(whole):
                    self.arrived[i].setdefault(int(match.group(2)), now)

    def wait_ready(self, timeout: float) -> int:
        end = time.monotonic() + timeout
        while sum(self.ready) < len(self.ready) and time.monotonic() < end:
            time.sleep(0.1)
        return sum(self.ready)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        for key in list(self.selector.get_map().values()):
            key.fileobj.close()


def post_reports(port: int, token: str, bbox, seconds: float, rate: float) -> dict[int, float]:
    """Reports at `rate` per second for `seconds`: case id -> when the answer (201, a new case) arrived."""
    answered: dict[int, float] = {}
    rng = random.Random()  # new points every phase: the same ones would merge into the earlier cases
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    start = time.monotonic()
    for n in range(int(seconds * rate)):
        time.sleep(max(start + n / rate - time.monotonic(), 0))
        body = json.dumps({"channel": "hotline", "category": "06010", "description": "推送基准：道路积水",
                           "lon": rng.uniform(bbox[0], bbox[2]), "lat": rng.uniform(bbox[1], bbox[3])})
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                   "Idempotency-Key": uuid.uuid4().hex}
        try:
            conn.request("POST", "/api/v1/reports", body=body, headers=headers)
            answer = conn.getresponse()
            reply = json.loads(answer.read())
        except (OSError, http.client.HTTPException) as failed:  # a starved server: no answer in 30 s
            REFUSED[0] = REFUSED.get(0, 0) + 1
            print(f"  a report got no answer: {failed!r}", flush=True)
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            continue
        if answer.status == 201 and not reply["merged"]:
            answered[reply["case_id"]] = time.time()
        elif answer.status != 201:
            REFUSED[answer.status] = REFUSED.get(answer.status, 0) + 1
            if REFUSED[answer.status] == 1:
                print(f"  a report was refused: {answer.status} {reply}", flush=True)
    return answered


def phase(port: int, token: str, bbox) -> tuple[float, dict[int, float]]:
    """Reports at RATE and /healthz load at once, for SECONDS: (healthz per second, the posted cases)."""
    with Pool(1) as pool:
        health = pool.map_async(_healthz, [(port, SECONDS, HEALTH_CLIENTS)])
        answered = post_reports(port, token, bbox, SECONDS, RATE)
        count = health.get()[0]
    return count / SECONDS, answered


def workers_rss_kb(master: int) -> int:
    """The resident memory of the gunicorn workers (the master's children: serve.sh execs gunicorn), in kB."""
    total = 0
    for pid in Path(f"/proc/{master}/task/{master}/children").read_text().split():
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


def stop(server) -> None:
    """Quick shutdown (a graceful one waits for the streams' next heartbeat); workers still busy after 10 s (a
    gthread worker's threads sit in their streams) are killed."""
    workers = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    server.send_signal(signal.SIGINT)
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        for pid in [*workers, str(server.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
        server.wait(timeout=10)


def latencies(streams: Streams, answered: dict[int, float]) -> tuple[np.ndarray, int, int]:
    """Milliseconds from each POST's answer to its event at each stream (0 when the event came first), and how
    many deliveries were expected and arrived."""
    values = [max(arrived[case] - at, 0.0) * 1000.0
              for arrived in streams.arrived for case, at in answered.items() if case in arrived]
    return np.array(values), len(answered) * len(streams.arrived), len(values)


def main() -> None:
    base = support.server_url()
    print("push: setting up a fresh database ...", flush=True)
    url, _, bbox = support.fresh_database(base, "push", "bench", "dispatcher")
    token = support.issue_token(url, "bench")
    port = support.free_port()
    env = {"WORKERS": str(WORKERS), "SCHEDULER": "false"}
    for name in ("WORKER_CLASS", "THREADS"):
        if os.environ.get(name):
            env[name] = os.environ[name]
    server = support.serve(url, port, settle_s=1.0, **env)
    worker_class = os.environ.get("WORKER_CLASS") or _serve_default()
    try:
        post_reports(port, token, bbox, 3.0, RATE)  # warm: ownership indexes, geocoders, pools of every worker
        without, _ = phase(port, token, bbox)
        rss_before = workers_rss_kb(server.pid)
        streams = Streams(port, token, STREAMS)
        opened = streams.wait_ready(30)
        time.sleep(1.0)
        rss_after = workers_rss_kb(server.pid)
        with_streams, answered = phase(port, token, bbox)
        time.sleep(2.0)  # the last events on their way
        streams.close()
    finally:
        stop(server)
        support.drop_database(base, url)
    ms, expected, arrived = latencies(streams, answered)
    p50, p95, top = (float(np.percentile(ms, q)) for q in (50, 95, 100)) if len(ms) else (float("nan"),) * 3
    ratio = with_streams / without if without else float("nan")
    per_stream_kb = (rss_after - rss_before) / max(opened, 1)
    print(f"server: gunicorn {WORKERS} workers, worker class {worker_class}"
          + (f" x {os.environ.get('THREADS', 2)} threads" if worker_class == "gthread" else ""))
    print(f"  streams open                    {opened:>8d} of {STREAMS} (closed by the server: {streams.closed})")
    print(f"  reports posted (new cases)      {len(answered):>8d} at {RATE:.0f}/s for {SECONDS:.0f} s")
    print(f"  deliveries                      {arrived:>8d} of {expected}")
    print(f"  POST answer -> event, p50       {p50:>8.1f} ms")
    print(f"  POST answer -> event, p95       {p95:>8.1f} ms")
    print(f"  POST answer -> event, max       {top:>8.1f} ms")
    print(f"  GET /healthz, no stream         {without:>8.1f} /s")
    print(f"  GET /healthz, {STREAMS} streams open {with_streams:>8.1f} /s  ({ratio:.0%} of the rate)")
    print(f"  worker memory per stream        {per_stream_kb:>8.1f} kB  (RSS {rss_before} -> {rss_after} kB)")
    if REFUSED:
        print(f"  reports refused or unanswered   {REFUSED}")
    print(f"BENCH push worker={worker_class} streams={opened} rate={RATE:.0f} delivered={arrived}/{expected} "
          f"p50_ms={p50:.1f} p95_ms={p95:.1f} max_ms={top:.1f} healthz_without={without:.1f} "
          f"healthz_with={with_streams:.1f} healthz_ratio={ratio:.3f} kb_per_stream={per_stream_kb:.1f}")


def _serve_default() -> str:
    match = re.search(r'WORKER_CLASS="\$\{WORKER_CLASS:-(\w+)\}"', (ROOT / "scripts" / "serve.sh").read_text())
    return match.group(1) if match else "?"


if __name__ == "__main__":
    main()
