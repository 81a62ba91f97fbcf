"""Editable dispatch rules and settings (audited), the printable digest page, append-only supervision history."""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import select, text

from app.accounts.models import AuditEntry
from tests import factories


@pytest.fixture(scope="module")
def who(make_user):
    return {role: {"Authorization": f"Bearer {make_user(role)[2]}"}
            for role in ("shift_leader", "admin", "planner", "dispatcher", "intake")}


def test_a_new_rule_changes_the_suggestion_and_is_audited(app, live_server, who, spots, session):
    url = f"{live_server}/api/v1/dispatch-rules"
    rule = {"priority": 35, "name": "非机动车乱停放派网格", "category_prefix": "09010", "target": "department:WG",
            "helpers": ["GA"], "active": True}
    assert requests.post(url, json=rule, headers=who["planner"], timeout=10).status_code == 403
    bad = requests.post(url, json={**rule, "target": "department:NOPE"}, headers=who["shift_leader"], timeout=10)
    assert bad.status_code == 422 and bad.json()["field"] == "target"
    bad = requests.post(url, json={**rule, "category_prefix": "9"}, headers=who["shift_leader"], timeout=10)
    assert bad.status_code == 422 and bad.json()["field"] == "category_prefix"
    created = requests.post(url, json=rule, headers=who["shift_leader"], timeout=10)
    assert created.status_code == 201, created.text
    rule_id = created.json()["id"]
    try:
        case = factories.case_in_state(app, "filed", spots(), channel="app", category="09010",
                                       description="共享单车乱停")
        case_url = f"{live_server}/api/v1/cases/{case.id}"
        suggestion = requests.get(case_url, headers=who["dispatcher"], timeout=10).json()["suggested_owner"]
        assert suggestion["code"] == "WG" and suggestion["helpers"] == ["GA"] and suggestion["rule_id"] == rule_id
    finally:
        off = requests.put(f"{url}/{rule_id}", json={"active": False}, headers=who["shift_leader"], timeout=10)
        assert off.status_code == 200 and off.json()["active"] is False
    audits = session.scalars(select(AuditEntry).where(AuditEntry.entity == "dispatch_rule",
                                                      AuditEntry.entity_id == str(rule_id))
                             .order_by(AuditEntry.id)).all()
    assert [a.action for a in audits] == ["dispatch_rule.create", "dispatch_rule.update"]
    assert audits[1].before["active"] is True and audits[1].after["active"] is False


def test_settings_are_checked_and_audited(live_server, who, session):
    url = f"{live_server}/api/v1/settings"
    assert requests.put(f"{url}/fallback_share", json={"value": 0.6}, headers=who["shift_leader"],
                        timeout=10).status_code == 403
    assert requests.put(f"{url}/fallback_share", json={"value": 7}, headers=who["admin"], timeout=10).status_code == 422
    assert requests.put(f"{url}/no_such", json={"value": 1}, headers=who["admin"], timeout=10).status_code == 404
    weights = {"filed_count": 0.5, "closure_rate": 0.6}
    assert requests.put(f"{url}/kpi_weights", json={"value": weights}, headers=who["admin"],
                        timeout=10).status_code == 422  # weights must add up to 1
    ok = requests.put(f"{url}/fallback_share", json={"value": 0.6}, headers=who["admin"], timeout=10)
    assert ok.status_code == 200
    try:
        assert requests.get(url, headers=who["planner"], timeout=10).json()["settings"]["fallback_share"] == 0.6
    finally:
        requests.put(f"{url}/fallback_share", json={"value": 0.5}, headers=who["admin"], timeout=10)
    last = session.scalars(select(AuditEntry).where(AuditEntry.entity == "setting").order_by(AuditEntry.id.desc())
                           ).first()
    assert last.before == {"value": 0.6} and last.after == {"value": 0.5}


def test_the_digest_page_speaks_chinese_and_english(live_server, who):
    page = requests.get(f"{live_server}/digest", params={"date": "2026-02-10"}, headers=who["planner"], timeout=30)
    assert page.status_code == 200 and "早班会热点问题摘要" in page.text and "超期案件" in page.text
    english = requests.get(f"{live_server}/digest", params={"lang": "en"}, headers=who["planner"], timeout=30)
    assert "Hot-issue digest for the morning meeting" in english.text
    bad = requests.get(f"{live_server}/digest", params={"date": "tomorrow"}, headers=who["planner"], timeout=30)
    assert bad.status_code == 400 and "YYYY-MM-DD" in bad.text


def test_supervision_history_is_append_only(app, live_server, who, spots, make_user):
    p = spots()
    body = {"channel": "app", "category": "09010", "description": "x", "lon": p.x, "lat": p.y}
    case_id = requests.post(f"{live_server}/api/v1/reports", headers=who["intake"], timeout=10, json=body).json()[
        "case_id"]
    supervisor = {"Authorization": f"Bearer {make_user('supervisor')[2]}"}
    order = requests.post(f"{live_server}/api/v1/cases/{case_id}/supervision", headers=supervisor, timeout=10,
                          json={"method": "phone", "reason": "催办"})
    assert order.status_code == 201
    with app.extensions["db"].engine.connect() as conn:
        for statement in ("UPDATE supervision_events SET note = 'x'", "DELETE FROM supervision_events"):
            with pytest.raises(Exception, match="append-only"):
                with conn.begin():
                    conn.execute(text(statement + " WHERE order_id = :o"), {"o": order.json()["id"]})
