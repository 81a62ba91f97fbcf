"""The OpenAPI document of /api/v1: well-formed, complete, browsable, and a bounded property-based run
(schemathesis) over every GET operation that finds no 500 and no response outside the schema, and over
every write operation (on a database of its own: the writes that succeed stay there) that finds no 500."""

from __future__ import annotations

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

EXAMPLES = 6  # per operation: keeps the whole run to seconds on two cores; derandomized, so repeatable


@pytest.fixture(scope="module")
def bearer(make_user):
    return {"Authorization": f"Bearer {make_user('admin')[2]}"}


@pytest.fixture(scope="module")
def document(live_server, bearer):
    assert requests.get(f"{live_server}/api/v1/openapi.json", timeout=30).status_code == 401
    answer = requests.get(f"{live_server}/api/v1/openapi.json", headers=bearer, timeout=30)
    assert answer.status_code == 200
    return answer.json()


def test_document_covers_every_api_route(app, document):
    assert document["openapi"].startswith("3.0") and document["servers"][0]["url"].endswith("/api/v1")
    rules = {r.rule for r in app.url_map.iter_rules() if r.rule.startswith("/api/v1/")}
    import re

    paths = {"/api/v1" + p for p in document["paths"]}
    assert {re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", r) for r in rules} <= paths
    described = [p for p, item in document["paths"].items() for op in item.values() if op.get("x-described", True)]
    assert {"/reports", "/cases", "/cases/{case_id}/actions", "/kpi", "/exports/{layer}.{fmt}"} <= set(described)
    ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))


def test_document_is_valid_openapi(document):
    """schemathesis refuses to load a document that is not valid OpenAPI 3.0."""
    schema = schemathesis.openapi.from_dict(document)
    assert len(list(schema.get_all_operations())) >= 25


def test_browsable_page_in_chinese_and_english(live_server, bearer):
    zh = requests.get(f"{live_server}/api/v1/docs", headers=bearer, timeout=30)
    assert zh.status_code == 200 and zh.headers["Content-Type"].startswith("text/html")
    assert "接口说明" in zh.text and "POST /reports" in zh.text and "<script" not in zh.text
    en = requests.get(f"{live_server}/api/v1/docs", params={"lang": "en"}, headers=bearer, timeout=30)
    assert "API reference" in en.text
    ogc = requests.get(f"{live_server}/ogc/api", params={"f": "html"}, headers=bearer, timeout=30)
    assert ogc.status_code == 200 and "/collections/grid_cells/items" in ogc.text


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _run(operation, mode: GenerationMode, headers: dict, checks: list = CHECKS) -> list[str]:
    """Up to EXAMPLES generated requests against one operation; the failures as text."""
    failures: list[str] = []

    @given(case=operation.as_strategy(generation_mode=mode, headers=headers))
    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    def run(case):
        try:
            case.call_and_validate(headers=headers, timeout=120, checks=checks)
        except Exception as exc:  # noqa: BLE001 - every failure is collected and reported together
            failures.append(f"{mode} {operation.label}: {str(exc)[:800]}")

    try:
        run()
    except Unsatisfiable:  # negative mode: no parameters, or only free strings, leave nothing to get wrong
        assert mode == GenerationMode.NEGATIVE, operation.label
    return failures


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_get_operations_hold_to_the_schema(live_server, bearer, mode):
    """Generated requests (valid ones, then invalid ones) to every GET operation: no 500, nothing off-schema."""
    schema = schemathesis.openapi.from_url(f"{live_server}/api/v1/openapi.json", headers=bearer).include(method="GET")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    failures = [f for operation in operations for f in _run(operation, mode, bearer)]
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_write_operations_never_answer_500(own_app, own_live_server, mode):
    """Generated bodies and parameters (valid, then invalid) to every POST and PUT: a 2xx or a 4xx, never a 5xx."""
    from tests import factories

    admin = factories.bearer(factories.user(own_app, "admin")[2])
    schema = schemathesis.openapi.from_url(f"{own_live_server}/api/v1/openapi.json", headers=admin)
    operations = [r.ok() for r in schema.get_all_operations() if r.ok().method.upper() in ("POST", "PUT")]
    assert len(operations) >= 15
    failures = [f for operation in operations for f in _run(operation, mode, admin, [not_a_server_error])]
    assert not failures, "\n\n".join(failures)


def test_ids_beyond_bigint_are_not_found_not_a_crash(live_server, bearer):
    """What the property-based run found first: /attachments/<a 30-digit id> was a 500 (bigint out of range)."""
    huge = "9" * 30
    for path in (f"/attachments/{huge}", f"/reports/{huge}", f"/cases/{huge}", f"/supervision/{huge}"):
        answer = requests.get(f"{live_server}/api/v1{path}", headers=bearer, timeout=30)
        assert answer.status_code == 404 and answer.json()["error"] == "not_found", (path, answer.text)
    answer = requests.get(f"{live_server}/api/v1/supervision", params={"case": huge}, headers=bearer, timeout=30)
    assert answer.status_code == 400, answer.text
