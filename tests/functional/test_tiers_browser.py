"""The tiers' pages in headless Chromium: a station chief assigns a case of the queue to a team member, takes it
back and returns another to the center with a reason, the history saying so in Chinese; a workstation files a
problem it fixed itself with a photo of the result and sees it closed among its self-handled cases."""

from __future__ import annotations

import json

import pytest
import requests
from sqlalchemy import select

from app.cases.models import Case, CaseEvent
from tests import factories
from tests.browser import check_clean, open_page, sign_in, wait_data

pytestmark = pytest.mark.browser


def _dispatched(app, spots, station):
    case = factories.case_in_state(app, "filed", spots(station), category="06010", description="人行道暴露垃圾")
    factories.act(app, case.id, factories.actor(app, "dispatcher"), "dispatch",
                  owner={"kind": "station", "code": station}, reason="属地")
    return case.id


def test_chief_assigns_takes_back_and_returns_from_the_queue(browser, app, live_server, make_user, spots, artifacts):
    first, second = _dispatched(app, spots, "JS-003"), _dispatched(app, spots, "JS-003")
    elsewhere = _dispatched(app, spots, "JS-001")
    member = make_user("patrol", station_code="JS-003", display_name="滴水湖巡查员王")
    make_user("handler", department_code="LHSR", station_code="JS-003", display_name="绿化市容队员李")
    username, password, _ = make_user("station_chief", station_code="JS-003", display_name="临港综合站长")
    context, page = open_page(browser, live_server)
    sign_in(page, live_server, username, password)
    page.goto(f"{live_server}/station")
    wait_data(page, "tiersReady")
    assert "站内派单队列" in page.locator("h1").inner_text()
    assert page.locator(f"tr[data-case='{elsewhere}']").count() == 0  # another station's case is not here
    row = page.locator(f"tr[data-case='{first}']")
    assert "未派给队员" in row.inner_text()
    row.locator("form.assign select").select_option(member[0])
    row.locator("form.assign button").click()
    page.wait_for_selector(f"tr[data-case='{first}'][data-assignee='{member[0]}']", timeout=20_000)
    assert "滴水湖巡查员王" in page.locator(f"tr[data-case='{first}'] .assignee").inner_text()
    page.screenshot(path=str(artifacts / "station_queue.png"), full_page=True)
    # returning without a reason is refused by the browser's form; with one it leaves the queue
    back = page.locator(f"tr[data-case='{second}'] form.return")
    back.locator("input[name=reason]").fill("不属本站职责，请中心重新派遣")
    back.locator("button").click()
    page.wait_for_url(lambda url: f"done={second}%3Areturn" in url, timeout=20_000)
    wait_data(page, "tiersReady")
    assert page.locator(f"tr[data-case='{second}']").count() == 0
    take = page.locator(f"tr[data-case='{first}'] form.take-back")
    take.locator("input[name=reason]").fill("改派他人")
    take.locator("button").click()
    page.wait_for_selector(f"tr[data-case='{first}'][data-assignee='']", timeout=20_000)
    with app.extensions["db"].transaction() as s:
        assert s.get(Case, second).state == "filed"
        actions = s.scalars(select(CaseEvent.action).where(CaseEvent.case_id == first).order_by(CaseEvent.id)).all()
        assert actions[-2:] == ["assign", "take_back"]
    # the history in the case panel names the steps in Chinese (the queue links to it)
    page.click(f"tr[data-case='{first}'] a")
    page.wait_for_selector(f".case[data-case='{first}']", timeout=20_000)
    history = page.locator(".case .history").inner_text()
    assert "站内派单" in history and "站长收回" in history
    # a report with a voice clip: the panel plays it
    q = spots("JS-003")
    report = json.dumps({"channel": "citizen", "category": "06010", "description": "市民录音反映垃圾", "lon": q.x,
                         "lat": q.y})
    intake = {"Authorization": f"Bearer {make_user('intake')[2]}"}
    made = requests.post(f"{live_server}/api/v1/reports", headers=intake, timeout=30,
                         files=[("report", (None, report)), ("audio", ("录音.wav", factories.wav(), "audio/wav"))])
    assert made.status_code == 201, made.text
    page.goto(f"{live_server}/#case={made.json()['case_id']}")
    audio = page.locator(".case audio.clip")
    audio.wait_for(timeout=20_000)
    for _ in range(200):  # polled from Python: the page's CSP refuses wait_for_function's eval
        if audio.evaluate("a => a.readyState") >= 1:
            break
        page.wait_for_timeout(100)
    assert 0.4 < audio.evaluate("a => a.duration") < 0.6
    page.screenshot(path=str(artifacts / "case_panel_audio.png"))
    check_clean(page)
    context.close()


def test_workstation_files_a_self_handled_case(browser, app, live_server, make_user, spots, artifacts, tmp_path):
    p = spots("JS-001")
    while factories.workstation_of(app, p) != "WS-003":
        p = spots("JS-001")
    username, password, _ = make_user("workstation", station_code="WS-003", display_name="新港居委会网格员")
    context, page = open_page(browser, live_server)
    sign_in(page, live_server, username, password)
    page.goto(f"{live_server}/workstation")
    wait_data(page, "tiersReady")
    form = page.locator("form.self-handled")
    form.locator("select[name=category]").select_option("06010")
    form.locator("textarea[name=description]").fill("居委会门口垃圾堆放")
    form.locator("input[name=lon]").fill(str(p.x))
    form.locator("input[name=lat]").fill(str(p.y))
    form.locator("textarea[name=note]").fill("工作站组织保洁员清理完毕")
    photo = tmp_path / "处置后.png"
    photo.write_bytes(factories.png(16, 16))
    form.locator("input[name=after]").set_input_files(str(photo))
    form.locator("button[type=submit]").click()
    page.wait_for_url("**/workstation?self_handled=1&done=*", timeout=20_000)
    wait_data(page, "tiersReady")
    case_id = int(page.url.rsplit("done=", 1)[1])
    row = page.locator(f"tr[data-case='{case_id}']")
    assert row.get_attribute("data-self-handled") == "true"
    assert "已结案" in row.inner_text() and "自行处置" in row.inner_text()
    assert row.locator("img.thumb").evaluate("img => img.naturalWidth") == 16
    page.screenshot(path=str(artifacts / "workstation_self_handled.png"), full_page=True)
    with app.extensions["db"].transaction() as s:
        case = s.get(Case, case_id)
        assert case.state == "closed" and case.self_handled and case.owner_code == "WS-003"
    check_clean(page)
    context.close()


def test_evaluator_rates_a_closed_case_and_the_kpi_table_shows_it(browser, app, live_server, make_user, spots,
                                                                   artifacts):
    closed = factories.case_in_state(app, "closed", spots("JS-002"), category="06010", description="评议用案件")
    username, password, _ = make_user("evaluator", display_name="区人大代表张")
    context, page = open_page(browser, live_server)
    sign_in(page, live_server, username, password)
    page.goto(f"{live_server}/evaluator")
    wait_data(page, "tiersReady")
    row = page.locator(f"tr[data-case='{closed.id}']")
    row.locator("select[name=rating]").select_option("2")
    row.locator("input[name=review]").fill("处置偏慢，群众有意见")
    row.locator("button").click()
    page.wait_for_selector(f"tr[data-case='{closed.id}'][data-rating='2']", timeout=20_000)
    assert "评议已保存" in page.locator(".notice").inner_text()
    with app.extensions["db"].transaction() as s:
        from app.tiers.models import CaseReview

        review = s.scalars(select(CaseReview).where(CaseReview.case_id == closed.id)).one()
        assert (review.rating, review.review, review.username) == (2, "处置偏慢，群众有意见", username)
    page.goto(f"{live_server}/reports")
    wait_data(page, "kpi_station", timeout=30)
    table = page.locator("#kpi-station table")
    headers = [h.replace("ⓘ", "").strip() for h in table.locator("th").all_inner_texts()]  # ⓘ opens the definition
    assert "社会评议均分" in headers and "自行处置占比" in headers
    column = headers.index("社会评议均分")
    cells = table.locator("tr", has_text="申港社区联勤联动站").locator("td").all_inner_texts()
    assert cells[column].strip()[:1].isdigit()  # the station's evaluators' mean is shown (not "–")
    page.screenshot(path=str(artifacts / "reports_evaluators.png"), full_page=True)
    check_clean(page)
    context.close()
