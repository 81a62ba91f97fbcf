"""Every endpoint as every role and as nobody, against the table of who may do what.

Path ids name records that do not exist and bodies are empty, so an allowed caller gets past the
role check (to a 404, 400 or 422, or a 200 for reads) and nothing is written, while a refused one
gets 403, and nobody 401 (or the sign-in page). A new endpoint without a line in TABLE fails the test.
"""

from __future__ import annotations

import pytest
import requests

ROLES = ("intake", "shift_leader", "dispatcher", "handler", "patrol", "supervisor", "planner", "admin", "leader")
ANY = frozenset(ROLES)
PUBLIC = "public"
MISSING = 999_999_999

REPORTERS = {"intake", "shift_leader", "dispatcher", "patrol", "supervisor", "admin"}
PATROL_PLANNERS = {"shift_leader", "dispatcher", "supervisor", "admin"}
TABLE: dict[tuple[str, str], object] = {
    # pages
    ("GET", "console.dispatcher"): ANY, ("GET", "console.planner"): ANY, ("GET", "console.patrol"): ANY,
    ("GET", "console.reports"): ANY, ("GET", "evaluation.digest_page"): ANY,
    ("GET", "pages.login"): PUBLIC, ("POST", "pages.login"): PUBLIC, ("POST", "pages.logout"): PUBLIC,
    ("GET", "health.healthz"): PUBLIC, ("GET", "static"): PUBLIC, ("GET", "vendor.asset"): PUBLIC,
    ("GET", "metrics.prometheus"): {"admin"},
    # reading
    **{("GET", e): ANY for e in (
        "api.me", "api.layer", "api.locate", "api.geocode", "api.reverse", "reports.get_report",
        "reports.get_attachment", "reports.channels", "reports.categories", "cases.list_cases", "cases.get_case",
        "mapdata.cases_map", "mapdata.convert", "mapdata.basemap", "mapdata.versions", "mapdata.grid_counts",
        "mapdata.monthly", "supervision.supervision_lists", "supervision.list_orders", "supervision.get_order",
        "supervision.list_rules", "supervision.list_settings", "evaluation.kpi_table", "evaluation.digest_json",
        "analysis.hotspot_cells", "analysis.emerging_cells", "analysis.alert_cells", "analysis.alert_modules",
        "routing.route", "routing.list_patrols", "routing.patrol_geojson", "routing.patrol_gpx",
        "exports.index", "exports.export", "apidoc.spec", "apidoc.docs",
        "ogc.landing", "ogc.api", "ogc.conformance", "ogc.collections", "ogc.collection", "ogc.items", "ogc.item",
    )},
    ("GET", "siting.drafts"): {"planner", "admin", "leader"}, ("GET", "siting.draft"): {"planner", "admin", "leader"},
    # writing
    ("POST", "reports.create_report"): REPORTERS,
    ("POST", "reports.split_report"): {"dispatcher", "shift_leader", "admin"},
    ("POST", "cases.case_action"): ANY,  # then the state machine's own role table (tests/unit/test_workflow_machine.py)
    ("POST", "supervision.create_order"): {"supervisor", "leader", "shift_leader"},
    ("POST", "supervision.order_action"): ANY,  # answer by owners, remind/close by supervisors (test_clock_and_scores)
    ("POST", "supervision.create_rule"): {"admin", "shift_leader"},
    ("PUT", "supervision.update_rule"): {"admin", "shift_leader"},
    ("PUT", "supervision.update_setting"): {"admin"},
    ("PUT", "analysis.alert_module_update"): {"admin", "supervisor"},
    ("POST", "mapdata.coverage_preview"): {"planner", "admin"},
    ("POST", "mapdata.coverage_save"): {"planner", "admin"},
    ("POST", "mapdata.stop_visited"): {"patrol", "shift_leader", "dispatcher", "supervisor", "admin"},
    ("POST", "routing.plan_patrol"): PATROL_PLANNERS, ("POST", "routing.assign_patrol"): PATROL_PLANNERS,
    ("POST", "siting.sites"): {"planner", "admin"}, ("POST", "siting.territories"): {"planner", "admin"},
    ("PUT", "siting.draft_update"): {"planner", "admin"},
    # Open311 authenticates by api_key (its own tests: tests/functional/test_open311.py)
    **{(m, e): "open311" for m, e in (
        ("GET", "open311.discovery"), ("POST", "open311.post_request"), ("GET", "open311.get_requests"),
        ("GET", "open311.get_request"), ("GET", "open311.services"), ("GET", "open311.service_definition"),
        ("GET", "open311.get_token"))},
}
SAMPLES = {
    "name": "communities", "layer": "communities", "fmt": "json", "key": "fallback_share", "code": "no_such_code",
    "collection_id": "communities", "feature_id": "no_such_feature", "path": "leaflet/dist/leaflet.js",
    "filename": "app.css", "request_id": str(MISSING), "token_id": str(MISSING),
}


def routes(app):
    out = []
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            values = {}
            for arg in rule.arguments:
                converter = rule._converters[arg].__class__.__name__
                values[arg] = MISSING if converter == "IntegerConverter" else SAMPLES.get(arg, "x")
            if rule.endpoint == "evaluation.kpi_table" and "fmt" in values:
                values["fmt"] = "csv"
            if rule.endpoint == "exports.export":
                values["fmt"] = "geojson"
            path = rule.rule
            for arg, value in values.items():
                path = path.replace(f"<{arg}>", str(value))
                for conv in ("int", "path", "string"):
                    path = path.replace(f"<{conv}:{arg}>", str(value))
            out.append((method, rule.endpoint, path))
    return sorted(set(out))


@pytest.fixture(scope="module")
def tokens(make_user):
    return {role: {"Authorization": f"Bearer {make_user(role)[2]}"} for role in ROLES}


def call(live_server, method, path, headers):
    kwargs = {"headers": headers, "timeout": 60, "allow_redirects": False}
    if method in ("POST", "PUT"):
        kwargs["json"] = {}
    return requests.request(method, f"{live_server}{path}", **kwargs)


def test_every_endpoint_is_in_the_table(app):
    missing = [(m, e) for m, e, _ in routes(app) if (m, e) not in TABLE]
    assert not missing, f"endpoints without a line in TABLE: {missing}"


def test_nobody_gets_only_the_public_endpoints(app, live_server):
    for method, endpoint, path in routes(app):
        rule = TABLE[(method, endpoint)]
        if rule in (PUBLIC, "open311"):
            continue
        answer = call(live_server, method, path, {})
        if answer.status_code == 302:
            assert "/login" in answer.headers["Location"], (method, path)
        else:
            assert answer.status_code == 401, (method, path, answer.status_code, answer.text[:200])


@pytest.mark.parametrize("role", ROLES)
def test_each_role_against_the_table(app, live_server, tokens, role):
    wrong = []
    for method, endpoint, path in routes(app):
        rule = TABLE[(method, endpoint)]
        if rule in (PUBLIC, "open311") or endpoint == "pages.logout":
            continue
        answer = call(live_server, method, path, tokens[role])
        allowed = role in rule
        if answer.status_code >= 500:
            wrong.append((method, path, answer.status_code, "server error"))
        elif allowed and answer.status_code in (401, 403):
            wrong.append((method, path, answer.status_code, "refused but allowed"))
        elif not allowed and answer.status_code != 403:
            wrong.append((method, path, answer.status_code, "answered but not allowed"))
    assert not wrong, wrong


def test_open311_needs_an_api_key(live_server):
    for path in ("/open311/v2/discovery.json", "/open311/v2/services.json", "/open311/v2/requests.json"):
        assert requests.get(f"{live_server}{path}", timeout=30).status_code == 403
    assert requests.post(f"{live_server}/open311/v2/requests.json", data={}, timeout=30).status_code in (400, 403)
