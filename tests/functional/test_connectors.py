"""Connectors with real parts: a private mosquitto and the subscriber (a flood episode opens one case; the case's
closing ends the episode; malformed messages are counted), a receiving HTTP server that is down for a while and
then fails every third request (every outbox event arrives once, in order per case, signed), district orders, the
dead-letter list, and a video report placed at its camera."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from geoalchemy2.shape import to_shape
from shapely import wkt
from sqlalchemy import func, select

from app.cases import intake
from app.cases.models import Case, CaseEvent, Report
from app.connectors import outbox, runner, sensors
from app.connectors.models import OutboxEvent, SensorEpisode, SensorReading
from app.connectors.subscriber import Broker, Subscriber
from tests import factories
from tests.brokers import private_broker

SECRET = "test-district-secret-0123456789"
CLOSED_PATH = ["verified", "filed", "dispatched", "in_progress", "handled", "checked", "closed"]


def wait_for(condition, timeout: float = 20.0, what: str = "condition"):
    """Poll until condition() is truthy; its value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


# ------------------------------------------------------------------------------------------------
# Sensors over a real broker
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def broker_url():
    with private_broker() as url:
        yield url


@pytest.fixture(scope="module")
def subscriber(app, broker_url):
    """The subscriber running in a thread against the module's broker."""
    sub = Subscriber(app.extensions["db"], broker_url, intake.IntakeSettings.from_config(app.config),
                     client_id=f"test-{uuid.uuid4().hex[:8]}", batch_wait_s=0.02)
    stop = threading.Event()
    thread = threading.Thread(target=sub.run, args=(stop,), daemon=True)
    thread.start()
    wait_for(sub.connected.is_set, what="the subscriber to subscribe")
    yield sub
    stop.set()
    thread.join(10)


@pytest.fixture(scope="module")
def publisher(broker_url):
    broker = Broker.from_url(broker_url)
    client = broker.client(f"pub-{uuid.uuid4().hex[:8]}")
    client.connect(broker.host, broker.port)
    client.loop_start()

    def publish(topic: str, payload: bytes | dict) -> None:
        body = json.dumps(payload).encode() if isinstance(payload, dict) else payload
        client.publish(topic, body, qos=1).wait_for_publish(5)

    yield publish
    client.disconnect()
    client.loop_stop()


def _sensor(app, spots, type_code: str = "water_level") -> str:
    sensor_id = f"T-{uuid.uuid4().hex[:8]}"
    p = spots()
    with app.extensions["db"].transaction() as s:
        sensors.add_sensor(s, sensor_id, type_code, f"测试{sensor_id}", p.x, p.y)
    return sensor_id


def _readings(app, sensor_id: str) -> int:
    with app.extensions["db"].transaction() as s:
        return s.scalar(select(func.count()).select_from(SensorReading).where(SensorReading.sensor_id == sensor_id))


def _sensor_cases(app, sensor_id: str) -> list[Case]:
    with app.extensions["db"].transaction() as s:
        return list(s.scalars(select(Case).join(Report, Report.case_id == Case.id)
                              .where(Report.channel == "sensor", Report.reference == sensor_id).order_by(Case.id)))


def test_a_flood_episode_opens_one_case_and_its_closing_ends_the_episode(app, spots, subscriber, publisher):
    sensor_id = _sensor(app, spots)
    topic = f"sensors/{sensor_id}/reading"
    levels = [3, 4, 18, 25, 31, 28, 22, 16, 9, 6, 4]  # threshold 15 cm, normal below 10 cm
    for level in levels:
        publisher(topic, {"value": level})
    wait_for(lambda: _readings(app, sensor_id) == len(levels), what="the readings")
    cases = _sensor_cases(app, sensor_id)
    assert len(cases) == 1
    case = cases[0]
    assert case.category_code == "10001" and case.urgency == "emergency"
    with app.extensions["db"].transaction() as s:
        sensor_point = to_shape(s.scalar(select(Report.geom).where(Report.case_id == case.id)))
        episode = s.scalar(select(SensorEpisode).where(SensorEpisode.sensor_id == sensor_id))
        logged = s.scalars(select(CaseEvent.action).where(CaseEvent.case_id == case.id)).all()
    assert episode.case_id == case.id and episode.peak_value == 31 and episode.normal_at is not None
    assert episode.closed_at is None
    assert "sensor_normal" in logged
    assert sensor_point.distance(to_shape(_sensor_geom(app, sensor_id))) < 1e-9

    # a second breach while the case is open files nothing
    publisher(topic, {"value": 40})
    wait_for(lambda: _readings(app, sensor_id) == len(levels) + 1, what="the second breach")
    assert len(_sensor_cases(app, sensor_id)) == 1

    # the case closes: the episode closes with it, and the next breach opens a new case
    factories.walk(app, case.id, "closed")
    with app.extensions["db"].transaction() as s:
        assert s.scalar(select(SensorEpisode.closed_at).where(SensorEpisode.id == episode.id)) is not None
    publisher(topic, {"value": 2})
    publisher(topic, {"value": 20})
    wait_for(lambda: len(_sensor_cases(app, sensor_id)) == 2, what="a new episode's case")


def _sensor_geom(app, sensor_id: str):
    from app.connectors.models import Sensor

    with app.extensions["db"].transaction() as s:
        return s.get(Sensor, sensor_id).geom


def test_malformed_messages_are_counted_and_the_subscriber_goes_on(app, spots, subscriber, publisher, make_user):
    sensor_id = _sensor(app, spots, "noise")
    with app.extensions["db"].transaction() as s:
        before = sensors.rejected_count(s)
    publisher(f"sensors/{sensor_id}/reading", b"not json {")
    publisher(f"sensors/{sensor_id}/reading", {"value": "loud"})
    publisher(f"sensors/{sensor_id}/reading", b'{"value": NaN}')
    publisher("sensors/no-such-sensor/reading", {"value": 1})
    publisher(f"sensors/{sensor_id}/reading", {"value": 61.5, "at": "2026-12-01T08:00:00+08:00"})
    wait_for(lambda: _readings(app, sensor_id) == 1, what="the good reading after the bad ones")
    with app.extensions["db"].transaction() as s:
        assert sensors.rejected_count(s) == before + 4
    _, _, admin = make_user("admin")
    metrics = app.test_client().get("/metrics", headers=factories.bearer(admin)).get_data(as_text=True)
    line = next(x for x in metrics.splitlines() if x.startswith("nanhui_sensor_messages_rejected_total "))
    assert int(line.split()[1]) >= before + 4
    assert subscriber.locked.is_set()


def test_a_reading_delivered_twice_is_stored_once(app, spots, subscriber, publisher):
    sensor_id = _sensor(app, spots, "cover_tilt")
    reading = {"value": 1.5, "at": "2026-12-01T09:00:00+08:00"}
    publisher(f"sensors/{sensor_id}/reading", reading)
    publisher(f"sensors/{sensor_id}/reading", reading)
    publisher(f"sensors/{sensor_id}/reading", {"value": 1.7, "at": "2026-12-01T09:00:10+08:00"})
    wait_for(lambda: _readings(app, sensor_id) == 2, what="the two distinct readings")
    time.sleep(0.3)
    assert _readings(app, sensor_id) == 2


def test_a_second_subscriber_waits_for_the_lock(app, broker_url, subscriber):
    second = Subscriber(app.extensions["db"], broker_url, intake.IntakeSettings(), client_id="second")
    stop = threading.Event()
    thread = threading.Thread(target=second.run, args=(stop,), daemon=True)
    thread.start()
    time.sleep(0.5)
    assert not second.locked.is_set() and not second.connected.is_set()
    stop.set()
    thread.join(10)
    assert not thread.is_alive()


def test_sensor_page_shows_latest_readings_and_a_chart(app, spots, subscriber, publisher, make_user):
    sensor_id = _sensor(app, spots, "smoke")
    for v in (0.2, 0.5, 0.3):
        publisher(f"sensors/{sensor_id}/reading", {"value": v})
    wait_for(lambda: _readings(app, sensor_id) == 3, what="the readings")
    _, _, token = make_user("dispatcher")
    html = app.test_client().get("/sensors", headers=factories.bearer(token)).get_data(as_text=True)
    card = html[html.index(f'data-sensor="{sensor_id}"'):]
    card = card[:card.index("</section>")]
    assert "烟感" in card and "0.3" in card and "<svg" in card and "<polyline" in card
    data = app.test_client().get("/api/v1/sensors", headers=factories.bearer(token)).get_json()
    mine = next(x for x in data["sensors"] if x["id"] == sensor_id)
    assert [r["value"] for r in mine["readings"]] == [0.2, 0.5, 0.3] and mine["last_value"] == 0.3
    english = app.test_client().get("/sensors?lang=en", headers=factories.bearer(token)).get_data(as_text=True)
    assert "Smoke" in english and "Threshold" in english and "烟感" not in english


# ------------------------------------------------------------------------------------------------
# The district link
# ------------------------------------------------------------------------------------------------


class Receiver:
    """The district center's end: checks the signature, fails every third request, keeps each event once."""

    def __init__(self, port: int) -> None:
        self.port, self.requests, self.accepted, self.duplicates, self.bad_signatures = port, 0, [], 0, 0
        self.keys: set[str] = set()
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None
        self.fail_all = False

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                stamp = self.headers[outbox.TIMESTAMP_HEADER]
                good = hmac.compare_digest(self.headers[outbox.SIGNATURE_HEADER], "sha256=" + hmac.new(
                    SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest())
                with receiver.lock:
                    receiver.requests += 1
                    fail = receiver.fail_all or receiver.requests % 3 == 0
                    if not good:
                        receiver.bad_signatures += 1
                    elif not fail:
                        key = self.headers["Idempotency-Key"]
                        if key in receiver.keys:
                            receiver.duplicates += 1
                        else:
                            receiver.keys.add(key)
                            receiver.accepted.append(json.loads(body))
                self.send_response(401 if not good else 500 if fail else 204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _order(app, token: str, spot, order_no: str | None = None, **extra):
    body = {"order_no": order_no or f"PD{uuid.uuid4().hex[:10]}", "category": factories.CATEGORY,
            "description": "区城运中心派单：雨水井盖破损", "lon": spot.x, "lat": spot.y, **extra}
    return body, app.test_client().post("/api/v1/district/orders", json=body, headers=factories.bearer(token))


def _events(app, case_ids) -> list[OutboxEvent]:
    with app.extensions["db"].transaction() as s:
        return list(s.scalars(select(OutboxEvent).where(OutboxEvent.case_id.in_(case_ids)).order_by(OutboxEvent.id)))


@pytest.fixture
def sender(app):
    """Start the outbox sender against a URL; stopped at the end of the test."""
    started = []

    def start(url: str, max_attempts: int = 12) -> None:
        stop = threading.Event()
        target = outbox.Target(url, SECRET, max_attempts=max_attempts, backoff_s=0.1, timeout_s=2)
        thread = threading.Thread(target=runner.send_forever, args=(app.extensions["db"], target, stop, 0.05),
                                  daemon=True)
        thread.start()
        started.append((stop, thread))

    yield start
    for stop, thread in started:
        stop.set()
        thread.join(10)


def test_every_outbox_event_arrives_once_in_order_after_the_receiver_comes_back(app, spots, make_user, sender):
    _, _, token = make_user("intake")
    orders = []
    for _ in range(3):
        body, answer = _order(app, token, spots())
        assert answer.status_code == 201, answer.get_json()
        orders.append((body["order_no"], answer.get_json()["case_id"]))
    case_ids = [c for _, c in orders]
    for case_id in case_ids:  # every step of the loop is a state change for the district
        factories.walk(app, case_id, "closed")
    events = _events(app, case_ids)
    assert len(events) == 3 * (1 + len(CLOSED_PATH))  # received, then each state change
    assert all(e.state == "pending" for e in events)

    port = _free_port()
    receiver = Receiver(port)
    sender(f"http://127.0.0.1:{port}/events")  # nobody listens yet: connection refused
    wait_for(lambda: all(e.attempts >= 2 for e in _events(app, case_ids)[:1]), what="failed attempts while down")
    assert not receiver.accepted
    receiver.start()
    try:
        wait_for(lambda: all(e.state == "delivered" for e in _events(app, case_ids)), timeout=60,
                 what="every event delivered")
    finally:
        receiver.stop()
    ours = [p for p in receiver.accepted if p["case_id"] in case_ids]
    assert receiver.bad_signatures == 0 and receiver.duplicates == 0
    assert sorted(p["event_id"] for p in ours) == sorted(e.idempotency_key for e in events)
    for order_no, case_id in orders:
        sent = [p for p in ours if p["case_id"] == case_id]
        assert [p["event_id"] for p in sent] == [e.idempotency_key for e in events if e.case_id == case_id]
        assert sent[0]["type"] == "order.received" and sent[0]["order_no"] == order_no
        assert [p["to_state"] for p in sent[1:]] == CLOSED_PATH
        versions = [p["case_version"] for p in sent[1:]]
        assert versions == sorted(versions)
    assert receiver.requests > len(events)  # some were refused (every third) and tried again


def test_a_dead_event_waits_for_replay_and_holds_the_later_ones_of_its_case(app, spots, make_user, sender):
    _, _, token = make_user("intake")
    _, _, admin = make_user("admin")
    _, answer = _order(app, token, spots())
    case_id = answer.get_json()["case_id"]
    factories.walk(app, case_id, "filed")
    port = _free_port()
    receiver = Receiver(port)
    receiver.fail_all = True
    receiver.start()
    try:
        sender(f"http://127.0.0.1:{port}/events", max_attempts=2)
        first = wait_for(lambda: next((e for e in _events(app, [case_id]) if e.state == "dead"), None),
                         what="a dead event")
        time.sleep(0.5)
        later = [e for e in _events(app, [case_id]) if e.id > first.id]
        assert later and all(e.state == "pending" and e.attempts == 0 for e in later)  # held behind the dead one
        client = app.test_client()
        dead = client.get("/api/v1/district/outbox?state=dead", headers=factories.bearer(admin)).get_json()
        assert first.id in [e["id"] for e in dead["events"]] and dead["counts"]["dead"] >= 1
        assert client.get("/api/v1/district/outbox", headers=factories.bearer(token)).status_code == 403
        receiver.fail_all = False
        receiver.requests = 1  # the next two succeed
        replayed = client.post(f"/api/v1/district/outbox/{first.id}/replay", headers=factories.bearer(admin))
        assert replayed.status_code == 200 and replayed.get_json()["state"] == "pending"
        wait_for(lambda: all(e.state == "delivered" for e in _events(app, [case_id])), what="delivery after replay")
    finally:
        receiver.stop()
    sent = [p["event_id"] for p in receiver.accepted if p["case_id"] == case_id]
    assert sent == [e.idempotency_key for e in _events(app, [case_id])]


def test_a_district_order_is_idempotent_and_closes_only_after_a_written_feedback(app, spots, make_user):
    _, _, token = make_user("intake")
    body, first = _order(app, token, spots())
    again = app.test_client().post("/api/v1/district/orders", json=body, headers=factories.bearer(token))
    assert first.status_code == 201 and again.status_code == 200
    assert again.get_json() == {**first.get_json(), "replayed": True}
    other = app.test_client().post("/api/v1/district/orders", json={**body, "description": "另一件事"},
                                   headers=factories.bearer(token))
    assert other.status_code == 409 and other.get_json()["error"] == "order_no_reused"
    case_id = first.get_json()["case_id"]
    with app.extensions["db"].transaction() as s:
        report = s.scalar(select(Report).where(Report.case_id == case_id))
        assert (report.channel, report.reference) == ("district", body["order_no"])
    case = factories.walk(app, case_id, "in_progress")
    handler = factories.actor(app, "handler", department_code=case.owner_code) if case.owner_kind == "department" \
        else factories.actor(app, "patrol", station_code=case.owner_code)
    with pytest.raises(Exception, match="feedback needs a note"):
        factories.act(app, case_id, handler, "feedback")
    factories.act(app, case_id, handler, "feedback", note="井盖已更换")
    factories.act(app, case_id, factories.actor(app, "shift_leader"), "check")
    assert factories.act(app, case_id, factories.actor(app, "shift_leader"), "close").state == "closed"


def test_every_case_goes_upward_with_district_outbox_all(app, database_url, spots):
    from app import create_app

    everything = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "x", "DISTRICT_OUTBOX_ALL": True})
    try:
        hotline = factories.report(everything, spots(), channel="hotline").report.case_id
        factories.walk(everything, hotline, "verified")
        quiet = factories.report(app, spots(), channel="hotline").report.case_id
        factories.walk(app, quiet, "verified")  # the ordinary app: not a district case, nothing goes upward
    finally:
        everything.extensions["db"].engine.dispose()
    sent = _events(app, [hotline, quiet])
    assert [(e.case_id, e.payload["to_state"], e.payload["order_no"]) for e in sent] == [(hotline, "verified", None)]


def test_district_orders_need_an_api_token(app, spots, make_user):
    username, password, _ = make_user("intake")
    client = app.test_client()
    assert client.post("/api/v1/district/orders", json={}).status_code == 401
    _, _, patrol = make_user("patrol")
    assert _order(app, patrol, spots())[1].status_code == 403


# ------------------------------------------------------------------------------------------------
# Cameras
# ------------------------------------------------------------------------------------------------


def test_cameras_load_from_a_geopackage_in_another_crs(app, spots, tmp_path, make_user):
    import geopandas
    from shapely.geometry import Point

    from gis.crs import to_metric

    p = spots()
    ident = f"CAM-G{uuid.uuid4().hex[:6]}"
    frame = geopandas.GeoDataFrame({"id": [ident], "name": ["港城路口"], "direction_deg": [180.0],
                                    "status": ["offline"]}, geometry=[Point(to_metric(p).coords[0])], crs=4550)
    path = tmp_path / "cameras.gpkg"
    frame.to_file(path, layer="cameras", driver="GPKG")
    result = app.test_cli_runner().invoke(args=["cameras", "import", str(path)])
    assert result.exit_code == 0 and "1 new" in result.output, result.output
    _, _, token = make_user("intake")
    got = app.test_client().get(f"/api/v1/cameras/{ident}", headers=factories.bearer(token)).get_json()
    assert got["geometry"]["coordinates"] == pytest.approx([p.x, p.y], abs=1e-7)
    assert got["properties"]["status"] == "offline" and got["properties"]["direction_deg"] == 180.0
    bad = tmp_path / "bad.csv"
    bad.write_text("id,lon,lat\nCAM-X,121.9,95\n", encoding="utf-8")
    refused = app.test_cli_runner().invoke(args=["cameras", "import", str(bad)])
    assert refused.exit_code == 1 and "row 2.lat" in refused.output


def test_a_video_report_without_a_point_is_placed_at_its_camera(app, spots, make_user, tmp_path):
    p, q = spots(), spots()
    view = f"POLYGON(({q.x} {q.y}, {q.x + 0.001} {q.y}, {q.x + 0.001} {q.y + 0.001}, {q.x} {q.y + 0.001}, {q.x} {q.y}))"
    cam, viewless = f"CAM-T{uuid.uuid4().hex[:6]}", f"CAM-T{uuid.uuid4().hex[:6]}"
    csv = tmp_path / "cameras.csv"
    csv.write_text("id,name,lon,lat,direction_deg,station_code,status,view_wkt\n"
                   f"{cam},测试摄像机,{p.x},{p.y},90,,online,\"{view}\"\n"
                   f"{viewless},无视野,{p.x},{p.y},,,fault,\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["cameras", "import", str(csv)])
    assert result.exit_code == 0 and "2 new" in result.output, result.output
    _, _, token = make_user("intake")
    client = app.test_client()
    layer = client.get("/api/v1/cameras", headers=factories.bearer(token)).get_json()
    mine = next(f for f in layer["features"] if f["id"] == cam)
    assert mine["geometry"]["coordinates"] == pytest.approx([p.x, p.y])
    assert mine["properties"]["view"]["type"] == "Polygon" and mine["properties"]["station_code"]

    def file(reference: str):
        answer = client.post("/api/v1/reports", headers=factories.bearer(token), json={
            "channel": "video", "reference": reference, "category": "06010", "description": "视频发现暴露垃圾"})
        return answer

    placed = {}
    for camera_id in (cam, viewless):
        answer = file(camera_id)
        assert answer.status_code == 201, answer.get_json()
        with app.extensions["db"].transaction() as s:
            report = s.get(Report, answer.get_json()["report_id"])
            placed[camera_id] = (to_shape(report.geom), report.location_source)
    assert placed[cam][0].distance(wkt.loads(view).centroid) < 1e-9 and placed[cam][1] == "camera"
    assert placed[viewless][0].distance(p) < 1e-9
    unknown = file("CAM-NOPE")
    assert unknown.status_code == 422 and unknown.get_json()["error"] == "unknown_camera"
