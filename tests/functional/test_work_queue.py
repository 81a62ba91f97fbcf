"""The dispatcher's work queue over real HTTP: GET /api/v1/cases searched (?q= by case number, address, reporter
phone, text), sorted (?sort=), "my tasks" (?mine=1) and paged by cursor; POST /api/v1/cases/actions acting on many
cases at once, a result per case; and in Chromium, a dispatcher finding cases by number and by address, sorting,
and dispatching three at once."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sqlalchemy import func, select

from app.accounts.models import AuditEntry
from app.cases.models import Case, CaseEvent
from tests import factories

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
