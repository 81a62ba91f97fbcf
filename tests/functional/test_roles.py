"""Every endpoint as every role and as nobody, against the table of who may do what.

Path ids name records that do not exist and bodies are empty, so an allowed caller gets past the
role check (to a 404, 400 or 422, or a 200 for reads) and nothing is written, while a refused one
gets 403, and nobody 401 (or the sign-in page). A new endpoint without a line in TABLE fails the test.
"""

from __future__ import annotations

import pytest
import requests

ROLES = ("intake", "shift_leader", "dispatcher", "handler", "patrol", "supervisor", "planner", "admin", "leader",
         "commander", "duty_officer")
ROLES += ("station_chief", "workstation", "evaluator")  # the tiers (issue 19)
ANY = frozenset(ROLES)
PUBLIC = "public"
MISSING = 999_999_999

REPORTERS = {"intake", "shift_leader", "dispatcher", "patrol", "supervisor", "admin", "workstation"}
PATROL_PLANNERS = {"shift_leader", "dispatcher", "supervisor", "admin"}
ROSTER_EDITORS = {"shift_leader", "admin", "commander"}
COMMANDERS = {"commander", "leader", "shift_leader", "admin"}
TABLE: dict[tuple[str, str], object] = {
    # pages
    ("GET", "consoles.dispatcher"): ANY, ("GET", "consoles.planner"): ANY, ("GET", "consoles.patrol"): ANY,
    ("GET", "consoles.reports"): ANY, ("GET", "consoles.supervision_page"): ANY, ("GET", "analysis.digest_page"): ANY,
    ("GET", "accounts.login"): PUBLIC, ("POST", "accounts.login"): PUBLIC, ("POST", "accounts.logout"): PUBLIC,
    ("GET", "ops.healthz"): PUBLIC, ("GET", "static"): PUBLIC, ("GET", "consoles.asset"): PUBLIC,
    ("GET", "ops.prometheus"): {"admin"},
    ("GET", "live.events"): ANY,  # each sees the events of the cases in its scope (test_live.py)
    # reading
    **{("GET", e): ANY for e in (
        "accounts.me", "territory.layer", "territory.locate", "territory.geocode", "territory.reverse",
        "cases.get_report",
        "cases.get_attachment", "cases.channels", "cases.categories", "cases.list_cases", "cases.get_case",
        "cases.cases_map", "territory.convert", "territory.basemap", "territory.versions", "analysis.grid_counts",
        "analysis.monthly", "cases.supervision_lists", "cases.list_orders", "cases.get_order",
        "cases.list_rules", "cases.list_settings", "analysis.kpi_table", "analysis.digest_json",
        "analysis.hotspot_cells", "analysis.emerging_cells", "analysis.alert_cells", "analysis.alert_modules",
        "field.route", "field.list_patrols", "field.patrol_geojson", "field.patrol_gpx",
        "exports.index", "exports.export", "apidoc.spec", "apidoc.docs",
        "ogc.items", "ogc.item", "ogc.tile",
    )},
    # OGC metadata is open (stock clients read it before they authenticate)
    **{("GET", e): PUBLIC for e in (
        "ogc.landing", "ogc.api", "ogc.conformance", "ogc.collections", "ogc.collection", "ogc.queryables",
        "ogc.tilesets", "ogc.tileset")},
    # leaders' outputs (tests/functional/test_bulletin.py)
    **{("GET", e): ANY for e in (
        "analysis.bulletins_page", "analysis.bulletins_json", "analysis.bulletin_pdf", "analysis.bulletin_html",
        "analysis.digest_pdf", "analysis.chronic_list", "analysis.chronic_map", "analysis.kpi_cases",
        "analysis.kpi_definitions", "analysis.topic_pack", "analysis.topic_pack_pdf", "analysis.quarterly_pack",
        "analysis.quarterly_pack_pdf")},
    ("POST", "analysis.bulletin_make"): {"admin", "leader", "shift_leader"},
    ("POST", "analysis.chronic_control"): {"admin", "leader", "shift_leader", "supervisor"},
    ("POST", "analysis.chronic_refresh"): {"admin", "leader", "shift_leader", "supervisor"},
    ("GET", "territory.drafts"): {"planner", "admin", "leader"},
    ("GET", "territory.draft"): {"planner", "admin", "leader"},
    ("GET", "territory.version_diff"): {"planner", "admin", "leader"},
    ("GET", "territory.planning_cells"): {"planner", "admin", "leader"},
    # writing
    ("POST", "cases.create_report"): REPORTERS,
    ("POST", "cases.split_report"): {"dispatcher", "shift_leader", "admin"},
    ("POST", "cases.case_action"): ANY,  # then the state machine's own role table (tests/unit/test_workflow_machine.py)
    ("POST", "cases.bulk_action"): ANY,  # the same role table, checked once per request (test_work_queue.py)
    ("POST", "cases.create_order"): {"supervisor", "leader", "shift_leader"},
    ("POST", "cases.order_action"): ANY,  # answer by owners, remind/close by supervisors (test_clock_and_scores)
    ("POST", "cases.create_rule"): {"admin", "shift_leader"},
    ("PUT", "cases.update_rule"): {"admin", "shift_leader"},
    ("PUT", "cases.update_setting"): {"admin"},
    ("PUT", "analysis.alert_module_update"): {"admin", "supervisor"},
    ("POST", "territory.coverage_preview"): {"planner", "admin"},
    ("POST", "territory.coverage_save"): {"planner", "admin"},
    ("POST", "territory.restore_version"): {"planner", "admin"},
    ("POST", "field.stop_visited"): {"patrol", "shift_leader", "dispatcher", "supervisor", "admin"},
    ("POST", "field.plan_patrol"): PATROL_PLANNERS, ("POST", "field.assign_patrol"): PATROL_PLANNERS,
    ("POST", "territory.sites"): {"planner", "admin"}, ("POST", "territory.territories"): {"planner", "admin"},
    ("PUT", "territory.draft_update"): {"planner", "admin"},
    ("POST", "territory.draft_create"): {"planner", "admin"},
    # connectors: cameras, sensors, the district link
    ("GET", "connectors.camera_layer"): ANY, ("GET", "connectors.camera"): ANY, ("GET", "connectors.sensor_list"): ANY,
    ("GET", "connectors.sensor_page"): ANY, ("POST", "connectors.district_order"): {"intake", "admin"},
    ("GET", "connectors.outbox_list"): {"admin"}, ("POST", "connectors.outbox_replay"): {"admin"},
    # the tiers: the station chief's queue, the workstation's page and filing, evaluators' reviews
    ("GET", "tiers.station_page"): {"station_chief"},
    ("GET", "tiers.station_queue"): {"station_chief"}, ("GET", "tiers.workstation_page"): {"workstation"},
    ("POST", "tiers.self_handled"): {"workstation"},
    ("GET", "tiers.workstation_cases"): {"workstation"}, ("POST", "tiers.add_review"): {"evaluator"},
    ("GET", "tiers.list_reviews"): ANY,
    **{("GET", e): {"admin", "shift_leader", "dispatcher", "supervisor", "leader", "station_chief"}
       for e in ("tiers.list_people", "tiers.export_people")},
    ("POST", "tiers.import_people"): {"admin"}, ("GET", "tiers.evaluator_page"): {"evaluator"},
    # the field app (app/field/app_views.py): the page, its manifest and service worker, its API and positions
    ("GET", "fieldapp.page"): ANY, ("GET", "fieldapp.manifest"): PUBLIC, ("GET", "fieldapp.service_worker"): PUBLIC,
    **{("GET", e): ANY for e in ("fieldapp.day", "fieldapp.case_photo", "fieldapp.case_evidence",
                                 "fieldapp.latest_positions", "fieldapp.track", "fieldapp.track_gpx")},
    ("POST", "fieldapp.field_action"): ANY,  # then the state machine's role table, as for cases.case_action
    ("POST", "fieldapp.post_positions"): {"patrol", "handler"},
    # duty roster and emergency command (app/command; scope checks inside: tests/functional/test_command.py)
    **{("GET", f"command.{e}"): ANY for e in (
        "duty_now", "duty_positions", "duty_roster", "duty_coverage", "duty_swaps", "duty_handovers", "roster_page",
        "incident_types", "list_incidents", "get_incident", "incident_summary", "incident_suggestions", "incident_log",
        "list_resources", "nearest_resources", "roll_calls", "inbox", "list_reports", "report_page", "report_pdf")},
    **{(m, f"command.{e}"): ROSTER_EDITORS for m, e in (
        ("POST", "duty_assign"), ("DELETE", "duty_unassign"), ("POST", "duty_plan"))},
    ("POST", "command.duty_swap_decide"): {"shift_leader", "admin", "commander", "leader"},
    **{("POST", f"command.{e}"): ANY for e in (
        "duty_swap_request", "duty_handover", "duty_handover_sign", "acknowledge")},
    **{("POST", f"command.{e}"): COMMANDERS for e in (
        "declare_incident", "incident_status", "incident_area", "incident_link", "incident_note", "dispatch_resource",
        "send_roll_call", "chase_instruction", "file_report")},
    ("POST", "command.add_resource"): {"commander", "admin"},
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
            if rule.endpoint == "analysis.kpi_table" and "fmt" in values:
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
        if rule in (PUBLIC, "open311") or endpoint == "accounts.logout":
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


def test_open311_reads_are_public_and_posts_need_an_api_key(app, live_server):
    for path in ("/open311/v2/discovery.json", "/open311/v2/services.json", "/open311/v2/requests.json"):
        assert requests.get(f"{live_server}{path}", timeout=30).status_code == 200
    before = app.config["OPEN311_PUBLIC_READ"]
    app.config["OPEN311_PUBLIC_READ"] = False
    try:
        assert requests.get(f"{live_server}/open311/v2/requests.json", timeout=30).status_code == 403
        assert requests.get(f"{live_server}/open311/v2/services.json", timeout=30).status_code == 200
    finally:
        app.config["OPEN311_PUBLIC_READ"] = before
    assert requests.post(f"{live_server}/open311/v2/requests.json", data={"service_code": "06010"},
                         timeout=30).status_code == 403
