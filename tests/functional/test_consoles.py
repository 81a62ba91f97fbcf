"""The consoles in headless Chromium: a dispatcher dispatches a case from the map and files one by clicking the
map; a planner draws a new station's territory, checks the impact and saves it; a patrol officer sees the
route of the day and reports a problem with a photo; the reports page draws its tables. No request leaves the
app's host and no JavaScript error is logged."""

from __future__ import annotations

from datetime import datetime

import pytest
import requests
from sqlalchemy import select

from app.cases.models import Case, Report
from app.cases.worktime import BEIJING
from app.field.patrols import MAX_SNAP_M
from tests import factories
from tests.browser import centre_on, check_clean, open_page, pixel, sign_in, wait_data

pytestmark = pytest.mark.browser


def test_dispatcher_dispatches_a_case_from_the_map(browser, live_server, make_user, spots, app, artifacts):
    p = spots()
    case_id = factories.case_in_state(app, "filed", p, channel="video", reference="CAM-9", category="06010",
                                      description="道路暴露垃圾").id
    lon, lat = p.x, p.y
    username, password, _ = make_user("dispatcher")
    context, page = open_page(browser, live_server)
    sign_in(page, live_server, username, password)
    centre_on(page, lat, lon)
    wait_data(page, "casesDrawn", lambda v: int(v) >= 1, timeout=20)
    marker = page.locator(f".case-icon[title$='#{case_id}']")
    marker.wait_for(timeout=20_000)
    marker.click()
    page.wait_for_selector(f".case[data-case='{case_id}']")
    assert "暴露垃圾" in page.locator("#side").inner_text() or "道路暴露垃圾" in page.locator("#side").inner_text()
    page.click("#case-actions button[data-action='dispatch']")
    form = page.locator("form.action-form[data-action='dispatch']")
    assert "派单规则建议" in form.inner_text()
    form.locator("button[type=submit]").click()
    page.wait_for_selector(f".case[data-case='{case_id}'][data-state='dispatched']", timeout=20_000)
    page.screenshot(path=str(artifacts / "console_dispatched.png"))
    with app.extensions["db"].transaction() as s:
        case = s.get(Case, case_id)
        assert case.state == "dispatched" and case.owner_code == case.station_code  # 06: the place's station
    check_clean(page)
    context.close()


def test_dispatcher_files_a_case_by_clicking_the_map(browser, live_server, make_user, spots, app, artifacts):
    username, password, _ = make_user("dispatcher")
    p = spots()
    context, page = open_page(browser, live_server)
    sign_in(page, live_server, username, password)
    centre_on(page, p.y, p.x, 18)
    wait_data(page, "casesLoaded", timeout=20)
    page.mouse.click(*pixel(page, p.y, p.x))
    form = page.locator("#new-case")
    form.wait_for(timeout=20_000)
    assert "站点" in form.inner_text() and "GCJ-02" in form.inner_text()
    form.locator("select[name=category]").select_option("09006")
    form.locator("textarea[name=description]").fill("路口有人占道经营 <b>不是标签</b>")
    form.locator("button[type=submit]").click()
    page.wait_for_selector(".case[data-state='reported']", timeout=20_000)
    assert "<b>不是标签</b>" in page.locator("#side").inner_text()  # shown as text, not markup
    page.screenshot(path=str(artifacts / "console_new_case.png"))
    case_id = int(page.locator(".case").get_attribute("data-case"))
    with app.extensions["db"].transaction() as s:
        report = s.scalars(select(Report).where(Report.case_id == case_id)).one()
        assert report.category_code == "09006" and report.channel == "hotline"
        assert abs(report.input_lon - p.x) < 2e-5 and abs(report.input_lat - p.y) < 2e-5
    check_clean(page)
    context.close()


def test_planner_adds_a_station_and_new_reports_go_to_it(browser, own_app, own_live_server, artifacts):
    """On a database of the module's own: the new version and station must not reach the other tests."""
    live_server = own_live_server
    username, password, _ = factories.user(own_app, "planner")
    context, page = open_page(browser, live_server)
    sign_in(page, live_server, username, password)
    page.goto(f"{live_server}/planner")
    wait_data(page, "coverageLoaded", lambda v: v == "3", timeout=20)
    lat, lon = 30.930, 121.860
    centre_on(page, lat, lon, 15)
    page.click("#add-station")
    page.fill("#new-station input[name=code]", "JS-904")
    page.fill("#new-station input[name=name]", "测试X站")
    page.click("#new-station button[type=submit]")
    page.mouse.click(*pixel(page, lat, lon))
    page.wait_for_timeout(200)
    corners = [(30.934, 121.855), (30.934, 121.865), (30.926, 121.865), (30.926, 121.855)]
    for c in corners:
        page.mouse.click(*pixel(page, *c))
        page.wait_for_timeout(120)
    page.mouse.click(*pixel(page, *corners[0]))
    wait_data(page, "territoryDrawn", lambda v: v == "JS-904", timeout=10)
    page.click("#check-proposal")
    wait_data(page, "previewValid", lambda v: v == "true", timeout=30)
    impact = page.locator("#impact-stations").inner_text()
    assert "测试X站" in impact and "0 → 0.8" in impact
    page.screenshot(path=str(artifacts / "planner_impact.png"))
    page.fill("#save-version textarea[name=reason]", "新增测试X站")
    page.click("#save-version button[type=submit]")
    wait_data(page, "savedVersion", timeout=30)
    check_clean(page)
    context.close()
    intake = factories.bearer(factories.user(own_app, "intake")[2])
    answer = requests.post(f"{live_server}/api/v1/reports", headers=intake, timeout=10, json={
        "channel": "hotline", "category": "06010", "description": "新站辖区内的问题", "lon": 121.8601, "lat": 30.9302})
    assert answer.json()["station"]["code"] == "JS-904"


def test_patrol_sees_the_route_and_reports_with_a_photo(browser, app, live_server, make_user, spots, artifacts,
                                                        tmp_path):
    dispatcher_name, _, token = make_user("dispatcher")
    planner = factories.bearer(token)
    username, password, _ = make_user("patrol", station_code="JS-002")
    for _ in range(3):  # open cases of the station, near roads, give the route something to visit
        factories.report(app, spots("JS-002", road_m=MAX_SNAP_M), by=dispatcher_name, channel="patrol",
                         category="06010", description="垃圾")
    today = datetime.now(BEIJING).date().isoformat()
    plan = requests.post(f"{live_server}/api/v1/patrols/plan", headers=planner, timeout=120, json={
        "station": "JS-002", "date": today, "shift_hours": 4, "speed_kph": 15, "assignee": username})
    assert plan.status_code == 201, plan.text
    # a phone whose clock is ten hours behind UTC: its date differs from Beijing's for most of the day, and the
    # route of the town's day must still be found
    context, page = open_page(browser, live_server, viewport={"width": 390, "height": 844},
                              geolocation={"latitude": 30.93, "longitude": 121.86}, permissions=["geolocation"],
                              timezone_id="Pacific/Honolulu")
    sign_in(page, live_server, username, password)
    page.goto(f"{live_server}/patrol")
    wait_data(page, "patrolStops", lambda v: int(v) > 0, timeout=30)
    page.locator(".stops button").first.click()
    page.wait_for_selector(".stops button[disabled]", timeout=10_000)
    photo = tmp_path / "问题.png"
    photo.write_bytes(factories.png(8, 8))
    form = page.locator("#patrol-report")
    form.locator("select[name=category]").select_option("06010")
    form.locator("textarea[name=description]").fill("巡查发现暴露垃圾")
    form.locator("input[type=file]").set_input_files(str(photo))
    form.locator("button[type=submit]").click()
    wait_data(page, "patrolReport", timeout=20)
    page.screenshot(path=str(artifacts / "patrol.png"))
    report_id = page.get_attribute("body", "data-patrol-report")
    detail = requests.get(f"{live_server}/api/v1/reports/{report_id}", headers=planner, timeout=10).json()
    assert detail["channel"] == "patrol" and detail["attachments"][0]["content_type"] == "image/png"
    check_clean(page)
    context.close()


def test_reports_page_in_chinese_and_english(browser, live_server, make_user, artifacts):
    username, password, _ = make_user("leader")
    context, page = open_page(browser, live_server)
    sign_in(page, live_server, username, password)
    page.goto(f"{live_server}/reports")
    wait_data(page, "kpi_department", timeout=30)
    wait_data(page, "trendMonths", timeout=30)
    wait_data(page, "choropleth", timeout=60)
    assert "考核评价" in page.locator("#side").inner_text()
    page.screenshot(path=str(artifacts / "reports_zh.png"))
    page.goto(f"{live_server}/reports?lang=en")
    wait_data(page, "kpi_station", timeout=30)
    assert "Evaluation" in page.locator("#side").inner_text()
    page.screenshot(path=str(artifacts / "reports_en.png"))
    check_clean(page)
    context.close()


def test_planner_opens_a_siting_draft_and_checks_it(browser, live_server, make_user, artifacts):
    planner_token = {"Authorization": f"Bearer {make_user('planner')[2]}"}
    made = requests.post(f"{live_server}/api/v1/planning/territories", headers=planner_token, timeout=120,
                         json={"sites": [{"lon": 121.93, "lat": 30.95, "name": "草案X站"}], "title": "浏览器草案"})
    assert made.status_code == 201, made.text
    draft = made.json()
    username, password, _ = make_user("planner")
    context, page = open_page(browser, live_server)
    sign_in(page, live_server, username, password)
    page.goto(f"{live_server}/planner")
    wait_data(page, "coverageLoaded", lambda v: v == "3")
    page.click(f"button[data-draft='{draft['id']}']")
    wait_data(page, "draftOpened", lambda v: v == str(draft["id"]))
    assert int(page.get_attribute("body", "data-coverage-loaded")) == len(draft["proposal"]["coverage"]["features"])
    page.click("#check-proposal")
    wait_data(page, "previewValid", timeout=60)
    assert "草案X站" in page.locator("#impact-stations").inner_text()
    page.screenshot(path=str(artifacts / "planner_draft.png"))
    check_clean(page)
    context.close()
