"""Leaders' outputs on a month of history made with tests/factories.py (November 2026, and some of October): the
bulletin PDF's figures equal the KPI API's, the drill-down lists as many cases as the number it came from, the
bulletin is stored, listed and made by the scheduler on the first working day, chronic problems are found and put
under control, and the reports page shows percentages, a legend and the drill-down in Chromium."""

from __future__ import annotations

import io
import re
import time
from datetime import date, datetime, timedelta

import pytest
import requests
from pypdf import PdfReader

from app.accounts.models import AuditEntry
from app.analysis import bulletin, chronic, documents
from app.analysis.models import Bulletin, ChronicProblem
from app.cases import rules
from app.cases.worktime import BEIJING, WorkCalendar
from app.errors import Conflict
from tests import factories

MONTH = "2026-11"
FROM, TO = "2026-11-01", "2026-12-01"
# (state, category) of the month's cases: owned by the Lingang Group (01004) or by the place's station (06010, 09006)
PLAN = [("closed", "01004"), ("closed", "06010"), ("closed", "09006"), ("handled", "01004"), ("dispatched", "01004"),
        ("in_progress", "06010"), ("suspended", "09006"), ("not_filed", "06010"), ("closed", "01004"),
        ("dispatched", "09006"), ("checked", "06010"), ("filed", "01004")]


def bj(*args) -> datetime:
    return datetime(*args, tzinfo=BEIJING)


@pytest.fixture(scope="module")
def history(app, spots):
    """36 cases over November 2026 (three rounds of PLAN, every step at its report's time) and 12 in October."""
    ids = []
    for n, (state, category) in enumerate(PLAN * 3):
        at = bj(2026, 11, 2 + (n * 27) // 36, 9 + n % 7, 10)
        ids.append(factories.case_in_state(app, state, spots(), at=at, category=category).id)
    for n, (state, category) in enumerate(PLAN):
        factories.case_in_state(app, state, spots(), at=bj(2026, 10, 9 + 2 * n, 10, 0), category=category)
    return ids


@pytest.fixture(scope="module")
def leader(make_user):
    return {"Authorization": f"Bearer {make_user('leader')[2]}"}


def _text(pdf: bytes) -> str:
    return re.sub(r"\s+", " ", " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages))


def _bare(text: str) -> str:
    """Without any space: a table cell's text may wrap in the PDF."""
    return re.sub(r"\s+", "", text)


def _pct(v):
    return "–" if v is None else f"{v * 100:.1f}%"


def _row(r) -> str:
    """One ranking row as the bulletin prints it."""
    cells = [r["rank"] or "–", r["name"], r["cases"], r["filed"], _pct(r["on_time_disposal_rate"]),
             _pct(r["closure_rate"]), _pct(r["on_time_closure_rate"]), _pct(r["rework_rate"]),
             "–" if r["score"] is None else f"{r['score']:.2f}"]
    return " ".join(str(c) for c in cells)


def test_the_bulletin_says_what_the_kpi_api_says(history, live_server, leader, app, artifacts):
    answer = requests.get(f"{live_server}/api/v1/bulletins/{MONTH}.pdf", headers=leader, timeout=300)
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "application/pdf"
    (artifacts / f"bulletin-{MONTH}-zh.pdf").write_bytes(answer.content)
    text = _text(answer.content)
    bare = _bare(text)
    assert "月度绩效考核通报" in text and "2026-11" in text
    total = 0
    for by in ("department", "station", "workstation"):
        kpi = requests.get(f"{live_server}/api/v1/kpi", params={"from": FROM, "to": TO, "by": by}, headers=leader,
                           timeout=30).json()
        assert kpi["rows"], by
        for r in kpi["rows"]:
            assert _bare(_row(r)) in bare, (by, _row(r))
            if not r["graded"]:
                assert _bare(f"{_row(r)} 不评级") in bare
        if by == "station":
            total = sum(r["cases"] for r in kpi["rows"])
    assert total >= 36
    headline = re.search(r"案件数(\d+)(?:\s|$)", text.replace("案件数 ", "案件数"))
    assert headline and int(headline.group(1)) == total  # this month, then the month before
    assert "按时处置率" in bare and "权重" in bare and "芦潮港" in bare
    # stored: the second answer is the same document, and the archive lists it
    again = requests.get(f"{live_server}/api/v1/bulletins/{MONTH}.pdf", headers=leader, timeout=60)
    assert again.content == answer.content
    listed = requests.get(f"{live_server}/api/v1/bulletins", headers=leader, timeout=30).json()["bulletins"]
    assert any(b["month"] == MONTH and b["lang"] == "zh" for b in listed)
    page = requests.get(f"{live_server}/bulletins", headers=leader, timeout=30)
    assert page.status_code == 200 and f"/api/v1/bulletins/{MONTH}.pdf" in page.text
    # English, with the data's English names
    english = requests.get(f"{live_server}/api/v1/bulletins/{MONTH}.pdf?lang=en", headers=leader, timeout=300)
    (artifacts / f"bulletin-{MONTH}-en.pdf").write_bytes(english.content)
    words = _text(english.content)
    assert "monthly performance bulletin" in words and "Lingang Group" in words and "On-time" in words


def test_bad_and_unfinished_months_are_refused(live_server, leader):
    bad = requests.get(f"{live_server}/api/v1/bulletins/2026-13.pdf", headers=leader, timeout=30)
    assert bad.status_code == 400 and bad.json()["field"] == "month" and "YYYY-MM" in bad.json()["message"]
    future = requests.get(f"{live_server}/api/v1/bulletins/2031-01.pdf", headers=leader, timeout=30)
    assert future.status_code == 404 and future.json()["message"]


def test_a_drill_down_lists_as_many_cases_as_its_number(history, live_server, leader):
    rows = requests.get(f"{live_server}/api/v1/kpi", params={"from": FROM, "to": TO, "by": "department"},
                        headers=leader, timeout=30).json()["rows"]
    lgjt = next(r for r in rows if r["group"] == "LGJT")
    for indicator in ("cases", "filed", "closed", "overdue_open", "on_time_disposal_rate", "closure_rate"):
        body = requests.get(f"{live_server}/api/v1/kpi/cases", headers=leader, timeout=30, params={
            "from": FROM, "to": TO, "by": "department", "group": "LGJT", "indicator": indicator}).json()
        counted = [c for c in body["cases"] if c["counted"]]
        if body["of"] is None:
            assert body["count"] == lgjt[indicator] == len(counted), indicator
        else:
            assert round(body["count"] / body["of"], 4) == lgjt[indicator], indicator
            assert len(counted) == body["count"] and len(body["cases"]) == body["of"]
    assert lgjt["overdue_open"] >= 3  # the dispatched and filed ones of November are long past their 2 days
    bad = requests.get(f"{live_server}/api/v1/kpi/cases", headers=leader, timeout=30,
                       params={"from": FROM, "to": TO, "indicator": "luck"})
    assert bad.status_code in (400, 422) and bad.json()["field"] == "indicator"
    # the map's cells and the tables count the same cases of the period
    grid = requests.get(f"{live_server}/api/v1/stats/grid-counts", params={"from": FROM, "to": TO},
                        headers=leader, timeout=30).json()
    stations = requests.get(f"{live_server}/api/v1/kpi", params={"from": FROM, "to": TO, "by": "station"},
                            headers=leader, timeout=30).json()["rows"]
    assert grid["total"] == sum(r["cases"] for r in stations)
    assert sum(grid["counts"].values()) == grid["total"] - grid["without_grid_cell"]
    trend = requests.get(f"{live_server}/api/v1/stats/monthly", params={"from": FROM, "to": TO},
                         headers=leader, timeout=30).json()
    assert trend["unit"] == "day" and len(trend["buckets"]) == 30 and trend["buckets"][0]["period"] == FROM
    assert trend["total"] == grid["total"]


def test_the_scheduler_makes_last_months_bulletin_on_the_first_working_day(history, session):
    calendar = WorkCalendar(holidays=frozenset({date(2026, 12, 1)}))  # say 1 December were a holiday
    assert bulletin.first_working_day(calendar, date(2026, 12, 1)) == date(2026, 12, 2)
    assert bulletin.scheduled(session, bj(2026, 12, 1, 9, 0), calendar) == {"made": []}
    made = bulletin.scheduled(session, bj(2026, 12, 2, 9, 0), calendar)
    stored = {b.lang for b in session.query(Bulletin).filter(Bulletin.month == date(2026, 11, 1))}
    assert stored == {"zh", "en"} and set(made["made"]) <= {f"{MONTH}/zh", f"{MONTH}/en"}
    assert bulletin.scheduled(session, bj(2026, 12, 3, 9, 0), calendar) == {"made": []}  # once


def test_chronic_problems_are_found_and_put_under_control(session):
    lon, lat = 121.9312, 30.9105
    code = "310115145999001"
    for week in (1, 2, 4):  # the same category in the same cell in three different weeks
        factories.stored_case(session, lon, lat, bj(2024, 5, 1) + timedelta(weeks=week), category="06010",
                              grid_code=code, station_code="TC")
    session.flush()
    found = chronic.detect(session, bj(2024, 6, 20))
    mine = [f for f in found if f["grid_code"] == code]
    assert len(mine) == 1 and mine[0]["cases"] == 3 and mine[0]["weeks"] == 3
    assert not [f for f in chronic.detect(session, bj(2024, 6, 20), weeks=2) if f["grid_code"] == code]
    rules.set_setting(session, "tester", "chronic_min_times", 4)  # three times are no longer enough
    assert not [f for f in chronic.detect(session, bj(2024, 6, 20)) if f["grid_code"] == code]
    rules.set_setting(session, "tester", "chronic_min_times", 3)
    chronic.refresh(session, "tester", bj(2024, 6, 20))
    problem = session.query(ChronicProblem).filter_by(grid_code=code).one()
    done = chronic.control(session, "leader1", problem.id, {"version": 1, "owner": "绿化市容所", "plan": "每日巡查",
                                                             "review_on": "2024-07-01", "status": "controlled"})
    assert done["status"] == "controlled" and done["review_on"] == "2024-07-01"
    assert [h["action"] for h in done["history"]] == ["found", "control"]
    assert session.query(AuditEntry).filter_by(entity="chronic_problem", entity_id=str(problem.id)).count() == 2
    with pytest.raises(Conflict):
        chronic.control(session, "leader1", problem.id, {"version": 1, "plan": "stale"})
    points = chronic.geojson(session, now=bj(2024, 6, 20))["features"]
    assert any(f["properties"]["grid_code"] == code for f in points)


def test_percentages_read_as_percentages():
    assert documents.percent(1.0) == "100.0%" and documents.percent(0.3333) == "33.3%"
    assert documents.percent(None) == "–" and documents.delta(0) == "±0" and documents.delta(3) == "+3"


@pytest.mark.browser
def test_reports_page_percentages_legend_and_drill_down(browser, history, live_server, make_user, artifacts):
    from tests.browser import check_clean, open_page, sign_in, wait_data

    username, password, _ = make_user("leader")
    context, page = open_page(browser, live_server)
    sign_in(page, live_server, username, password)
    page.goto(f"{live_server}/reports")
    wait_data(page, "kpi_department", timeout=30)
    page.fill("form.period input[name=from]", FROM)
    page.fill("form.period input[name=to]", TO)
    page.click("form.period button[type=submit]")
    wait_data(page, "trendFirst", lambda v: v == FROM, timeout=30)
    wait_data(page, "choropleth", timeout=60)
    deadline = time.monotonic() + 30  # the rankings of the new period load on their own
    while "加载中" in page.locator("#side").inner_text():
        assert time.monotonic() < deadline, "the rankings did not load"
        page.wait_for_timeout(100)
    side = page.locator("#side").inner_text()
    assert re.search(r"\d+\.\d\s%", side) and not re.search(r"\b0\.\d{2,}\b", side)  # 33.3 %, never 0.333
    legend = page.locator("#choropleth-legend")
    assert legend.is_visible() and "每网格案件数" in legend.inner_text()
    link = page.locator("#kpi-department tr[data-group=LGJT] a.drill-link[data-indicator=cases]")
    number = int(link.inner_text())
    link.click()
    page.wait_for_selector("#drill[data-count]", timeout=30_000)
    assert int(page.locator("#drill").get_attribute("data-count")) == number
    assert page.locator("#drill tr[data-case]").count() == number
    # sortable: the stations by number of cases, most first, then fewest first
    page.locator("#kpi-station th[data-col=cases] button.sort").click()
    counts = [int(x) for x in page.locator("#kpi-station a.drill-link[data-indicator=cases]").all_inner_texts()]
    assert len(counts) >= 2 and counts == sorted(counts, reverse=True)
    page.locator("#kpi-station th[data-col=cases] button.sort").click()
    counts = [int(x) for x in page.locator("#kpi-station a.drill-link[data-indicator=cases]").all_inner_texts()]
    assert counts == sorted(counts)
    page.locator("#kpi-department th[data-col=on_time_disposal_rate] button.def").click()
    assert "超期未处置" in page.locator("#kpi-department p.definition").inner_text()
    page.screenshot(path=str(artifacts / "reports_trusted_zh.png"))
    page.goto(f"{live_server}/reports?lang=en")
    wait_data(page, "choropleth", timeout=60)
    assert "Cases per grid cell" in page.locator("#choropleth-legend").inner_text()
    page.screenshot(path=str(artifacts / "reports_trusted_en.png"))
    page.goto(f"{live_server}/bulletins?lang=zh")
    page.screenshot(path=str(artifacts / "bulletins_archive_zh.png"), full_page=True)
    page.goto(f"{live_server}/packs/topic?from={FROM}&to={TO}&category=01004")
    assert page.locator("#topic-total").is_visible(), page.content()[:3000]
    page.screenshot(path=str(artifacts / "pack_topic_zh.png"), full_page=True)
    page.goto(f"{live_server}/packs/quarterly?quarter=2026-Q4&lang=en")
    page.screenshot(path=str(artifacts / "pack_quarterly_en.png"), full_page=True)
    check_clean(page)
    context.close()


def test_meeting_packs_as_pages_and_pdf(history, live_server, leader, app):
    from sqlalchemy import func, select

    from app.analysis import kpi as kpi_service
    from app.cases.models import Case

    with app.extensions["db"].transaction() as s:
        expected = s.scalar(select(func.count()).select_from(Case).where(
            kpi_service.of_period(date(2026, 11, 1), date(2026, 12, 1)), Case.category_code == "01004"))
    params = {"from": FROM, "to": TO, "category": "01004"}
    page = requests.get(f"{live_server}/packs/topic", params=params, headers=leader, timeout=120)
    assert page.status_code == 200 and "专题研判" in page.text
    assert re.search(rf'id="topic-total">\s*本期间案件 {expected} 件', page.text), page.text[:2000]
    assert f'href="/#case={history[0]}"' in page.text  # the first case of the month (01004, closed)
    pdf = requests.get(f"{live_server}/packs/topic.pdf", params={**params, "lang": "en"}, headers=leader, timeout=120)
    assert pdf.headers["Content-Type"] == "application/pdf" and "Topic meeting pack" in _text(pdf.content)
    bad = requests.get(f"{live_server}/packs/topic", params={**params, "category": "1x"}, headers=leader, timeout=30)
    assert bad.status_code in (400, 422)
    quarter = requests.get(f"{live_server}/packs/quarterly", params={"quarter": "2026-Q4"}, headers=leader,
                           timeout=120)
    suspended = [i for i, (state, _) in zip(history, PLAN * 3, strict=True) if state == "suspended"]
    assert quarter.status_code == 200 and all(f"#case={i}" in quarter.text for i in suspended)
    assert "批准挂账" in quarter.text and "approve_suspension" not in quarter.text  # each step named, not coded
    pdf = requests.get(f"{live_server}/packs/quarterly.pdf", params={"quarter": "2026-Q4"}, headers=leader,
                       timeout=120)
    assert "领导小组" in _bare(_text(pdf.content))
    assert requests.get(f"{live_server}/packs/quarterly", params={"quarter": "2026-Q5"}, headers=leader,
                        timeout=30).status_code in (400, 422)


def test_the_digest_names_owners_links_cases_and_speaks_english(history, live_server, leader):
    zh = requests.get(f"{live_server}/api/v1/digest", params={"date": "2026-11-20", "span": "week"}, headers=leader,
                      timeout=60).json()
    en = requests.get(f"{live_server}/api/v1/digest", params={"date": "2026-11-20", "span": "week", "lang": "en"},
                      headers=leader, timeout=60).json()
    owners = {r["owner"] for r in zh["overdue"] if r["owner"]}
    assert owners and not any(":" in o for o in owners)
    if "临港集团" in owners:
        assert "Lingang Group" in {r["owner"] for r in en["overdue"]}
    assert any(r["name"] != r["code"] and re.search(r"[A-Za-z]", r["name"]) for r in en["rising_categories"])
    pdf = requests.get(f"{live_server}/digest.pdf", params={"date": "2026-11-20", "span": "week"}, headers=leader,
                       timeout=120)
    links = [a.get_object()["/A"]["/URI"] for p in PdfReader(io.BytesIO(pdf.content)).pages
             for a in p.get("/Annots") or [] if "/A" in a.get_object()]
    assert any(re.search(r"/#case=\d+$", str(u)) for u in links)
    page = requests.get(f"{live_server}/digest", params={"date": "2026-11-20", "span": "week"}, headers=leader,
                        timeout=60).text
    assert 'class="case-link" href="/#case=' in page and 'href="/reports"' in page and "digest.pdf" in page


def test_who_is_commended_and_who_is_criticised():
    grades = [["A", 90], ["B", 75], ["C", 60], ["D", 40], ["E", 0]]
    rows = [{"name": "a", "graded": True, "grade": "A", "score_change": -11.0},  # still top: commended
            {"name": "b", "graded": True, "grade": "B", "score_change": -12.5},  # fell 12.5 points
            {"name": "c", "graded": True, "grade": "C", "score_change": -9.9},
            {"name": "d", "graded": True, "grade": "D", "score_change": None},
            {"name": "e", "graded": False, "grade": None, "score_change": -40.0}]  # not graded: neither
    commend, criticise = bulletin._verdicts({"station": rows}, grades)
    assert [r["name"] for r in commend] == ["a"] and [r["name"] for r in criticise] == ["b", "d"]
