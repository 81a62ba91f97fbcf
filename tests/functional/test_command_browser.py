"""The emergency drill in headless Chromium, on a database of the module's own (the demo duty staff and roster
would otherwise reach the other tests): a commander declares an incident from a case and draws its area, sees
what is inside, roll-calls three duty officers (one acknowledges in the console header, two through the API the
field app uses), dispatches a pump, files the first and a follow-up report, and closes the incident, whose
cases go back to the daily loop; the console header names the duty leader and shift leader; the roster page
prints the month with its coverage. Screenshots: tests/artifacts/command_view.png, command_roster.png."""

from __future__ import annotations

import io
from datetime import datetime

import pytest
import requests
from pypdf import PdfReader
from sqlalchemy import select

from app.accounts.models import User
from app.cases.worktime import BEIJING
from app.command import demo as command_demo
from app.command.models import IncidentCase
from tests import factories
from tests.browser import centre_on, check_clean, open_page, pixel, sign_in, wait_data

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def drill(own_app):
    """The demo duty office (staff, this month's roster and the last, resources, populations) and the people."""
    with own_app.extensions["db"].transaction() as s:
        command_demo.seed(s)
    officers = [factories.user(own_app, "duty_officer", display_name=f"演练值班员{i}") for i in range(3)]
    return {"commander": factories.user(own_app, "commander", display_name="演练指挥长"), "officers": officers}


def _spot(own_app):
    """A point near a road inside the town, for the case the incident starts from."""
    from shapely.geometry import Point

    return Point(121.9296, 30.9240)  # in 港城花园, one of the illustrative compounds north of the lake


def test_drill_from_a_case_to_closing(browser, own_app, own_live_server, drill, artifacts):
    live = own_live_server
    p = _spot(own_app)
    case_id = factories.case_in_state(own_app, "filed", p, category="01004", description="道路积水严重").id
    commander, password, token = drill["commander"]
    context, page = open_page(browser, live)
    sign_in(page, live, commander, password)
    header = page.locator("#duty-board").inner_text()
    assert "带班领导" in header and "值班长" in header and "（带班领导·演示）" in header and "（值班长·演示）" in header

    centre_on(page, p.y, p.x, 16)
    wait_data(page, "casesDrawn", lambda v: int(v) >= 1)
    page.locator(f".case-icon[title$='#{case_id}']").click()
    page.click("#declare-from-case")
    form = page.locator("#declare-form")
    form.locator("input[name=title]").fill("临港大道积水演练")
    form.locator("select[name=type]").select_option("flood")
    form.locator("select[name=level]").select_option("II")
    form.locator("#draw-area").click()
    corners = [(p.y + 0.0015, p.x - 0.002), (p.y + 0.0015, p.x + 0.002), (p.y - 0.0015, p.x + 0.002),
               (p.y - 0.0015, p.x - 0.002)]  # inside the visible map at zoom 16
    for lat, lon in corners[:-1]:
        page.mouse.click(*pixel(page, lat, lon))
        page.wait_for_timeout(150)
    page.mouse.dblclick(*pixel(page, *corners[-1]))
    try:
        wait_data(page, "areaDrawn")
    except AssertionError:
        page.screenshot(path=str(artifacts / "command_draw_failed.png"))
        raise AssertionError(f"not drawn; errors {page.errors}") from None
    form.locator("button[type=submit]").click()
    wait_data(page, "commandLoaded")
    view = page.locator("#command-view")
    assert page.locator("#queue").is_hidden() and view.is_visible()
    assert "临港大道积水演练" in view.inner_text() and "暴雨内涝" in view.inner_text()
    inside = {k: int(view.locator(f"#inside dd[data-k={k}]").inner_text())
              for k in ("grid_cells", "open_cases", "population")}
    assert inside["grid_cells"] > 10 and inside["open_cases"] >= 1 and inside["population"] > 0
    iid = int(page.get_attribute("body", "data-command-loaded").split(":")[0])

    officers = drill["officers"]
    roll = page.locator("#roll-call-form")
    roll.locator("input[name=text]").fill("请立即到岗，回复确认")
    roll.locator("input[name=usernames]").fill(", ".join(o[0] for o in officers))
    roll.locator("button[type=submit]").click()
    page.wait_for_selector("#roll-call .call[data-total='3'][data-acknowledged='0']")

    # one officer acknowledges in the console header, two through the API the field app calls
    other, officer_page = open_page(browser, live)
    sign_in(officer_page, live, officers[0][0], officers[0][1])
    assert officer_page.get_attribute("#inbox", "open") is not None  # open by itself while something waits
    assert "请立即到岗" in officer_page.locator("#inbox").inner_text()
    officer_page.locator("#inbox button.ack").first.click()
    officer_page.wait_for_selector("#inbox .count[data-count='0']")
    officer_page.wait_for_load_state("networkidle")  # closing mid-request leaves the dev server a half-sent file
    check_clean(officer_page)
    other.close()
    for _name, _pw, officer_token in officers[1:]:
        box = requests.get(f"{live}/api/v1/inbox", headers=factories.bearer(officer_token), timeout=30).json()
        answer = requests.post(f"{live}/api/v1/inbox/{box[0]['id']}/ack", headers=factories.bearer(officer_token),
                               timeout=30)
        assert answer.status_code == 200, answer.text

    pump = page.locator("#nearest li[data-kind=pump]").first
    pump.locator("button.dispatch").click()
    page.wait_for_selector("#log li[data-kind=dispatch]")
    page.wait_for_selector("#roll-call .call[data-acknowledged='3']", timeout=20_000)  # the view refreshes itself
    page.click("#reports button[data-file=first]")
    page.wait_for_selector("#reports li[data-kind=first]")
    page.locator("#note-form input[name=text]").fill("积水点已设置警戒")
    page.locator("#note-form button[type=submit]").click()
    page.wait_for_selector("#log li[data-kind=note]")
    page.click("#reports button[data-file=followup]")
    page.wait_for_selector("#reports li[data-kind=followup]")
    page.evaluate("document.getElementById('command-view').scrollTop = 0")
    page.screenshot(path=str(artifacts / "command_view.png"))

    pdf_link = page.locator("#reports li[data-kind=followup] a").nth(1).get_attribute("href")
    pdf = requests.get(live + pdf_link, headers=factories.bearer(token), timeout=60)
    text = "".join(pg.extract_text() for pg in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "续报" in text and "临港大道积水演练" in text and "积水点已设置警戒" in text

    for step, word in (("responding", "处置中"), ("stabilised", "已控制")):
        page.click(f"#command-view button[data-status={step}]")
        page.wait_for_selector(f"#command-view h3:has-text('{word}')")
    page.click("#command-view button[data-status=closed]")
    page.wait_for_selector("#log li[data-kind=case_handed_back]")
    with own_app.extensions["db"].transaction() as s:
        link = s.get(IncidentCase, (iid, case_id))
        assert link is not None and link.released_at is not None
    page.click("#emergency-toggle")
    assert page.locator("#queue").is_visible() and page.locator("#command-view").is_hidden()
    page.wait_for_load_state("networkidle")
    check_clean(page)
    context.close()


def test_roster_page_prints_the_month_with_its_coverage(browser, own_app, own_live_server, drill, artifacts):
    live = own_live_server
    commander, password, _ = drill["commander"]
    context, page = open_page(browser, live)
    sign_in(page, live, commander, password)
    month = datetime.now(BEIJING).strftime("%Y-%m")
    page.goto(f"{live}/duty/roster?month={month}")
    grid = page.locator("table.roster-grid")
    assert grid.locator("tbody tr").count() == 12  # 8 positions: 4 with day and night shifts, 4 of 24 h
    assert page.get_attribute("#roster", "data-gaps") == "0" and page.locator("#covered").is_visible()
    with own_app.extensions["db"].transaction() as s:
        officer = s.scalar(select(User.display_name).where(User.username == "info-01"))
    assert officer.split("（")[0] in grid.inner_text()
    page.screenshot(path=str(artifacts / "command_roster.png"), full_page=True)
    page.wait_for_load_state("networkidle")
    check_clean(page)
    context.close()
