"""The live feed, GET /api/v1/events, over real HTTP: an event stream per user filtered by the case scope, resumed
with Last-Event-ID with exactly the missed events, the same feed as JSON for pollers, refusals of bad ids; the
scheduler's red-light events (once per case version) and pruning."""

from __future__ import annotations

import json
import queue
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sqlalchemy import select

from app.cases.models import Case
from app.live import services
from app.live.models import LiveEvent
from tests import factories
from tests.browser import centre_on, check_clean, open_page, sign_in, wait_data

WAIT_S = 10.0


class Stream:
    """An SSE client on a thread: every message (event, id, data) lands in `messages`."""

    def __init__(self, live_server: str, headers: dict, last_id: int | None = None) -> None:
        headers = {**headers, "Accept": "text/event-stream"}
        if last_id is not None:
            headers["Last-Event-ID"] = str(last_id)
        self.answer = requests.get(f"{live_server}/api/v1/events", headers=headers, stream=True, timeout=30)
        assert self.answer.status_code == 200, self.answer.text
        assert self.answer.headers["Content-Type"].startswith("text/event-stream")
        self.messages: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.ready = self.next("ready")

    def _read(self) -> None:
        fields: dict = {}
        try:
            for line in self.answer.iter_lines(decode_unicode=True):
                if line == "":
                    if "data" in fields:
                        data = json.loads(fields["data"])
                        self.messages.put((fields.get("event", "message"), fields.get("id"), data))
                    fields = {}
                elif not line.startswith(":"):
                    name, _, value = line.partition(":")
                    fields[name] = value[1:] if value.startswith(" ") else value
        except (requests.ConnectionError, AttributeError):  # closed by the test
            pass

    def next(self, kind: str = "case") -> dict:
        event, _id, data = self.messages.get(timeout=WAIT_S)
        assert event == kind, (event, data)
        return data

    def until(self, case_id: int, kind: str) -> list[dict]:
        """The case messages up to and including (case_id, kind)."""
        seen = []
        while True:
            data = self.next()
            seen.append(data)
            if (data["case_id"], data["kind"]) == (case_id, kind):
                return seen

    def close(self) -> None:
        self.answer.close()


@pytest.fixture(scope="module", autouse=True)
def quick_heartbeats(app):
    """A heartbeat a second: a test closing its stream waits for the next write to notice."""
    app.config["EVENTS_HEARTBEAT_S"] = 1.0
    yield
    app.config.pop("EVENTS_HEARTBEAT_S")


@pytest.fixture(scope="module")
def people(make_user):
    return {
        "intake": factories.bearer(make_user("intake")[2]),
        "dispatcher": factories.bearer(make_user("dispatcher")[2]),
        "patrol": factories.bearer(make_user("patrol", station_code="JS-001")[2]),
    }


def file(live_server, people, point, **fields) -> int:
    body = {"channel": "hotline", "category": "06010", "description": "实时推送测试", "lon": point.x, "lat": point.y,
            **fields}
    answer = requests.post(f"{live_server}/api/v1/reports", headers=people["intake"], json=body, timeout=30)
    assert answer.status_code == 201, answer.text
    return answer.json()["case_id"]


def test_streams_carry_only_the_cases_each_user_may_see(live_server, people, spots):
    everyone, patrol = Stream(live_server, people["dispatcher"]), Stream(live_server, people["patrol"])
    try:
        own = file(live_server, people, spots("JS-001"), urgency="emergency")
        other = file(live_server, people, spots("JS-002"))
        own_again = file(live_server, people, spots("JS-001"))
        seen = everyone.until(own_again, "opened")
        assert [(m["case_id"], m["kind"]) for m in seen if m["case_id"] in (own, other, own_again)] == [
            (own, "opened"), (other, "opened"), (own_again, "opened")]
        first = seen[[m["case_id"] for m in seen].index(own)]
        assert first["alert"] == "emergency" and first["state"] == "reported" and first["station"] == "JS-001"
        assert first["version"] == 1 and first["actor"]
        in_scope = patrol.until(own_again, "opened")  # committed after `other`: had it been sent, it came first
        assert other not in [m["case_id"] for m in in_scope] and own in [m["case_id"] for m in in_scope]
        assert all(m["station"] == "JS-001" or (m["owner"] or {}).get("code") == "JS-001" for m in in_scope)
    finally:
        everyone.close()
        patrol.close()


def test_resuming_with_last_event_id_gives_exactly_the_missed_events(app, live_server, people, spots):
    stream = Stream(live_server, people["patrol"])
    own = file(live_server, people, spots("JS-001"))
    last = int(stream.ready["last_id"])
    for message in stream.until(own, "opened"):
        last = max(last, message["id"])
    stream.close()
    # missed while away: a step of the own case, a case elsewhere (out of scope), a new case of the station
    dispatcher = factories.actor(app, "dispatcher")
    factories.act(app, own, factories.actor(app, "intake"), "verify")
    other = file(live_server, people, spots("JS-002"))
    factories.act(app, other, factories.actor(app, "intake"), "verify")
    newer = file(live_server, people, spots("JS-001"))
    factories.act(app, own, dispatcher, "file")
    expected = [(own, "verify"), (newer, "opened"), (own, "file")]

    resumed = Stream(live_server, people["patrol"], last_id=last)
    try:
        assert resumed.ready["reset"] is False
        got = [resumed.next() for _ in expected]
        assert [(m["case_id"], m["kind"]) for m in got] == expected
        assert got[-1]["state"] == "filed" and got[-1]["from_state"] == "verified"
        factories.act(app, newer, factories.actor(app, "intake"), "verify")  # and then live again
        assert (resumed.next()["case_id"], "verify") == (newer, "verify")
    finally:
        resumed.close()
    page = requests.get(f"{live_server}/api/v1/events", params={"after": last}, headers=people["patrol"], timeout=30)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("application/json")
    body = page.json()
    assert [(m["case_id"], m["kind"]) for m in body["events"]] == [*expected, (newer, "verify")]
    assert body["last_id"] >= body["events"][-1]["id"] and body["reset"] is False
    everything = requests.get(f"{live_server}/api/v1/events", params={"after": last}, headers=people["dispatcher"],
                              timeout=30).json()["events"]
    assert (other, "opened") in [(m["case_id"], m["kind"]) for m in everything]


def test_bad_ids_and_anonymous_callers_are_refused(live_server, people):
    for bad in ("-1", "x", "1e3", "99999999999999999999"):
        answer = requests.get(f"{live_server}/api/v1/events", headers={**people["patrol"], "Last-Event-ID": bad},
                              timeout=30)
        assert answer.status_code == 400 and answer.json()["field"] == "after", bad
    arabic = requests.get(f"{live_server}/api/v1/events", params={"after": "١٢"}, headers=people["patrol"], timeout=30)
    assert arabic.status_code == 400
    assert requests.get(f"{live_server}/api/v1/events", timeout=30).status_code == 401
    gone = requests.get(f"{live_server}/api/v1/events", params={"after": 2**62}, headers=people["patrol"], timeout=30)
    assert gone.json()["reset"] is True  # an id this feed never had: reload, do not trust the gap


def test_a_deadline_passing_is_announced_once_per_version(session, spots):
    case = factories.case_in_state(session, "dispatched", spots())
    deadline = session.get(Case, case.id).deadline_at
    assert services.watch_lights(session, deadline - timedelta(minutes=1))["red"] >= 0
    assert _reds(session, case.id) == []
    services.watch_lights(session, deadline + timedelta(minutes=1))
    services.watch_lights(session, deadline + timedelta(minutes=2))
    (red,) = _reds(session, case.id)
    assert red.payload["alert"] == "red" and red.payload["deadline"] == deadline.isoformat()
    assert red.case_version == case.version and red.station_code == case.station_code


def test_old_events_are_pruned(session, spots):
    case = factories.case_in_state(session, "filed", spots())
    old = services.publish(session, case, "red")
    session.flush()
    old.created_at = datetime.now(UTC) - timedelta(hours=services.KEEP_HOURS + 1)
    fresh = services.publish(session, case, "red")
    session.flush()
    assert services.prune(session, datetime.now(UTC) + timedelta(days=30))["pruned"] >= 1  # a later clock: no more
    assert session.get(LiveEvent, fresh.id) is not None
    session.expire_all()
    assert session.get(LiveEvent, old.id) is None


@pytest.mark.browser
def test_a_case_filed_elsewhere_appears_with_a_toast_within_two_seconds(browser, live_server, people, make_user,
                                                                         spots, app, artifacts):
    username, password, _ = make_user("dispatcher")
    point = spots()
    context, page = open_page(browser, live_server)
    sign_in(page, live_server, username, password)
    centre_on(page, point.y, point.x, 16)
    wait_data(page, "live", lambda v: v == "open")
    wait_data(page, "casesLoaded")
    page.wait_for_timeout(500)  # the map's own reload after the move is over
    base_title = page.title()
    posted = time.monotonic()
    case_id = file(live_server, people, point, urgency="emergency", description="路面塌陷，车辆无法通行")
    answered = time.monotonic()
    row = page.locator(f"#queue-body tr[data-case='{case_id}']")
    marker = page.locator(f".case-icon[title$='#{case_id}']")
    toast = page.locator(f".toast[data-case='{case_id}']")
    for shown in (toast, row, marker):
        shown.wait_for(timeout=max(2000 - (time.monotonic() - answered) * 1000, 1))
    took = time.monotonic() - answered
    assert took < 2.0, f"{took:.2f} s after the POST answered ({answered - posted:.2f} s to answer)"
    text = toast.inner_text()
    assert "新的紧急案件" in text and f"#{case_id}" in text and "暴露垃圾" in text, text
    assert page.title() == f"(1) {base_title}"
    assert page.get_attribute("body", "data-live-beeps") == "1"
    page.screenshot(path=str(artifacts / "live_toast.png"))
    toast.locator(".toast-open").click()  # the toast opens the case; the panel then follows its changes
    page.wait_for_selector(f"#side .case[data-case='{case_id}'][data-state='reported']")
    # muted: the next alert shows, counts, but makes no sound; a click on the page (this one too) clears the badge
    page.click(".live-mute")
    assert page.get_attribute("body", "data-live-muted") == "1" and page.title() == base_title
    factories.act(app, case_id, factories.actor(app, "intake"), "verify")
    factories.act(app, case_id, factories.actor(app, "dispatcher"), "file")
    factories.act(app, case_id, factories.actor(app, "dispatcher"), "dispatch", owner={"kind": "department",
                  "code": "CGZF"}, reason="测试退回")
    factories.act(app, case_id, factories.actor(app, "handler", department_code="CGZF"), "return",
                  reason="不属于本部门")
    page.locator(f".toast-returned[data-case='{case_id}']").wait_for(timeout=5000)
    page.wait_for_selector(f"#side .case[data-case='{case_id}'][data-state='filed']", timeout=5000)  # no reload
    assert page.title() == f"(1) {base_title}" and page.get_attribute("body", "data-live-beeps") == "1"
    page.keyboard.press("Shift")
    assert page.title() == base_title
    page.reload()  # the choice is remembered
    wait_data(page, "live", lambda v: v == "open")
    assert page.get_attribute("body", "data-live-muted") == "1"
    check_clean(page)
    context.close()


def _reds(session, case_id):
    return session.scalars(select(LiveEvent).where(LiveEvent.case_id == case_id, LiveEvent.kind == "red")).all()
