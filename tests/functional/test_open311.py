"""Open311 GeoReport v2 with a client that knows only the published spec: form posts, XML and JSON."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sqlalchemy import func, select

from app.cases.models import Attachment, Report
from app.territory.models import Address

SERVICE = "06010"  # exposed garbage (暴露垃圾)
LISTS = {"services": "service", "service_requests": "request", "attributes": "attribute", "values": "value",
         "endpoints": "endpoint", "formats": "format", "errors": "error"}


def _plain(element: ET.Element):
    """XML to plain data the way the spec nests it (lists of <service>, <request>, <attribute>...)."""
    if element.tag in LISTS:
        return [_plain(child) for child in element]
    if len(element):
        return {child.tag: _plain(child) for child in element}
    return element.text or ""


class Open311Client:
    """What a third-party GeoReport v2 client does: no platform knowledge beyond the spec and a key."""

    def __init__(self, endpoint: str, api_key: str | None = None):
        self.endpoint, self.api_key = endpoint, api_key

    def _decode(self, answer: requests.Response, fmt: str):
        if fmt == "xml":
            assert answer.headers["Content-Type"].startswith("text/xml")
            return _plain(ET.fromstring(answer.content))
        assert answer.headers["Content-Type"].startswith("application/json")
        return answer.json()

    def get(self, path: str, fmt: str = "json", keyed: bool = True, **params):
        if keyed and self.api_key:
            params.setdefault("api_key", self.api_key)
        answer = requests.get(f"{self.endpoint}/{path}.{fmt}", params=params, timeout=30)
        return answer.status_code, self._decode(answer, fmt)

    def post(self, fields: dict, fmt: str = "json", attributes: dict | None = None):
        form = dict(fields)
        if self.api_key and "api_key" not in form:
            form["api_key"] = self.api_key
        for code, value in (attributes or {}).items():
            form[f"attribute[{code}]"] = value
        answer = requests.post(f"{self.endpoint}/requests.{fmt}", data=form, timeout=30)
        assert answer.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
        return answer.status_code, self._decode(answer, fmt)


@pytest.fixture(scope="module")
def key(make_user):
    return make_user("intake")


@pytest.fixture(scope="module")
def client(live_server, key):
    return Open311Client(f"{live_server}/open311/v2", key[2])


def here(point) -> dict:
    return {"lat": f"{point.y:.7f}", "long": f"{point.x:.7f}"}


def assert_error(status, body, expected: int):
    assert status == expected, body
    assert isinstance(body, list) and len(body) == 1, body
    assert int(body[0]["code"]) == expected and body[0]["description"]


@contextmanager
def configured(app, **values):
    before = {k: app.config[k] for k in values}
    app.config.update(values)
    try:
        yield
    finally:
        app.config.update(before)


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_discovery_services_and_definitions(client, fmt):
    status, found = client.get("discovery", fmt, keyed=False)  # discovery and services are public (the spec)
    assert status == 200
    endpoint = found["endpoints"][0]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == client.endpoint and set(endpoint["formats"]) == {"text/xml", "application/json"}
    status, services = client.get("services", fmt, keyed=False)
    assert status == 200
    by_code = {s["service_code"]: s for s in services}
    assert SERVICE in by_code and by_code[SERVICE]["service_name"] == "暴露垃圾"
    assert str(by_code[SERVICE]["metadata"]).lower() == "true" and by_code[SERVICE]["type"] == "realtime"
    status, definition = client.get(f"services/{SERVICE}", fmt)
    assert status == 200 and definition["service_code"] == SERVICE
    attributes = {a["code"]: a for a in definition["attributes"]}
    assert attributes["urgency"]["datatype"] == "singlevaluelist"
    assert {v["key"] for v in attributes["urgency"]["values"]} == {"normal", "urgent", "emergency"}
    assert_error(*client.get("services/99999", fmt), 404)
    assert_error(*client.get("services", fmt, jurisdiction_id="elsewhere.example"), 404)


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_post_then_read_the_request(client, spots, session, fmt):
    point = spots()
    status, answer = client.post({
        "service_code": SERVICE, **here(point), "description": "路边有一堆暴露垃圾", "first_name": "张",
        "last_name": "三", "phone": "13800000000", "media_url": "https://example.invalid/garbage.jpg",
    }, fmt, attributes={"urgency": "urgent", "reference": "EXT-42"})
    assert status == 201, answer
    request_id, token = answer[0]["service_request_id"], answer[0]["token"]
    status, found = client.get(f"requests/{request_id}", fmt)
    assert status == 200 and len(found) == 1
    got = found[0]
    assert got["service_request_id"] == request_id and got["service_code"] == SERVICE
    assert got["status"] == "open" and "已上报" in got["status_notes"]
    assert got["description"] == "路边有一堆暴露垃圾" and got["agency_responsible"]
    assert datetime.fromisoformat(got["expected_datetime"]) > datetime.fromisoformat(got["requested_datetime"])
    assert got["media_url"] == "https://example.invalid/garbage.jpg"
    assert abs(float(got["lat"]) - point.y) < 1e-6 and abs(float(got["long"]) - point.x) < 1e-6
    status, tokens = client.get(f"tokens/{token}", fmt)
    assert status == 200 and tokens == [{"service_request_id": request_id, "token": token}]
    stored = session.get(Report, int(token))
    assert (stored.channel, stored.urgency, stored.reference, stored.reporter_name, stored.case_id) == \
        ("app", "urgent", "EXT-42", "张 三", int(request_id))
    assert session.scalar(select(Attachment.url).where(Attachment.report_id == stored.id)) == \
        "https://example.invalid/garbage.jpg"


def test_post_by_address_and_merging_into_one_request(client, session):
    address = session.scalar(select(Address.address).where(Address.kind == "house").order_by(Address.id).offset(7))
    fields = {"service_code": "09006", "address_string": address, "description": "占道经营"}
    first = client.post(fields)
    second = client.post(fields)
    assert first[0] == second[0] == 201, (first, second)
    assert first[1][0]["service_request_id"] == second[1][0]["service_request_id"]  # one problem, one request
    assert first[1][0]["token"] != second[1][0]["token"]
    _, found = client.get(f"requests/{first[1][0]['service_request_id']}")
    assert found[0]["address"] == address
    for answer in (first, second):
        assert client.get(f"tokens/{answer[1][0]['token']}")[1][0]["service_request_id"] == \
            first[1][0]["service_request_id"]


def test_the_key_owners_channel_is_configurable(app, client, key, spots, session):
    with configured(app, OPEN311_CHANNELS={key[0]: "12345"}):
        status, answer = client.post({"service_code": SERVICE, **here(spots()), "description": "12345转来的工单"})
    assert status == 201
    assert session.get(Report, int(answer[0]["token"])).channel == "12345"


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_every_error(app, live_server, client, make_user, spots, session, fmt):
    anonymous = Open311Client(client.endpoint)
    wrong = Open311Client(client.endpoint, "nh_not-a-real-key")
    leader = Open311Client(client.endpoint, make_user("leader")[2])
    point = here(spots())
    ok = {"service_code": SERVICE, **point, "description": "垃圾"}
    assert_error(*anonymous.post(ok, fmt), 403)
    assert_error(*wrong.post(ok, fmt), 403)
    assert_error(*leader.post(ok, fmt), 403)
    assert_error(*client.post({**ok, "service_code": ""}, fmt), 400)
    assert_error(*client.post({**ok, "service_code": "99999"}, fmt), 404)
    assert_error(*client.post({"service_code": SERVICE, "description": "无位置"}, fmt), 400)
    assert_error(*client.post({**ok, "lat": "north"}, fmt), 400)
    assert_error(*client.post({**ok, "lat": "95"}, fmt), 400)
    assert_error(*client.post({**ok, "address_string": "火星基地一号", "lat": "", "long": ""}, fmt), 400)
    assert_error(*client.post(ok, fmt, attributes={"colour": "red"}), 400)
    assert_error(*client.post(ok, fmt, attributes={"urgency": "yesterday"}), 400)
    assert_error(*client.post({**ok, "media_url": "ftp://example.invalid/x"}, fmt), 400)
    assert_error(*client.post({**ok, "phone": "call me"}, fmt), 400)
    before = session.scalar(select(func.count()).select_from(Report))
    beijing = client.post({**ok, "lat": "39.9042", "long": "116.4074"}, fmt)
    assert_error(*beijing, 400)
    assert "outside jurisdiction" in beijing[1][0]["description"]
    as_json = requests.post(f"{client.endpoint}/requests.{fmt}", json={**ok, "api_key": client.api_key}, timeout=30)
    assert as_json.status_code == 400 and "form-encoded" in as_json.text
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Report)) == before  # nothing written
    with configured(app, OPEN311_PUBLIC_READ=False):
        assert_error(*anonymous.get("requests", fmt), 403)
        assert_error(*anonymous.get("tokens/1", fmt), 403)
    assert_error(*wrong.get("requests/1", fmt), 403)  # a key that is given must be right
    assert_error(*client.get("requests", fmt, page="0"), 400)
    assert_error(*client.get("requests", fmt, page_size="1001"), 400)
    assert_error(*client.get("requests/999999999", fmt), 404)
    assert_error(*client.get("requests/abc", fmt), 404)
    assert_error(*client.get("tokens/999999999", fmt), 404)
    assert_error(*client.get("requests", fmt, status="pending"), 400)
    assert_error(*client.get("requests", fmt, start_date="last week"), 400)
    assert_error(*client.get("requests", fmt, start_date="2026-02-01T00:00:00Z", end_date="2026-01-01T00:00:00Z"),
                 400)
    assert_error(*client.get("requests", fmt, service_request_id="1,x"), 400)
    csv = requests.get(f"{client.endpoint}/services.csv", timeout=30)
    assert csv.status_code == 404 and json.loads(csv.text)[0]["code"] == 404


def test_filters_status_dates_and_the_90_day_default(live_server, client, make_user, spots):
    intake = {"Authorization": f"Bearer {make_user('intake')[2]}"}
    old_point, new_point = spots(), spots()
    long_ago = (datetime.now(UTC) - timedelta(days=120)).isoformat()
    old = requests.post(f"{live_server}/api/v1/reports", headers=intake, timeout=30, json={
        "channel": "hotline", "category": SERVICE, "description": "四个月前的垃圾", "lon": old_point.x,
        "lat": old_point.y, "reported_at": long_ago}).json()["case_id"]
    _, posted = client.post({"service_code": SERVICE, **here(new_point), "description": "新的垃圾"})
    new = int(posted[0]["service_request_id"])
    ids = lambda found: {int(r["service_request_id"]) for r in found}  # noqa: E731
    _, recent = client.get("requests")
    assert new in ids(recent) and old not in ids(recent) and len(recent) <= 1000
    since = (datetime.now(UTC) - timedelta(days=200)).isoformat()
    _, wide = client.get("requests", start_date=since)
    assert {new, old} <= ids(wide)
    _, window = client.get("requests", start_date=since, end_date=(datetime.now(UTC) - timedelta(days=100)).isoformat())
    assert old in ids(window) and new not in ids(window)
    _, closed = client.get("requests", status="closed", start_date=since)
    assert new not in ids(closed) and all(r["status"] == "closed" for r in closed)
    _, open_ = client.get("requests", status="open", service_code=f"{SERVICE},01004")
    assert new in ids(open_) and {r["service_code"] for r in open_} <= {SERVICE, "01004"}
    _, other = client.get("requests", service_code="01004")
    assert new not in ids(other)
    _, both = client.get("requests", service_request_id=f"{new},{old}")
    assert ids(both) == {new, old}
    # The request is closed once voided, and says so.
    shift = {"Authorization": f"Bearer {make_user('shift_leader')[2]}"}
    case = requests.get(f"{live_server}/api/v1/cases/{new}", headers=shift, timeout=30).json()
    voided = requests.post(f"{live_server}/api/v1/cases/{new}/actions", headers=shift, timeout=30,
                           json={"action": "void", "version": case["version"], "reason": "重复上报"})
    assert voided.status_code == 200, voided.text
    _, after = client.get(f"requests/{new}")
    assert after[0]["status"] == "closed" and "作废" in after[0]["status_notes"]
    assert after[0]["expected_datetime"] is None


def test_a_handler_key_sees_only_its_department(client, make_user, spots):
    _, posted = client.post({"service_code": SERVICE, **here(spots()), "description": "未派遣的垃圾"})
    handler = Open311Client(client.endpoint, make_user("handler", department_code="LGJT")[2])
    assert_error(*handler.get(f"requests/{posted[0]['service_request_id']}"), 404)
    _, seen = handler.get("requests")
    assert posted[0]["service_request_id"] not in {r["service_request_id"] for r in seen}


def test_reading_is_public_by_default_with_the_specs_fields_only(app, client, spots):
    _, posted = client.post({"service_code": SERVICE, **here(spots()), "description": "公开的垃圾",
                             "first_name": "张", "last_name": "三", "phone": "13800138000"})
    anonymous = Open311Client(client.endpoint)
    status, found = anonymous.get(f"requests/{posted[0]['service_request_id']}")
    assert status == 200 and found[0]["service_request_id"] == posted[0]["service_request_id"]
    assert "13800138000" not in json.dumps(found, ensure_ascii=False) and "张" not in json.dumps(found)
    assert set(found[0]) <= SPEC_REQUEST_FIELDS
    with configured(app, OPEN311_PUBLIC_READ=False):
        assert_error(*anonymous.get(f"requests/{posted[0]['service_request_id']}"), 403)


SPEC_REQUEST_FIELDS = {"service_request_id", "status", "status_notes", "service_name", "service_code", "description",
                       "agency_responsible", "service_notice", "requested_datetime", "updated_datetime",
                       "expected_datetime", "address", "address_id", "zipcode", "lat", "long", "media_url"}


def test_pages_beyond_the_first_thousand(client, spots):
    posted = {client.post({"service_code": SERVICE, **here(spots()), "description": f"分页{i}"})[1][0]
              ["service_request_id"] for i in range(3)}
    _, first = client.get("requests", page_size="2")
    _, second = client.get("requests", page_size="2", page="2")
    assert len(first) == 2 and len(second) >= 1
    seen = [r["service_request_id"] for r in first + second]
    assert len(seen) == len(set(seen))  # no request on two pages
    assert posted <= set(seen) | {r["service_request_id"] for r in client.get("requests", page_size="5")[1]}


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_the_georeport_client_from_pypi_works_unpatched(client, spots, fmt):
    from georeport import GeoReport

    _, posted = client.post({"service_code": SERVICE, **here(spots()), "description": "客户端读取"})
    request_id = posted[0]["service_request_id"]
    georeport = GeoReport(client.endpoint, jurisdiction="310115145", output_format=fmt)
    services = georeport.get_service_list()
    services = services if isinstance(services, list) else [services]
    assert SERVICE in {s["service_code"] for s in services}
    definition = georeport.get_service_definition(SERVICE)
    assert definition["service_code"] == SERVICE
    listed = georeport.get_service_requests(service_code=SERVICE)
    listed = listed if isinstance(listed, list) else [listed]
    assert request_id in {r["service_request_id"] for r in listed}
    one = georeport.get_service_request(request_id)
    one = one[0] if isinstance(one, list) else one
    assert one["service_request_id"] == request_id and one["status"] == "open"


def test_hostile_text_stays_inert_in_xml_and_json(client, spots):
    hostile = 'x</description><status>closed</status><!-- & "quotes" \u202eRTL 🚧 \x01bell'
    _, posted = client.post({"service_code": SERVICE, **here(spots()), "description": hostile}, "xml")
    request_id = posted[0]["service_request_id"]
    _, as_xml = client.get(f"requests/{request_id}", "xml")
    assert as_xml[0]["status"] == "open"
    assert as_xml[0]["description"] == hostile.replace("\x01", "\ufffd")
    _, as_json = client.get(f"requests/{request_id}", "json")
    assert as_json[0]["description"] == hostile


def test_channel_setting_is_checked():
    from app.config import ConfigError, parse_channels

    assert parse_channels("ext:12345, city:third_party") == {"ext": "12345", "city": "third_party"}
    with pytest.raises(ConfigError, match="user:channel"):
        parse_channels("ext")
