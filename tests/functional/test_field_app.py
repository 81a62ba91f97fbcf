"""The field app in headless Chromium on a phone (390 x 844, touch): a patrol officer goes offline, files three
reports with photos and marks two stops, comes back online, and exactly three reports and two visits are stored;
a handler accepts a case and gives feedback with photos, and the checker sees them side by side; nothing is wider
than the screen; and the dispatcher console shows an officer's position move as the officer's track arrives."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sqlalchemy import func, select

from app.accounts.models import AuditEntry, User
from app.cases.models import Attachment, Case, Report
from app.cases.worktime import BEIJING
from app.field.models import CasePhoto, PatrolRoute, StaffPosition
from tests import factories
from tests.browser import check_clean, open_page, sign_in, wait_data

pytestmark = pytest.mark.browser
PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True, "device_scale_factor": 2}

# elements (outside the map's own panes) that reach beyond the viewport, and the page's sideways scroll
TOO_WIDE = """() => {
  const w = document.documentElement.clientWidth;
  const out = Array.from(document.querySelectorAll('body *')).filter(e => {
    if (e.closest('.leaflet-pane')) { return false; }
    const r = e.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && (r.right > w + 0.5 || r.left < -0.5);
  }).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right));
  if (document.documentElement.scrollWidth > w) { out.push('scrollWidth ' + document.documentElement.scrollWidth); }
  return out;
}"""


def field_sign_in(page, live_server, username, password):
    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/field")
    try:
        wait_data(page, "ready", timeout=30)
    except AssertionError:
        raise AssertionError(f"the field app did not start: {page.errors}") from None


def wait_until(page, script: str, timeout: float = 10.0) -> None:
    """Poll a function in the page from Python (wait_for_function would need 'unsafe-eval', which the CSP refuses)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(script):
        assert time.monotonic() < deadline, f"not true after {timeout} s: {script}"
        page.wait_for_timeout(100)


def check_clean_offline(page, *expected: str) -> None:
    """check_clean, but the requests that failed while the phone was offline are expected (the outbox's tries, the
    service worker's answer for what it had not cached), and the `expected` refusals."""
    offline = ("net::ERR_INTERNET_DISCONNECTED", "status of 503", *expected)
    page.errors[:] = [e for e in page.errors if not (e.startswith("Failed to load resource") and
                                                     any(o in e for o in offline))]
    check_clean(page)


def assert_fits(page, where: str) -> None:
    wide = page.evaluate(TOO_WIDE)
    assert wide == [], f"{where}: wider than the 390 px screen: {wide}"


def _route_today(app, username: str, station: str, points) -> int:
    with app.extensions["db"].transaction() as s:
        route = PatrolRoute(station_code=station, day=datetime.now(BEIJING).date(), shift_minutes=240, speed_kph=15,
                            assignee=username, length_m=3200, duration_s=1500, value=3, solver={}, created_by="test",
                            stops=[{"seq": i + 1, "kind": "cell", "ref": f"F{i}", "label": f"热点网格 F{i}", "lon": p.x,
                                    "lat": p.y, "value": 1, "arrive_s": 300 * i} for i, p in enumerate(points)])
        s.add(route)
        s.flush()
        return route.id


def _tap_tab(page, name: str) -> None:
    page.tap(f"#tabs button[data-tab='{name}']")


def test_patrol_offline_reports_and_visits_are_sent_once_when_back_online(browser, app, live_server, spots,
                                                                          artifacts, tmp_path):
    station = "WS-006"
    username, password, _ = factories.user(app, "patrol", station_code=station, display_name="离线巡查员")
    stops = [spots() for _ in range(3)]
    route_id = _route_today(app, username, station, stops)
    start = stops[0]
    context, page = open_page(browser, live_server, **PHONE, geolocation={"latitude": start.y, "longitude": start.x},
                              permissions=["geolocation"])
    field_sign_in(page, live_server, username, password)
    wait_data(page, "stops", lambda v: v == "3")
    wait_data(page, "sw", lambda v: v == "ready", timeout=30)
    route = page.locator("#tab-route")
    assert "下一站" in route.inner_text()
    assert route.locator(".f-status").all_inner_texts() == ["未巡查"] * 3 and "已巡查" not in route.inner_text()
    first = page.locator(".f-stop").first
    assert first.get_attribute("data-seq") == "1" and "next" in first.get_attribute("class")
    assert first.locator("a[href^='geo:']").get_attribute("href").startswith(f"geo:{start.y:.6f},{start.x:.6f}")
    assert first.locator(".f-seq").inner_text() == "1" and "1. 1." not in route.inner_text()
    page.screenshot(path=str(artifacts / "field_route.png"))
    assert_fits(page, "route")

    context.set_offline(True)
    wait_data(page, "online", lambda v: v == "0")
    photo = tmp_path / "现场.png"
    photo.write_bytes(factories.png(640, 480))
    for i in range(3):
        _tap_tab(page, "report")
        form = page.locator("#field-report")
        form.locator("select[name=category]").select_option("06010")
        form.locator("textarea[name=description]").fill(f"离线上报 {i + 1}")
        form.locator("input[data-kind=camera]").set_input_files(str(photo))
        form.locator("button[type=submit]").tap()
        wait_data(page, "outbox", lambda v, n=i + 1: v == str(n))
    assert "网络恢复后" in page.locator("#report-note").inner_text()
    _tap_tab(page, "route")
    for n in (4, 5):
        page.locator(".f-stop.todo .mark").first.tap()
        wait_data(page, "outbox", lambda v, n=n: v == str(n))
    assert page.locator(".f-stop[data-visited='1']").count() == 2
    assert "5" in page.locator("#outbox-badge").inner_text()
    _tap_tab(page, "outbox")
    assert page.locator(".f-out[data-state=waiting]").count() == 5
    page.screenshot(path=str(artifacts / "field_outbox_offline.png"))
    assert_fits(page, "outbox")
    # the page comes back from the service worker's cache and the outbox from IndexedDB
    page.reload()
    wait_data(page, "ready", timeout=30)
    wait_data(page, "outbox", lambda v: v == "5")
    wait_data(page, "stops", lambda v: v == "3")
    with app.extensions["db"].transaction() as s:
        uid = s.scalar(select(User.id).where(User.username == username))
        assert s.scalar(select(func.count()).select_from(Report).where(Report.submitted_by == uid)) == 0

    context.set_offline(False)
    wait_data(page, "outbox", lambda v: v == "0", timeout=30)
    page.screenshot(path=str(artifacts / "field_outbox_sent.png"))
    _tap_tab(page, "map")
    wait_data(page, "layer_roads", lambda v: int(v) > 0)
    page.wait_for_timeout(300)
    page.screenshot(path=str(artifacts / "field_map.png"))
    assert_fits(page, "map")
    with app.extensions["db"].transaction() as s:
        reports = s.scalars(select(Report).where(Report.submitted_by == uid).order_by(Report.id)).all()
        assert sorted(r.description for r in reports) == ["离线上报 1", "离线上报 2", "离线上报 3"]
        assert all(r.channel == "patrol" and r.idempotency_key for r in reports)
        photos = s.scalars(select(Attachment).where(Attachment.report_id.in_([r.id for r in reports]))).all()
        assert len(photos) == 3 and {a.content_type for a in photos} == {"image/jpeg"}  # resized on the phone
        visited = [st for st in s.get(PatrolRoute, route_id).stops if st.get("visited_at")]
        assert sorted(st["seq"] for st in visited) == [1, 2] and {st["visited_by"] for st in visited} == {username}
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "patrol_route.visit", AuditEntry.entity_id == str(route_id))) == 2
    _tap_tab(page, "route")
    wait_data(page, "stops", lambda v: v == "3")
    assert page.locator(".f-stop.done").count() == 2 and "已巡查" in page.locator("#tab-route").inner_text()
    # on shift, with consent: the phone sends its position; the first stop was marked far from it and is flagged
    page.locator("#share-position").check()
    context.set_geolocation({"latitude": stops[1].y, "longitude": stops[1].x})
    wait_until(page, "() => document.getElementById('share-position').checked")
    page.wait_for_timeout(500)
    page.evaluate("nhField.sendPositions() && null")
    wait_data(page, "sent", lambda v: int(v) >= 6, timeout=20)
    with app.extensions["db"].transaction() as s:
        assert s.scalar(select(func.count()).select_from(StaffPosition).where(StaffPosition.user_id == uid)) >= 1
    wait_until(page, "() => document.querySelector(\".f-stop[data-seq='1']\").textContent.includes('远离本人轨迹')", 20)
    assert page.locator(".f-stop[data-seq='2'] .f-flag").count() == 0
    page.screenshot(path=str(artifacts / "field_route_flagged.png"))
    page.goto(f"{live_server}/field?lang=en")
    wait_data(page, "ready", timeout=30)
    assert "Next stop" in page.locator("#tab-route").inner_text() and "Visited far from your track" in \
        page.locator("#tab-route").inner_text()
    assert_fits(page, "route in English")
    page.screenshot(path=str(artifacts / "field_route_en.png"))
    check_clean_offline(page)
    context.close()


def test_handler_gives_feedback_with_photos_and_the_checker_sees_them(browser, app, live_server, spots, artifacts,
                                                                      tmp_path):
    p = spots()
    case_id = factories.report(app, p, category="01001", description="井盖缺失").report.case_id
    factories.walk(app, case_id, "filed")
    factories.act(app, case_id, factories.actor(app, "dispatcher"), "dispatch",
                  owner={"kind": "department", "code": "CGZF"}, reason="测试派单")
    handler, password, _ = factories.user(app, "handler", department_code="CGZF", display_name="城管处置员")
    context, page = open_page(browser, live_server, **PHONE)
    field_sign_in(page, live_server, handler, password)
    _tap_tab(page, "tasks")
    card = page.locator(f".f-task[data-case='{case_id}']")
    card.wait_for(timeout=20_000)
    assert "井盖缺失" in card.text_content() and "01001" in card.inner_text()
    page.screenshot(path=str(artifacts / "field_task.png"))
    assert_fits(page, "tasks")
    # accepted offline while the center escalates the case: the queued accept meets a 409, shown and kept
    context.set_offline(True)
    wait_data(page, "online", lambda v: v == "0")
    card.locator("button[data-action=accept]").tap()
    wait_data(page, "outbox", lambda v: v == "1")
    factories.act(app, case_id, factories.actor(app, "shift_leader"), "escalate", level=1, note="督办")
    context.set_offline(False)
    wait_data(page, "conflicts", lambda v: v == "1", timeout=30)
    _tap_tab(page, "outbox")
    conflict = page.locator(".f-out[data-state=conflict]")
    assert "冲突" in conflict.inner_text() and page.get_attribute("body", "data-outbox") == "1"
    page.screenshot(path=str(artifacts / "field_outbox_conflict.png"))
    with app.extensions["db"].transaction() as s:
        assert s.get(Case, case_id).state == "dispatched"
    conflict.locator("button", has_text="重新发送").tap()  # sent again against the case as it is now
    wait_data(page, "outbox", lambda v: v == "0", timeout=30)
    _tap_tab(page, "tasks")
    page.locator(f".f-task[data-case='{case_id}'][data-state='in_progress']").wait_for(timeout=20_000)
    card = page.locator(f".f-task[data-case='{case_id}']")
    card.locator("button[data-action=feedback]").tap()
    before, after = tmp_path / "before.png", tmp_path / "after.png"
    before.write_bytes(factories.png(300, 200))
    after.write_bytes(factories.png(200, 300))
    form = card.locator("form[data-action=feedback]")
    form.locator("input[name=before][data-kind=file]").set_input_files(str(before))
    form.locator("input[name=after][data-kind=camera]").set_input_files(str(after))
    form.locator("textarea[name=note]").fill("已补装井盖")
    page.screenshot(path=str(artifacts / "field_feedback_form.png"))
    assert_fits(page, "feedback form")
    form.locator("button[type=submit]").tap()
    wait_data(page, "sent", lambda v: int(v) >= 2, timeout=20)
    with app.extensions["db"].transaction() as s:
        case = s.get(Case, case_id)
        assert case.state == "handled" and case.handled_by == handler
        stages = sorted(s.scalars(select(CasePhoto.stage).where(CasePhoto.case_id == case_id)).all())
        assert stages == ["after", "before"]
        station = case.station_code
    check_clean_offline(page, "status of 409")  # the stale accept
    context.close()

    checker, password, _ = factories.user(app, "patrol", station_code=station, display_name="核查员")
    context, page = open_page(browser, live_server, **PHONE)
    field_sign_in(page, live_server, checker, password)
    _tap_tab(page, "tasks")
    card = page.locator(f".f-task[data-case='{case_id}'][data-state='handled']")
    card.wait_for(timeout=20_000)
    card.locator("button[data-action=check]").tap()
    evidence = card.locator(".f-evidence")
    evidence.wait_for()
    cols = evidence.locator(".f-photos-col")
    assert cols.count() == 2 and cols.nth(0).locator("img").count() == 1 and cols.nth(1).locator("img").count() == 1
    # this card's photos (other handled cases of the station, from other tests, keep theirs lazy and unloaded)
    deadline = time.monotonic() + 30
    while not all(evidence.locator("img").evaluate_all("imgs => imgs.map(i => i.complete && i.naturalWidth > 0)")):
        assert time.monotonic() < deadline, "the feedback photos did not load"
        page.wait_for_timeout(100)
    left, right = cols.nth(0).bounding_box(), cols.nth(1).bounding_box()
    assert abs(left["y"] - right["y"]) < 2 and left["x"] + left["width"] <= right["x"] + 1  # side by side
    assert "已补装井盖" in card.inner_text()
    page.screenshot(path=str(artifacts / "field_check_evidence.png"))
    assert_fits(page, "check")
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.accept()))
    card.locator("form[data-action=check] button[type=submit]").tap()
    wait_data(page, "sent", lambda v: int(v) >= 1, timeout=20)
    assert dialogs == []  # the result has photos: no question asked
    with app.extensions["db"].transaction() as s:
        assert s.get(Case, case_id).state == "checked"
    check_clean(page)
    context.close()


def test_console_asks_before_checking_a_result_without_photo(browser, app, live_server, spots, make_user):
    case_id = factories.case_in_state(app, "handled", spots(), category="06010", description="无照片的处置").id
    username, password, _ = make_user("shift_leader")
    context, page = open_page(browser, live_server)
    sign_in(page, live_server, username, password)
    page.evaluate(f"nhConsole.openCase({case_id}) && null")
    page.locator(f".case[data-case='{case_id}'] .evidence[data-loaded]").wait_for(timeout=20_000)
    assert page.locator(".evidence .evidence-col").count() == 2
    page.click("#case-actions button[data-action='check']")
    dialogs = []
    page.once("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.locator("form.action-form[data-action='check'] button[type=submit]").click()
    page.wait_for_timeout(300)
    assert dialogs and "没有照片" in dialogs[0]
    with app.extensions["db"].transaction() as s:
        assert s.get(Case, case_id).state == "handled"  # dismissed: not checked
    check_clean(page)
    context.close()


def test_dispatcher_sees_the_officer_position_move(browser, app, live_server, make_user, spots, artifacts):
    officer, _, token = factories.user(app, "patrol", station_code="JS-001", display_name="移动巡查员")
    headers = factories.bearer(token)
    a, b = spots(), spots()

    def post(point, minutes_ago: float):
        at = (datetime.now(UTC) - timedelta(minutes=minutes_ago)).isoformat()
        answer = requests.post(f"{live_server}/api/v1/positions", headers=headers, timeout=10,
                               json={"positions": [{"lon": point.x, "lat": point.y, "recorded_at": at}]})
        assert answer.status_code == 201, answer.text

    post(a, 1)
    username, password, _ = make_user("dispatcher")
    context, page = open_page(browser, live_server)
    sign_in(page, live_server, username, password)

    def where() -> list | None:
        for name, lon, lat, stale in json.loads(page.get_attribute("body", "data-staff-positions") or "[]"):
            if name == officer:
                return [lon, lat, stale]
        return None

    wait_data(page, "staffPositions", lambda v: officer in v, timeout=20)
    assert where()[:2] == [round(a.x, 7), round(a.y, 7)] and where()[2] is False
    marker = page.locator(f".staff-icon[data-user='{officer}']")
    assert marker.count() == 1
    post(b, 0)  # the officer walks on: the console's next refresh (every 10 s) moves the marker
    wait_data(page, "staffPositions", lambda v: where()[:2] == [round(b.x, 7), round(b.y, 7)], timeout=15)
    assert page.locator(f".staff-icon[data-user='{officer}']").get_attribute("data-lat") == str(round(b.y, 7))
    page.locator("#staff-positions summary").click()
    page.locator(f"#staff-positions li[data-user='{officer}'] button").click()
    wait_data(page, "staffTrack", lambda v: v == f"{officer}:2")
    page.screenshot(path=str(artifacts / "console_staff_positions.png"))
    check_clean(page)
    context.close()


def test_patrol_acknowledges_a_roll_call_from_the_phone_even_offline(browser, app, live_server, spots, artifacts):
    """The commander's roll-call reaches the officer's field app; acknowledged offline, it is sent once the phone
    is back online, and the incident's roll-call counts it."""
    from app.command.models import InstructionRecipient

    officer, password, _ = factories.user(app, "patrol", station_code="JS-002", display_name="点名巡查员")
    commander, _, token = factories.user(app, "commander")
    point = spots()
    command = factories.bearer(token)
    incident = requests.post(f"{live_server}/api/v1/incidents", headers=command, timeout=20, json={
        "title": "防汛点名", "type": "flood", "level": "IV", "commander": commander,
        "lon": point.x, "lat": point.y, "buffer_m": 300})
    assert incident.status_code == 201, incident.text
    iid = incident.json()["id"]
    call = requests.post(f"{live_server}/api/v1/incidents/{iid}/roll-calls", headers=command, timeout=20,
                         json={"text": "请立即到岗报到", "usernames": [officer]})
    assert call.status_code in (200, 201), call.text
    context = browser.new_context(**PHONE)
    page = context.new_page()
    field_sign_in(page, live_server, officer, password)
    _tap_tab(page, "tasks")
    card = page.locator(".f-instruction")
    assert card.count() == 1 and "请立即到岗报到" in card.inner_text() and "防汛点名" in card.inner_text()
    assert page.get_attribute("body", "data-instructions") == "1"
    assert_fits(page, "instructions")
    context.set_offline(True)
    wait_data(page, "online", lambda v: v == "0")
    card.locator("button[data-ack]").tap()
    wait_data(page, "outbox", lambda v: v == "1")
    wait_data(page, "instructions", lambda v: v == "0")  # shown as acknowledged while it waits
    page.screenshot(path=str(artifacts / "field_instruction_ack.png"))
    with app.extensions["db"].transaction() as s:
        assert s.scalars(select(InstructionRecipient).where(InstructionRecipient.username == officer)).one() \
            .acknowledged_at is None
    context.set_offline(False)
    wait_data(page, "outbox", lambda v: v == "0", timeout=30)
    with app.extensions["db"].transaction() as s:
        assert s.scalars(select(InstructionRecipient).where(InstructionRecipient.username == officer)).one() \
            .acknowledged_at is not None
    calls = requests.get(f"{live_server}/api/v1/incidents/{iid}/roll-calls", headers=command, timeout=20).json()
    assert [(c["acknowledged"], c["total"]) for c in calls] == [(1, 1)]
    context.close()
