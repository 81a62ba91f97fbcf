"""Sensor benchmark: 1,000 readings per second for 30 s through a real mosquitto into PostGIS.

A fresh database (created on the DATABASE_URL server, dropped at the end) is set up as `make run` does,
with 100 water-level sensors at address points of the town; a private mosquitto (tests/brokers.py)
carries the readings. Three subscribers take the same load, one after the other, each in its own
process:

- ours: `flask --app app sensors subscribe` as scripts/serve.sh starts it (QoS 1, batches stored in one
  transaction and acknowledged after the commit, thresholds checked, episodes followed, reports filed);
- baseline `insert`: paho with QoS 1 and one INSERT per message in autocommit (what most people write first);
- baseline `copy`: paho with QoS 1 and COPY of what arrived every 100 ms (or 500 rows) in one transaction,
  the fastest plain way into PostgreSQL.
The baselines store into a table with the same columns and the same (sensor, time) index, and neither
checks thresholds nor files anything. During seconds 10-20 five sensors read over the threshold: ours must
open exactly five reports. The lag is from the publisher's clock at publish to the reading's stored
`received_at` (set when its batch is written; the commit follows in the same batch). Prints, per
subscriber, readings stored per second over the run, p50/p95 lag, and reports opened. Ends with one
`BENCH sensors ...` line.

    BENCH_RATE (default 1000) readings per second; BENCH_SECONDS (default 30).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.connectors.subscriber import Broker  # noqa: E402
from bench import support  # noqa: E402
from tests.brokers import private_broker  # noqa: E402

RATE = int(os.environ.get("BENCH_RATE", 1000))
SECONDS = float(os.environ.get("BENCH_SECONDS", 30))
SENSORS = 100
BREACHING = 5
DRAIN_S = 120.0


# ------------------------------------------------------------------------------------------------
# Setting up
# ------------------------------------------------------------------------------------------------


def register_sensors(url: str) -> list[str]:
    """SENSORS water-level sensors at address points; their ids."""
    from app import create_app
    from app.connectors import sensors
    from app.territory.models import Address

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench"})
    ids = []
    with app.extensions["db"].transaction() as s:
        from geoalchemy2.shape import to_shape
        from sqlalchemy import select

        places = [to_shape(g) for g in s.scalars(select(Address.geom).order_by(Address.id))]
        rng = random.Random(5)
        for n, p in enumerate(rng.sample(places, SENSORS)):
            sensor_id = f"B-WL-{n:03d}"
            sensors.add_sensor(s, sensor_id, "water_level", f"基准水位{n}", p.x, p.y)
            ids.append(sensor_id)
        probe = places[0]
        sensors.add_sensor(s, "PROBE", "noise", "探针", probe.x, probe.y)
        s.execute(text("CREATE TABLE bench_plain (sensor_id text NOT NULL, at timestamptz NOT NULL, "
                       "received_at timestamptz NOT NULL DEFAULT clock_timestamp(), value float8 NOT NULL, "
                       "data jsonb)"))
        s.execute(text("CREATE INDEX ON bench_plain (sensor_id, at)"))
    app.extensions["db"].engine.dispose()
    return ids


# ------------------------------------------------------------------------------------------------
# The baselines
# ------------------------------------------------------------------------------------------------


def plain_subscriber(mode: str, mqtt_url: str, db_url: str, ready, stop) -> None:
    """A plain subscriber (insert per message, or COPY batches) until `stop` is set."""
    import psycopg

    from app.connectors import sensors

    conn = psycopg.connect(make_url(db_url).set(drivername="postgresql").render_as_string(hide_password=False),
                           autocommit=True)
    pending: list[tuple] = []
    lock = threading.Lock()

    def row(message) -> tuple | None:
        try:
            body = json.loads(message.payload)
            sensor_id = message.topic.split("/")[1]
            return sensor_id, body["at"], float(body["value"]), json.dumps({"sent": body["sent"]})
        except (ValueError, KeyError, IndexError):
            return None

    def on_message(_client, _userdata, message) -> None:
        r = row(message)
        if r is None:
            return
        if mode == "insert":
            conn.execute("INSERT INTO bench_plain (sensor_id, at, value, data) VALUES (%s, %s, %s, %s)", r)
        else:
            with lock:
                pending.append(r)

    def flush() -> None:
        with lock:
            batch, pending[:] = list(pending), []
        if not batch:
            return
        now = datetime.now(UTC)
        with conn.transaction(), conn.cursor().copy(
                "COPY bench_plain (sensor_id, at, value, data, received_at) FROM STDIN") as copy:
            for r in batch:
                copy.write_row((*r, now))

    broker = Broker.from_url(mqtt_url)
    client = broker.client(f"plain-{mode}")
    client.on_message = on_message
    client.on_connect = lambda c, *_: c.subscribe(sensors.SUBSCRIPTION, qos=1)
    client.connect(broker.host, broker.port)
    client.loop_start()
    time.sleep(0.5)
    ready.set()
    while not stop.is_set():
        time.sleep(0.1)
        if mode == "copy":
            flush()
    client.loop_stop()
    if mode == "copy":
        flush()
    conn.close()


# ------------------------------------------------------------------------------------------------
# Publishing and measuring
# ------------------------------------------------------------------------------------------------


def publish(mqtt_url: str, ids: list[str], tag: str) -> tuple[int, float]:
    """RATE readings per second for SECONDS (five sensors breach from 10 s to 20 s); (sent, first publish time)."""
    broker = Broker.from_url(mqtt_url)
    client = broker.client(f"bench-pub-{tag}")
    client.max_inflight_messages_set(2000)
    client.max_queued_messages_set(0)
    client.connect(broker.host, broker.port)
    client.loop_start()
    rng = random.Random(tag)
    total = int(RATE * SECONDS)
    start = time.time()
    last = None
    for i in range(total):
        due = start + i / RATE
        wait = due - time.time()
        if wait > 0:
            time.sleep(wait)
        sensor = ids[i % len(ids)]
        breach = ids.index(sensor) < BREACHING and SECONDS / 3 <= (due - start) < 2 * SECONDS / 3
        now = time.time()
        body = {"value": round(30 + rng.random() * 5 if breach else 2 + rng.random() * 3, 2),
                "at": datetime.fromtimestamp(now, UTC).isoformat(), "sent": now}
        last = client.publish(f"sensors/{sensor}/reading", json.dumps(body), qos=1)
    if last is not None:
        last.wait_for_publish(30)
    client.disconnect()
    client.loop_stop()
    return total, start


def measure(engine, table: str, sent: int, start: float) -> dict:
    """Wait until every reading is stored (or DRAIN_S passes); rate, lag percentiles."""
    where = "sensor_id LIKE 'B-WL-%'"
    deadline = time.time() + DRAIN_S
    while True:
        with engine.connect() as conn:
            stored = conn.execute(text(f"SELECT count(*) FROM {table} WHERE {where}")).scalar_one()
        if stored >= sent or time.time() > deadline:
            break
        time.sleep(0.5)
    with engine.connect() as conn:
        row = conn.execute(text(
            f"SELECT count(*), max(extract(epoch FROM received_at)), "
            f"percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM received_at) - (data->>'sent')::float8), "
            f"percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM received_at) - (data->>'sent')::float8) "
            f"FROM {table} WHERE {where}")).one()
    count, last, p50, p95 = row
    return {"stored": count, "per_s": count / max(float(last) - start, 1e-9) if last else 0.0,
            "p50_ms": float(p50 or 0) * 1000, "p95_ms": float(p95 or 0) * 1000}


def wait_subscribed(mqtt_url: str, engine, proc: subprocess.Popen) -> None:
    """Publish probe readings until one is stored: the subscriber has started and subscribed."""
    broker = Broker.from_url(mqtt_url)
    client = broker.client("bench-probe")
    client.connect(broker.host, broker.port)
    client.loop_start()
    deadline = time.time() + 120
    try:
        while time.time() < deadline and proc.poll() is None:
            client.publish("sensors/PROBE/reading", json.dumps({"value": 50}), qos=1).wait_for_publish(5)
            time.sleep(0.5)
            with engine.connect() as conn:
                if conn.execute(text("SELECT count(*) FROM sensor_readings WHERE sensor_id = 'PROBE'")).scalar_one():
                    return
        raise SystemExit("the subscriber did not start")
    finally:
        client.disconnect()
        client.loop_stop()


def run_ours(url: str, mqtt_url: str, ids: list[str], engine) -> dict:
    env = dict(os.environ, DATABASE_URL=url, SECRET_KEY="bench", MQTT_URL=mqtt_url)
    proc = subprocess.Popen([str(ROOT / ".venv" / "bin" / "flask"), "--app", "app", "sensors", "subscribe",
                             "--client-id", "bench-ours"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        wait_subscribed(mqtt_url, engine, proc)
        sent, start = publish(mqtt_url, ids, "ours")
        result = measure(engine, "sensor_readings", sent, start)
    finally:
        proc.terminate()
        _, errors = proc.communicate(timeout=30)
    with engine.connect() as conn:
        result["reports"] = conn.execute(text("SELECT count(*) FROM reports WHERE channel = 'sensor'")).scalar_one()
        result["rejected"] = conn.execute(text("SELECT count(*) FROM sensor_rejects")).scalar_one()
    result["sent"] = sent
    if "Traceback" in (errors or ""):
        print(errors[-2000:], file=sys.stderr)
    return result


def run_plain(mode: str, url: str, mqtt_url: str, ids: list[str], engine) -> dict:
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE bench_plain"))
    ready, stop = multiprocessing.Event(), multiprocessing.Event()
    proc = multiprocessing.Process(target=plain_subscriber, args=(mode, mqtt_url, url, ready, stop))
    proc.start()
    ready.wait(30)
    try:
        sent, start = publish(mqtt_url, ids, mode)
        result = measure(engine, "bench_plain", sent, start)
    finally:
        stop.set()
        proc.join(60)
    result["sent"], result["reports"] = sent, 0
    return result


def main() -> None:
    base = support.server_url()
    print("sensors: setting up a fresh database ...", flush=True)
    url, _, _ = support.fresh_database(base, "bench_sensors", "bench", "admin")
    engine = create_engine(url)
    try:
        ids = register_sensors(url)
        with private_broker() as mqtt_url:
            # the plain ones first: ours keeps a persistent broker session that would queue their load too
            insert = run_plain("insert", url, mqtt_url, ids, engine)
            copy = run_plain("copy", url, mqtt_url, ids, engine)
            ours = run_ours(url, mqtt_url, ids, engine)
    finally:
        engine.dispose()
        support.drop_database(base, url)
    print(f"load: {RATE}/s for {SECONDS:.0f} s over {SENSORS} sensors ({BREACHING} breach from "
          f"{SECONDS / 3:.0f} s to {2 * SECONDS / 3:.0f} s)")
    for name, r in (("ours (flask sensors subscribe)", ours), ("plain paho + INSERT per message", insert),
                    ("plain paho + COPY batches", copy)):
        print(f"  {name:32s} stored {r['stored']}/{r['sent']}  {r['per_s']:8.1f}/s  lag p50 {r['p50_ms']:7.1f} ms"
              f"  p95 {r['p95_ms']:8.1f} ms  reports {r['reports']}")
    print(
        f"BENCH sensors stored_per_s={ours['per_s']:.1f} lag_p95_ms={ours['p95_ms']:.1f} "
        f"lag_p50_ms={ours['p50_ms']:.1f} reports={ours['reports']} expected_reports={BREACHING} "
        f"stored={ours['stored']} sent={ours['sent']} rejected={ours['rejected']} "
        f"insert_per_s={insert['per_s']:.1f} insert_lag_p95_ms={insert['p95_ms']:.1f} insert_stored={insert['stored']} "
        f"copy_per_s={copy['per_s']:.1f} copy_lag_p95_ms={copy['p95_ms']:.1f} copy_stored={copy['stored']}"
    )


if __name__ == "__main__":
    main()
