"""The dispatcher's work queue over real HTTP: GET /api/v1/cases searched (?q= by case number, address, reporter
phone, text), sorted (?sort=), "my tasks" (?mine=1) and paged by cursor; POST /api/v1/cases/actions acting on many
cases at once, a result per case; and in Chromium, a dispatcher finding cases by number and by address, sorting,
and dispatching three at once."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
import requests
from shapely.geometry import Point
from sqlalchemy import func, select

from app.accounts.models import AuditEntry
from app.cases.models import Case, CaseEvent
from tests import factories
from tests.browser import check_clean, open_page, pixel, sign_in, wait_data

HANZI = "东南西北春夏秋冬梅兰竹菊松柏桃李江河湖海山川风云雷雨金木水火土日月星辰"


def tag() -> str:
    """Five Chinese characters no other test writes: a word to search for."""
    return "".join(random.choice(HANZI) for _ in range(5))


@pytest.fixture(scope="module")
def people(make_user):
    def bearer(role, **kw):
        return {"Authorization": f"Bearer {make_user(role, **kw)[2]}"}

    return {"dispatcher": bearer("dispatcher"), "intake": bearer("intake"), "leader": bearer("leader"),
            "handler": bearer("handler", department_code="LGJT"), "patrol": bearer("patrol", station_code="JS-002"),
            "shift": bearer("shift_leader")}


def get(live_server, headers, **params):
    return requests.get(f"{live_server}/api/v1/cases", params=params, headers=headers, timeout=30)


def ids(answer) -> list[int]:
    assert answer.status_code == 200, answer.text
    return [f["id"] for f in answer.json()["features"]]


def test_search_by_number_address_phone_and_text(app, live_server, people, spots):
    word = tag()
    phone = f"139{random.randrange(10**8):08d}"
    case = factories.case_in_state(app, "filed", spots(), address=f"临港{word}路88号", reporter_phone=phone,
                                   description=f"井盖{word[::-1]}破损")
    other = factories.case_in_state(app, "filed", spots(), description="别的问题")
    d = people["dispatcher"]
    assert ids(get(live_server, d, q=f"#{case.id}")) == [case.id]
    assert case.id in ids(get(live_server, d, q=str(case.id), limit=5000))
    assert ids(get(live_server, d, q=f"{word}路")) == [case.id]  # a Chinese word of the address
    assert ids(get(live_server, d, q=phone[3:])) == [case.id]  # part of the reporter's phone
    assert ids(get(live_server, d, q=word[::-1][1:4])) == [case.id]  # a word of the description
    assert ids(get(live_server, d, q="#999999999")) == []
    assert other.id not in ids(get(live_server, d, q=word))
    assert ids(get(live_server, d, q="100%_" + word)) == []  # % and _ are text, not wildcards
    filtered = ids(get(live_server, d, q=word, state="dispatched"))  # with the other filters
    assert filtered == []
    handler_sees = ids(get(live_server, people["handler"], q=f"#{case.id}"))
    assert handler_sees == []  # a filed case is nobody's task yet: out of the handler's scope


def test_sorting_and_bad_sorts(app, live_server, people, spots):
    word = tag()
    now = datetime.now(UTC)
    made = [factories.case_in_state(app, "filed", spots(), at=now - timedelta(hours=h), description=f"占道{word}")
            for h in (3, 1, 2)]
    by_time = [c.id for c in sorted(made, key=lambda c: c.first_reported_at)]
    d = people["dispatcher"]
    assert ids(get(live_server, d, q=word, sort="reported_at")) == by_time
    assert ids(get(live_server, d, q=word, sort="-reported_at")) == by_time[::-1]
    assert ids(get(live_server, d, q=word)) == by_time[::-1]  # newest first, as before
    assert ids(get(live_server, d, q=word, sort="-id")) == sorted(c.id for c in made)[::-1]
    deadlines = [c.id for c in sorted(made, key=lambda c: c.deadline_at)]
    assert ids(get(live_server, d, q=word, sort="deadline")) == deadlines
    for params, field in (({"sort": "colour"}, "sort"), ({"sort": "--id"}, "sort"), ({"q": "字" * 101}, "q"),
                          ({"mine": "maybe"}, "mine"), ({"cursor": "not-a-token"}, "cursor")):
        bad = get(live_server, d, **params)
        assert bad.status_code == 400, (params, bad.text)
        assert bad.json()["field"] == field
    assert "colour" in get(live_server, d, sort="colour").json()["message"]


def test_cursor_paging_and_offset(app, live_server, people, spots):
    word = tag()
    made = sorted(factories.case_in_state(app, "filed", spots(), description=f"广告{word}").id for _ in range(5))
    d = people["dispatcher"]
    seen, url, params = [], f"{live_server}/api/v1/cases", {"q": word, "sort": "id", "limit": 2}
    while url:
        page = requests.get(url, params=params, headers=d, timeout=30).json()
        assert page["numberMatched"] == 5
        seen += [f["id"] for f in page["features"]]
        url = next((link["href"] for link in page.get("links", []) if link["rel"] == "next"), None)
        params = None
        assert len(seen) <= 5
    assert seen == made
    first = get(live_server, d, q=word, sort="id", limit=2).json()
    other_sort = get(live_server, d, q=word, sort="-id", limit=2, cursor=first["next_cursor"])
    assert other_sort.status_code == 400 and other_sort.json()["field"] == "cursor"
    both = get(live_server, d, q=word, sort="id", limit=2, cursor=first["next_cursor"], offset=2)
    assert both.status_code == 400 and both.json()["field"] == "cursor"
    by_offset = get(live_server, d, q=word, sort="id", limit=2, offset=2).json()  # offset paging still works
    assert [f["id"] for f in by_offset["features"]] == made[2:4]
    assert "offset=4" in by_offset["links"][0]["href"]
    last = get(live_server, d, q=word, sort="id", limit=2, offset=4).json()
    assert [f["id"] for f in last["features"]] == made[4:] and "links" not in last


@pytest.mark.parametrize("sort", ["deadline", "-deadline"])
def test_cursor_pages_through_empty_deadlines(app, live_server, people, spots, sort):
    """Closed cases have no deadline (NULL): they come last either way, and the cursor walks past them."""
    word = tag()
    now = datetime.now(UTC)
    running = [factories.case_in_state(app, "filed", spots(), at=now - timedelta(minutes=m), description=f"扬尘{word}")
               for m in (5, 25, 15)]
    void = [factories.case_in_state(app, "closed", spots(), description=f"扬尘{word}") for _ in range(2)]
    assert all(c.deadline_at is None for c in void)
    by_deadline = sorted(running, key=lambda c: c.deadline_at, reverse=sort.startswith("-"))
    expected = [c.id for c in by_deadline] + sorted((c.id for c in void), reverse=sort.startswith("-"))
    seen, cursor = [], None
    for _ in range(5):
        page = get(live_server, people["dispatcher"], q=word, sort=sort, limit=2,
                   **({"cursor": cursor} if cursor else {})).json()
        seen += [f["id"] for f in page["features"]]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    assert seen == expected


def test_hostile_cursors_are_refused_not_a_crash(live_server, people):
    import base64
    import json

    def token(raw: str) -> str:
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    sorts_and_bodies = [
        ("id", '{"s": "id", "v": 1e999, "id": 1}'), ("id", '{"s": "id", "v": "7", "id": 1}'),
        ("deadline", '{"s": "deadline", "v": "not a time", "id": 1}'),
        ("deadline", '{"s": "deadline", "v": 5, "id": 1}'),
        ("-reported_at", '{"s": "-reported_at", "v": "2026-01-01T00:00:00+08:00", "id": true}'),
        ("state", '{"s": "state", "v": ["filed"], "id": 1}'), ("id", "[1, 2]"), ("id", "not json"),
        ("id", json.dumps({"s": "id", "v": 10**30, "id": 10**30})),
        ("deadline", '{"s": "deadline", "v": null, "id": 99999999999999999999}'),
    ]
    for sort, body in sorts_and_bodies:
        answer = get(live_server, people["dispatcher"], sort=sort, cursor=token(body), limit=1)
        assert answer.status_code in (200, 400), (body, answer.status_code, answer.text[:200])
        if answer.status_code == 400:
            assert answer.json()["field"] == "cursor"
    assert get(live_server, people["dispatcher"], cursor="%%%", sort="id").status_code == 400


def test_mine_lists_the_callers_own_cases(app, live_server, people, spots):
    word = tag()
    ours = factories.case_in_state(app, "dispatched", spots(), description=f"雨水箅子{word}")  # 01004: LGJT
    station = factories.case_in_state(app, "dispatched", spots("JS-002"), category="06010",
                                      description=f"暴露垃圾{word}")  # 06: the place's station
    assert (ours.owner_code, station.owner_code) == ("LGJT", "JS-002")
    assert ids(get(live_server, people["handler"], q=word, mine=1)) == [ours.id]
    assert ids(get(live_server, people["patrol"], q=word, mine=1)) == [station.id]
    everyone = ids(get(live_server, people["dispatcher"], q=word, mine=0))
    assert sorted(everyone) == sorted([ours.id, station.id])
    refused = get(live_server, people["dispatcher"], mine=1)
    assert refused.status_code == 400 and refused.json()["field"] == "mine"
    assert "dispatcher" in refused.json()["message"]


def _counts(app, case_ids):
    with app.extensions["db"].transaction() as s:
        events = dict(s.execute(select(CaseEvent.case_id, func.count()).where(CaseEvent.case_id.in_(case_ids))
                                .group_by(CaseEvent.case_id)).all())
        audits = s.scalars(select(AuditEntry.entity_id).where(AuditEntry.entity == "case",
                                                               AuditEntry.entity_id.in_([str(i) for i in case_ids])))
        states = {c.id: (c.state, c.version) for c in s.scalars(select(Case).where(Case.id.in_(case_ids)))}
        return events, list(audits), states


def bulk(live_server, headers, body):
    return requests.post(f"{live_server}/api/v1/cases/actions", json=body, headers=headers, timeout=60)


def test_bulk_dispatch_answers_per_case(app, live_server, people, spots):
    done, stale, wrong_state = (factories.case_in_state(app, state, spots())
                                for state in ("filed", "filed", "dispatched"))
    case_ids = [done.id, stale.id, wrong_state.id]
    events_before, _, _ = _counts(app, case_ids)
    answer = bulk(live_server, people["dispatcher"], {"action": "dispatch", "items": [
        {"id": done.id, "version": done.version}, {"id": stale.id, "version": stale.version - 1},
        {"id": wrong_state.id, "version": wrong_state.version}, {"id": 999_999_999, "version": 1}]})
    assert answer.status_code == 200, answer.text
    results = {r["id"]: r for r in answer.json()["results"]}
    assert [r["id"] for r in answer.json()["results"]] == [*case_ids, 999_999_999]  # in the order sent
    assert results[done.id]["outcome"] == "done" and results[done.id]["version"] == done.version + 1
    assert results[done.id]["state"] == "dispatched"
    assert results[stale.id]["status"] == 409 and results[stale.id]["case_version"] == stale.version
    assert results[wrong_state.id]["status"] == 422 and results[wrong_state.id]["error"] == "illegal"
    assert results[999_999_999]["status"] == 404
    assert answer.json()["counts"] == {"done": 1, "invalid": 0, "forbidden": 0, "not_found": 1, "stale": 1,
                                       "refused": 1}
    events, audits, states = _counts(app, case_ids)
    assert events[done.id] == events_before[done.id] + 1  # one event for the one done
    assert events[stale.id] == events_before[stale.id] and events[wrong_state.id] == events_before[wrong_state.id]
    assert audits == [str(done.id)]
    assert states[done.id][0] == "dispatched" and states[stale.id] == ("filed", stale.version)
    with app.extensions["db"].transaction() as s:
        owner = s.get(Case, done.id).owner_code
        batch = s.scalars(select(AuditEntry).where(AuditEntry.action == "cases.bulk_action")
                          .order_by(AuditEntry.id.desc()).limit(1)).one()
    assert owner == "LGJT"  # each case's rule suggestion when no owner is given
    assert batch.before["cases"] == [*case_ids, 999_999_999] and batch.after["done"] == 1


def test_bulk_accept_out_of_scope_is_not_found(app, live_server, people, spots):
    ours, stale, started = (factories.case_in_state(app, state, spots())
                            for state in ("dispatched", "dispatched", "in_progress"))
    theirs = factories.case_in_state(app, "dispatched", spots(), category="06010")  # owned by a station
    answer = bulk(live_server, people["handler"], {"action": "accept", "items": [
        {"id": ours.id, "version": ours.version}, {"id": stale.id, "version": stale.version + 5},
        {"id": started.id, "version": started.version}, {"id": theirs.id, "version": theirs.version}]})
    assert answer.status_code == 200, answer.text
    got = [(r["id"], r["status"]) for r in answer.json()["results"]]
    assert got == [(ours.id, 200), (stale.id, 409), (started.id, 422), (theirs.id, 404)]
    assert "version" not in answer.json()["results"][3]  # nothing told about a case out of scope
    _, audits, states = _counts(app, [ours.id, stale.id, started.id, theirs.id])
    assert states[ours.id] == ("in_progress", ours.version + 1) and states[theirs.id] == ("dispatched", theirs.version)
    assert audits == [str(ours.id)]


def test_bulk_refusals_for_the_whole_request(app, live_server, people, spots):
    case = factories.case_in_state(app, "filed", spots())
    item = {"id": case.id, "version": case.version}
    role = bulk(live_server, people["intake"], {"action": "dispatch", "items": [item]})
    assert role.status_code == 403
    unknown = bulk(live_server, people["dispatcher"], {"action": "teleport", "items": [item]})
    assert unknown.status_code == 422 and unknown.json()["field"] == "action"
    many = bulk(live_server, people["dispatcher"], {"action": "dispatch",
                                                    "items": [{"id": i + 1, "version": 1} for i in range(201)]})
    assert many.status_code == 422 and many.json()["field"] == "items" and "200" in many.json()["message"]
    twice = bulk(live_server, people["dispatcher"], {"action": "dispatch", "items": [item, item]})
    assert twice.status_code == 400 and twice.json()["field"] == "items[1].id"
    no_version = bulk(live_server, people["dispatcher"], {"action": "dispatch", "items": [{"id": case.id}]})
    assert no_version.status_code == 400 and no_version.json()["field"] == "items[0].version"
    missing = bulk(live_server, people["shift"], {"action": "void", "items": [item]})  # void needs a reason
    assert missing.json()["results"][0]["status"] == 422 and missing.json()["results"][0]["field"] == "reason"
    voided = bulk(live_server, people["shift"], {"action": "void", "reason": "重复上报", "items": [item]})
    assert voided.json()["results"][0]["state"] == "void"
    _, _, states = _counts(app, [case.id])
    assert states[case.id] == ("void", case.version + 1)


def test_server_clusters_count_each_light(session, spots):
    """Counted in PostGIS, a cluster knows its red, yellow and green cases: the map colours it by the worst."""
    from app.accounts.models import User
    from app.cases import reading

    p = spots()
    late = factories.case_in_state(session, "dispatched", p, at=datetime.now(UTC) - timedelta(days=10))
    fresh = factories.case_in_state(session, "filed", Point(p.x + 0.0006, p.y))
    viewer = session.scalars(select(User).where(User.username == factories.actor(session, "dispatcher"))).one()
    box = (p.x - 0.002, p.y - 0.002, p.x + 0.002, p.y + 0.002)
    drawn = reading.map_view(session, reading.CaseQuery(bbox=box, open_only=True), viewer, 12, max_points=0)
    assert drawn["clustered"]
    clusters = [f["properties"] for f in drawn["features"]]
    assert all(c["count"] == c["red"] + c["yellow"] + c["green"] for c in clusters)  # open cases: each has a light
    assert sum(c["red"] for c in clusters) >= 1 and sum(c["green"] for c in clusters) >= 1
    assert sum(c["count"] for c in clusters) == drawn["numberMatched"] >= 2
    assert {late.state, fresh.state} == {"dispatched", "filed"}


# ------------------------------------------------------------------------------------------------
# In Chromium
# ------------------------------------------------------------------------------------------------


def _search(page, text: str, matched: int) -> None:
    before = page.get_attribute("body", "data-queue-loaded")
    page.fill("#queue-q", text)
    page.press("#queue-q", "Enter")
    wait_data(page, "queueLoaded", lambda v: v != before)
    wait_data(page, "queueMatched", lambda v: v == str(matched))


def _rows(page) -> list[int]:
    return [int(x) for x in page.locator("#queue-body tr[data-case]").evaluate_all(
        "rows => rows.map(r => r.dataset.case)")]


@pytest.mark.browser
def test_dispatcher_finds_sorts_and_dispatches_several(browser, live_server, make_user, app, spots, artifacts):
    word = tag()
    made = [factories.case_in_state(app, "filed", spots(), address=f"{word}路{n}号", description="道路积水")
            for n in range(11)]
    username, password, _ = make_user("dispatcher")
    context, page = open_page(browser, live_server)
    sign_in(page, live_server, username, password)
    wait_data(page, "queueLoaded")
    first = made[0]
    page.locator("body").press("/")  # "/" goes to the search box
    assert page.evaluate("document.activeElement.id") == "queue-q"
    _search(page, f"#{first.id}", 1)  # by number
    row = page.locator(f"#queue-body tr[data-case='{first.id}']")
    assert "已立案" in row.inner_text() and "正常" in row.inner_text() and "●" in row.inner_text()
    row.click()
    page.wait_for_selector(f"#side .case[data-case='{first.id}']")
    wait_data(page, "highlighted", lambda v: v == str(first.id))
    page.locator(f".case-icon.selected[title$='#{first.id}']").wait_for(timeout=20_000)  # panned to it, marked
    assert "selected" in row.get_attribute("class")
    _search(page, f"{word}路", 11)  # by a Chinese word of the address
    page.click("#queue-head button[data-sort='id']")
    wait_data(page, "queueLoaded")
    page.locator("#queue-head th[aria-sort='ascending'] [data-sort='id']").wait_for()
    assert _rows(page) == sorted(c.id for c in made)
    page.click("#queue-head button[data-sort='id']")
    page.locator("#queue-head th[aria-sort='descending'] [data-sort='id']").wait_for()
    page.wait_for_timeout(300)
    assert _rows(page) == sorted((c.id for c in made), reverse=True)
    page.locator("#queue-q").blur()
    page.keyboard.press("j")  # j, j, k through the list, Enter opens the row in focus
    page.keyboard.press("j")
    page.keyboard.press("k")
    page.keyboard.press("Enter")
    page.wait_for_selector(f"#side .case[data-case='{_rows(page)[0]}']")
    page.screenshot(path=str(artifacts / "console_queue.png"))
    page.check("#queue-all")  # all eleven on the page...
    wait_data(page, "bulkSelected", lambda v: v == "11")
    stale = made[10]
    factories.act(app, stale.id, factories.actor(app, "dispatcher"), "dispatch")  # ...one dispatched meanwhile
    assert page.locator("#bulk-action").input_value() == "dispatch"
    page.click("#bulk button[type=submit]")
    wait_data(page, "bulkAnswered")
    results = page.locator("#bulk-results")
    assert page.get_attribute("body", "data-bulk-done") == "10"
    for case in made[:10]:
        assert "已完成 → 已派遣" in results.locator(f"li[data-case='{case.id}']").inner_text()
    assert "已被他人更新" in results.locator(f"li[data-case='{stale.id}']").inner_text()
    page.screenshot(path=str(artifacts / "console_bulk.png"))
    with app.extensions["db"].transaction() as s:
        states = {c.id: (c.state, c.owner_code) for c in s.scalars(select(Case).where(
            Case.id.in_([c.id for c in made])))}
    assert all(states[c.id] == ("dispatched", "LGJT") for c in made)  # each by its rule (01004: LGJT)
    check_clean(page)
    context.close()


@pytest.mark.browser
def test_marker_click_marks_the_row_and_panel_shows_names(browser, live_server, make_user, app, spots):
    p = spots()
    case = factories.case_in_state(app, "verified", p, description=f"井盖{tag()}")
    username, password, _ = make_user("dispatcher")
    context, page = open_page(browser, live_server)
    sign_in(page, live_server, username, password)
    _search(page, f"#{case.id}", 1)
    page.evaluate(f"nhMap.setView([{p.y}, {p.x}], 17, {{animate: false}}) && null")
    page.evaluate("nhMap.panBy([120, 60], {animate: false}) && null")  # the case left of the layer control
    marker = page.locator(f".case-icon[title$='#{case.id}']")
    marker.wait_for(timeout=20_000)
    marker.click()
    page.wait_for_selector(f"#side .case[data-case='{case.id}']")
    assert "selected" in page.locator(f"#queue-body tr[data-case='{case.id}']").get_attribute("class")
    side = page.locator("#side")
    facts = dict(side.locator(".facts .row").evaluate_all(
        "rows => rows.map(r => [r.querySelector('.k').textContent, r.querySelector('.v').textContent])"))
    assert facts["类别"] == "雨水箅子" and facts["站点"].endswith("站") and facts["社区"].endswith("社区")
    assert not facts["居村工作站"].isdigit() and "工作站" in facts["居村工作站"]
    history = side.locator(".history").inner_text()
    assert "上报" in history and "opened" not in history and "核实 → 已核实" in history
    assert "上报记录 (1)" in side.inner_text()
    page.click("#case-actions button[data-action='file']")  # 立案, then dispatch at once: the rule's owner is set
    page.locator("form.action-form[data-action='file'] button[type=submit]").click()
    page.wait_for_selector(f".case[data-case='{case.id}'][data-state='filed']")
    page.locator("#side").click(position={"x": 5, "y": 5})  # out of the form, then "d" opens the dispatch form
    page.keyboard.press("d")
    owner = page.locator("form.action-form[data-action='dispatch'] select[name=owner]")
    assert owner.input_value() == "department:LGJT"
    page.locator("form.action-form[data-action='dispatch'] button[type=submit]").click()
    page.wait_for_selector(f".case[data-case='{case.id}'][data-state='dispatched']", timeout=20_000)
    check_clean(page)
    context.close()


@pytest.mark.browser
def test_a_cluster_with_a_red_case_is_red(browser, live_server, make_user, app, spots, artifacts):
    p = spots()
    factories.case_in_state(app, "dispatched", p, at=datetime.now(UTC) - timedelta(days=10))  # red
    factories.case_in_state(app, "filed", Point(p.x + 0.0006, p.y), category="06010")  # green, 60 m east
    username, password, _ = make_user("dispatcher")
    context, page = open_page(browser, live_server)
    sign_in(page, live_server, username, password)
    wait_data(page, "casesLoaded")
    before = page.get_attribute("body", "data-cases-loaded")
    page.evaluate(f"nhMap.setView([{p.y}, {p.x + 0.0003}], 14, {{animate: false}}) && null")
    wait_data(page, "casesLoaded", lambda v: v != before)
    page.wait_for_timeout(300)
    x, y = pixel(page, p.y, p.x + 0.0003)
    here = None  # the cluster drawn where the two cases are
    for i in range(page.locator(".case-cluster").count()):
        box = page.locator(".case-cluster").nth(i).bounding_box()
        if box and abs(box["x"] + box["width"] / 2 - x) < 30 and abs(box["y"] + box["height"] / 2 - y) < 30:
            here = page.locator(".case-cluster").nth(i)
    assert here is not None, "the two cases 60 m apart are not clustered at zoom 14"
    assert "light-red" in here.get_attribute("class") and "■" in here.inner_text()
    assert int(here.inner_text().split()[0]) >= 2
    assert "聚合圈按其中最严重的灯色" in page.locator(".case-legend").inner_text()
    scale = page.locator(".leaflet-control-scale:visible").inner_text()
    assert (" m" in scale or " km" in scale) and "ft" not in scale and "mi" not in scale  # metric
    page.evaluate(f"nhMap.setView([{p.y}, {p.x}], 12, {{animate: false}}) && null")
    page.wait_for_timeout(1500)
    page.screenshot(path=str(artifacts / "console_clusters.png"))
    check_clean(page)
    context.close()


@pytest.mark.browser
def test_saved_filters_come_back_after_a_reload(browser, live_server, make_user, app, spots):
    word = tag()
    made = [factories.case_in_state(app, "filed", spots(), description=f"占道{word}") for _ in range(2)]
    username, password, _ = make_user("dispatcher")
    context, page = open_page(browser, live_server)
    sign_in(page, live_server, username, password)
    _search(page, word, 2)
    page.click("#queue-head button[data-sort='id']")
    page.locator("#queue-head th[aria-sort='ascending'] [data-sort='id']").wait_for()
    page.click("#queue-save")
    page.reload()
    wait_data(page, "queueLoaded")
    assert page.input_value("#queue-q") == ""
    before = page.get_attribute("body", "data-queue-loaded")
    page.select_option("#queue-saved", label=f"“{word}”")
    wait_data(page, "queueLoaded", lambda v: v != before)
    wait_data(page, "queueMatched", lambda v: v == "2")
    assert page.input_value("#queue-q") == word
    page.locator("#queue-head th[aria-sort='ascending'] [data-sort='id']").wait_for()
    assert _rows(page) == sorted(c.id for c in made)
    check_clean(page)
    context.close()


def case_lat(app, case_id: int) -> str:
    """'lat, lon' of a case, for nhMap.setView."""
    with app.extensions["db"].transaction() as s:
        lon, lat = s.execute(select(func.ST_X(Case.geom), func.ST_Y(Case.geom)).where(Case.id == case_id)).one()
    return f"{lat}, {lon}"


@pytest.mark.browser
def test_an_open_panel_refreshes_when_the_case_changes_elsewhere(browser, live_server, make_user, app, spots):
    case = factories.case_in_state(app, "filed", spots(), description=f"广告{tag()}")
    username, password, _ = make_user("dispatcher")
    context, page = open_page(browser, live_server)
    sign_in(page, live_server, username, password)
    _search(page, f"#{case.id}", 1)
    wait_data(page, "casesLoaded")
    before = page.get_attribute("body", "data-cases-loaded")
    page.evaluate(f"nhMap.setView([{case_lat(app, case.id)}], 17, {{animate: false}}) && null")
    wait_data(page, "casesLoaded", lambda v: v != before)  # the markers of this view, not of the first one
    marker = page.locator(f".case-icon[title$='#{case.id}']")
    marker.wait_for(timeout=20_000)
    marker.focus()  # markers take the keyboard focus; Enter opens the case
    page.keyboard.press("Enter")
    page.wait_for_selector(f"#side .case[data-case='{case.id}'][data-state='filed']")
    factories.act(app, case.id, factories.actor(app, "dispatcher"), "dispatch")  # another dispatcher
    page.evaluate("nhConsole.loadQueue() && null")  # what the 15-second refresh does
    page.wait_for_selector(f"#side .case[data-case='{case.id}'][data-state='dispatched']", timeout=10_000)
    assert "此案件已被他人更新" in page.locator("#side").inner_text()
    check_clean(page)
    context.close()


@pytest.mark.browser
def test_roles_that_may_not_file_get_no_filing_form(browser, live_server, make_user, spots):
    p = spots()
    username, password, _ = make_user("leader")
    context, page = open_page(browser, live_server)
    sign_in(page, live_server, username, password)
    wait_data(page, "queueLoaded")
    page.evaluate(f"nhMap.setView([{p.y}, {p.x}], 17) && null")
    wait_data(page, "casesLoaded")
    page.mouse.click(*pixel(page, p.y, p.x))  # where a dispatcher's click opens the filing form
    page.wait_for_timeout(800)
    assert page.locator("#new-case").count() == 0
    assert "点击地图" not in page.locator("#side").inner_text()
    assert page.locator("#bulk-action option").count() >= 1  # a leader approves extensions, escalates...
    assert page.locator("#bulk-action option[value='dispatch']").count() == 0
    check_clean(page)
    context.close()


@pytest.mark.browser
def test_close_button_label_my_tasks_and_english(browser, live_server, make_user, app, spots, artifacts):
    checked = factories.case_in_state(app, "checked", spots(), description=f"雨水箅子{tag()}")
    username, password, _ = make_user("shift_leader")
    context, page = open_page(browser, live_server)
    sign_in(page, live_server, username, password)
    _search(page, f"#{checked.id}", 1)
    page.click(f"#queue-body tr[data-case='{checked.id}']")
    page.wait_for_selector(f"#side .case[data-case='{checked.id}']")
    assert page.locator("#case-actions button[data-action='close']").inner_text() == "结案"
    assert page.locator("#queue-mine").count() == 0  # a shift leader has no "my tasks"
    assert page.locator("nav a[href='/reports']").inner_text() == "考核评价"  # not a second 上报数
    assert "上报记录" in page.locator("#side").inner_text()
    page.goto(f"{live_server}/?lang=en")
    wait_data(page, "queueLoaded")
    assert "Work queue" in page.locator("#queue").inner_text()
    assert "Case no." in page.locator("#queue-head").inner_text()
    page.screenshot(path=str(artifacts / "console_queue_en.png"))
    check_clean(page)
    context.close()
    handler, password, _ = make_user("handler", department_code="LGJT")
    context, page = open_page(browser, live_server)
    if sign_in(page, live_server, handler, password) == "/field":  # handlers land on the field app
        page.goto(f"{live_server}/")
    wait_data(page, "queueLoaded")
    before = page.get_attribute("body", "data-queue-loaded")
    page.check("#queue-mine")
    wait_data(page, "queueLoaded", lambda v: v != before)
    mine = requests.get(f"{live_server}/api/v1/cases", params={"mine": 1, "open": 1, "limit": 1},
                        headers=factories.bearer(make_user("handler", department_code="LGJT")[2]), timeout=30).json()
    assert page.get_attribute("body", "data-queue-matched") == str(mine["numberMatched"])
    check_clean(page)
    context.close()


@pytest.mark.browser
def test_supervisor_opens_and_closes_an_order(browser, live_server, make_user, app, spots, artifacts):
    from app.cases.models import SupervisionOrder

    late = factories.case_in_state(app, "dispatched", spots(), at=datetime.now(UTC) - timedelta(days=10),
                                   description=f"超期{tag()}")  # 01004: two working days, owned by LGJT
    username, password, _ = make_user("supervisor")
    context, page = open_page(browser, live_server)
    sign_in(page, live_server, username, password)
    page.click("nav a[href='/supervision']")
    wait_data(page, "supLists")
    row = page.locator(f"#list-overdue tr[data-case='{late.id}']")
    assert "临港集团" in row.inner_text() and "雨水箅子" in row.inner_text()
    with page.expect_download() as download:
        page.click("#list-overdue button[data-export]")
    exported = download.value.path().read_text(encoding="utf-8-sig")
    assert exported.splitlines()[0].startswith('"案件号","类别","站点"') and f'"{late.id}","雨水箅子"' in exported
    row.locator("button[data-open-order]").click()
    form = page.locator("#order-form")
    form.locator("select[name=method]").select_option("phone")
    form.locator("textarea[name=reason]").fill("超期未处置，电话督办")
    form.locator("button[type=submit]").click()
    order = page.locator("#sup-order .order[data-state='open']")
    order.wait_for()
    assert "督办中" in order.inner_text() and "电话督办" in order.inner_text()
    order_id = int(order.get_attribute("data-order"))
    handler = factories.bearer(make_user("handler", department_code="LGJT")[2])
    answered = requests.post(f"{live_server}/api/v1/supervision/{order_id}/actions", headers=handler, timeout=30,
                             json={"action": "answer", "note": "已安排人员今日处置"})
    assert answered.status_code == 200, answered.text
    page.select_option("#order-state", "answered")
    page.locator(f"#sup-orders tr[data-order='{order_id}']").click()
    page.locator("#sup-order .order[data-state='answered']").wait_for()
    assert "已安排人员今日处置" in page.locator("#sup-order").inner_text()
    page.fill("#sup-order textarea[name=note]", "已核实，办结")
    page.click("#sup-order button[data-order-action='close']")
    page.locator("#sup-order .order[data-state='closed']").wait_for()
    assert "已办结" in page.locator("#sup-order").inner_text()
    scale = page.locator(".leaflet-control-scale").inner_text()
    assert (" m" in scale or " km" in scale) and "mi" not in scale and "ft" not in scale  # metric on every map page
    page.screenshot(path=str(artifacts / "supervision.png"))
    with app.extensions["db"].transaction() as s:
        assert s.get(SupervisionOrder, order_id).state == "closed"
    check_clean(page)
    context.close()
