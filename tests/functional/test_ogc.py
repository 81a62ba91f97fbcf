"""OGC API - Features over real HTTP, with GDAL's OAPIF driver as the client."""

from __future__ import annotations

import json
import os
import re
import subprocess
from contextlib import contextmanager
from datetime import datetime

import pytest
import requests
from sqlalchemy import func, select

from app.cases.worktime import BEIJING
from app.field.patrols import MAX_SNAP_M
from app.territory.models import GridCell, StationCoverage
from tests import factories

CATEGORY = "01004"  # dispatched to the Lingang Group (LGJT) by the category rule
COLLECTIONS = ("grid_cells", "communities", "workstations", "town", "stations", "station_coverage", "roads",
               "addresses", "cases", "hotspots", "patrol_routes")


@pytest.fixture(scope="module")
def bearer(make_user):
    return {"Authorization": f"Bearer {make_user('dispatcher')[2]}"}


@contextmanager
def public(app, *names):
    """Make collections public for the duration of a block (the live server runs in-process)."""
    before = app.config["PUBLIC_COLLECTIONS"]
    app.config["PUBLIC_COLLECTIONS"] = frozenset(names)
    try:
        yield
    finally:
        app.config["PUBLIC_COLLECTIONS"] = before


def gdal(*args: str, token: str | None = None, basic: tuple[str, str] | None = None,
         check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, CPL_DEBUG="OFF", GDAL_HTTP_TIMEOUT="60")
    if token:
        env["GDAL_HTTP_HEADERS"] = f"Authorization: Bearer {token}"
    if basic:  # what a GDAL user types: no header of their own, the user name and a token as the password
        env["GDAL_HTTP_USERPWD"] = f"{basic[0]}:{basic[1]}"
        env["GDAL_HTTP_AUTH"] = "BASIC"
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
    if check:
        assert done.returncode == 0, done.stderr + done.stdout
    return done


def report(live_server, make_user, point, description="人行道上有一处破损井盖") -> int:
    answer = requests.post(f"{live_server}/api/v1/reports", timeout=30, json={
        "channel": "hotline", "category": CATEGORY, "description": description, "lon": point.x, "lat": point.y,
    }, headers={"Authorization": f"Bearer {make_user('intake')[2]}"})
    assert answer.status_code == 201, answer.text
    return answer.json()["case_id"]


def test_landing_conformance_and_api_definition(live_server, bearer):
    landing = requests.get(f"{live_server}/ogc", headers=bearer, timeout=30)
    assert landing.status_code == 200 and landing.headers["Content-Type"].startswith("application/json")
    rels = {link["rel"]: link for link in landing.json()["links"]}
    assert {"self", "alternate", "service-desc", "service-doc", "conformance", "data"} <= set(rels)
    assert rels["service-desc"]["type"].startswith("application/vnd.oai.openapi+json")
    conformance = requests.get(rels["conformance"]["href"], headers=bearer, timeout=30).json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in conformance
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson" in conformance
    document = requests.get(rels["service-desc"]["href"], headers=bearer, timeout=30).json()
    assert document["openapi"].startswith("3.0")
    limit = next(p for p in document["paths"]["/collections/grid_cells/items"]["get"]["parameters"]
                 if p["name"] == "limit")
    assert limit["schema"]["maximum"] == 10_000
    assert "/collections/cases/items/{featureId}" in document["paths"]


def test_metadata_is_open_and_features_need_a_user_unless_public(app, live_server, bearer):
    for path in ("/ogc", "/ogc/conformance", "/ogc/api", "/ogc/collections", "/ogc/collections/grid_cells",
                 "/ogc/collections/grid_cells/queryables"):
        assert requests.get(f"{live_server}{path}", timeout=30).status_code == 200, path
    listed = requests.get(f"{live_server}/ogc/collections", timeout=30).json()["collections"]
    assert [c["id"] for c in listed] == list(COLLECTIONS)  # every description, whoever asks
    refused = requests.get(f"{live_server}/ogc/collections/grid_cells/items?limit=1", timeout=30)
    assert refused.status_code == 401 and refused.json()["code"] == "Unauthorized"
    challenges = refused.headers["WWW-Authenticate"]
    assert challenges.startswith("Bearer") and 'Basic realm="nanhui"' in challenges
    with public(app, "grid_cells", "communities"):
        assert requests.get(f"{live_server}/ogc/collections/grid_cells/items?limit=1", timeout=30).status_code == 200
        assert requests.get(f"{live_server}/ogc/collections/stations/items", timeout=30).status_code == 401
    signed_in = requests.get(f"{live_server}/ogc/collections", headers=bearer, timeout=30).json()["collections"]
    assert [c["id"] for c in signed_in] == list(COLLECTIONS)
    grid = signed_in[0]
    assert grid["itemType"] == "feature" and len(grid["extent"]["spatial"]["bbox"][0]) == 4
    assert {link["rel"] for link in grid["links"]} >= {"items", "self"}


def test_a_collection_is_the_collection_object(live_server):
    body = requests.get(f"{live_server}/ogc/collections/communities", timeout=30).json()
    assert body["id"] == "communities" and "collections" not in body
    rels = {link["rel"] for link in body["links"]}
    assert {"items", "self", "http://www.opengis.net/def/rel/ogc/1.0/queryables"} <= rels


def test_every_ogc_refusal_is_an_ogc_exception(live_server, bearer):
    for path, accept in (("/ogc/nothing/here", "text/html"), ("/ogc/collections/parcels", "application/json"),
                         ("/ogc/collections/grid_cells/coverage", "text/html")):
        answer = requests.get(f"{live_server}{path}", headers={"Accept": accept}, timeout=30)
        assert answer.status_code == 404 and answer.json()["code"] == "NotFound", (path, answer.text[:200])
    too_big = requests.get(f"{live_server}/ogc/collections/town/items?version=2147483648", headers=bearer, timeout=30)
    assert too_big.status_code == 400 and "version" in too_big.json()["description"]
    posted = requests.post(f"{live_server}/ogc/collections", headers=bearer, timeout=30)
    assert posted.status_code == 405 and posted.json()["code"] == "MethodNotAllowed"
    assert set(posted.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "HEAD"}


def test_http_basic_with_a_token_reads_and_only_reads(live_server, make_user):
    name, _, token = make_user("planner")
    url = f"{live_server}/ogc/collections/grid_cells/items?limit=2"
    assert requests.get(url, auth=(name, token), timeout=30).status_code == 200
    assert requests.get(f"{live_server}/api/v1/cases?limit=1", auth=(name, token), timeout=30).status_code == 200
    assert requests.get(url, auth=("someone_else", token), timeout=30).status_code == 401  # the name must match
    assert requests.get(url, auth=(name, "not-a-token"), timeout=30).status_code == 401
    garbled = requests.get(url, headers={"Authorization": "Basic %%%"}, timeout=30)
    assert garbled.status_code == 401 and "base64" in garbled.json()["description"]
    write = requests.post(f"{live_server}/api/v1/reports", auth=(name, token), timeout=30, json={
        "channel": "hotline", "category": "01004", "description": "x", "lon": 121.93, "lat": 30.9})
    assert write.status_code == 401 and "Bearer" in write.json()["message"]


def test_property_filters_sortby_properties_and_skip_geometry(live_server, bearer, session):
    community = session.scalar(select(GridCell.community_code).where(GridCell.version_high.is_(None)).limit(1))
    expected = session.scalar(select(func.count()).select_from(GridCell).where(
        GridCell.version_high.is_(None), GridCell.community_code == community))
    base = f"{live_server}/ogc/collections/grid_cells/items"
    page = requests.get(f"{base}?community_code={community}&limit=10000&sortby=-area_m2&properties=code,area_m2"
                        "&skipGeometry=true", headers=bearer, timeout=60).json()
    assert page["numberMatched"] == expected == len(page["features"]) > 0
    areas = [f["properties"]["area_m2"] for f in page["features"]]
    assert areas == sorted(areas, reverse=True)
    assert all(set(f["properties"]) == {"code", "area_m2"} and f["geometry"] is None for f in page["features"])
    for bad, name in (("sortby=colour", "sortby"), ("skipGeometry=yes", "skipGeometry"), ("area_m2=big", "area_m2"),
                      ("parcel=1", "parcel")):
        refused = requests.get(f"{base}?{bad}", headers=bearer, timeout=30)
        assert refused.status_code == 400 and name in refused.json()["description"], bad
    queryables = requests.get(f"{live_server}/ogc/collections/grid_cells/queryables", timeout=30).json()
    assert queryables["properties"]["community_code"] == {"type": "string"}
    assert queryables["properties"]["area_m2"] == {"type": "number"}
    red = requests.get(f"{live_server}/ogc/collections/cases/items?state=reported&limit=5", headers=bearer,
                       timeout=30).json()
    assert all(f["properties"]["state"] == "reported" for f in red["features"])


def test_public_collections_setting_is_checked():
    from app.config import ConfigError, parse_public

    assert parse_public("grid_cells, communities") == {"grid_cells", "communities"}
    assert parse_public("") == frozenset()
    with pytest.raises(ConfigError, match="unknown collections"):
        parse_public("grid_cells,parcels")
    with pytest.raises(ConfigError, match="cases"):
        parse_public("cases")


def test_items_paging_bbox_and_limits(live_server, bearer, session):
    url = f"{live_server}/ogc/collections/grid_cells/items"
    total = session.scalar(select(func.count()).select_from(GridCell).where(GridCell.version_high.is_(None)))
    first = requests.get(url, params={"limit": 1000}, headers=bearer, timeout=60)
    assert first.headers["Content-Type"].startswith("application/geo+json")
    body = first.json()
    assert body["numberMatched"] == total and body["numberReturned"] == 1000 == len(body["features"])
    nxt = next(link["href"] for link in body["links"] if link["rel"] == "next")
    second = requests.get(nxt, headers=bearer, timeout=60).json()
    assert second["numberReturned"] == 1000
    assert not {f["id"] for f in body["features"]} & {f["id"] for f in second["features"]}
    everything = requests.get(url, params={"limit": 10_000}, headers=bearer, timeout=120).json()
    assert everything["numberReturned"] == total and not [lk for lk in everything["links"] if lk["rel"] == "next"]
    cell = body["features"][0]
    lon, lat = cell["geometry"]["coordinates"][0][0]
    box = f"{lon - 0.0005},{lat - 0.0005},{lon + 0.0005},{lat + 0.0005}"
    near = requests.get(url, params={"bbox": box}, headers=bearer, timeout=30).json()
    assert cell["id"] in {f["id"] for f in near["features"]} and near["numberMatched"] < 20
    one = requests.get(f"{url}/{cell['id']}", headers=bearer, timeout=30)
    assert one.status_code == 200 and one.json()["properties"]["code"] == cell["id"]
    for bad in ({"limit": "0"}, {"limit": "ten"}, {"bbox": "1,2,3"}, {"bbox": "121,31,122,30"},
                {"datetime": "yesterday"}, {"colour": "red"}, {"f": "xml"}, {"version": "1"}):
        col = "stations" if "version" in bad else "grid_cells"
        answer = requests.get(f"{live_server}/ogc/collections/{col}/items", params=bad, headers=bearer, timeout=30)
        assert answer.status_code == 400, (bad, answer.text)
        assert answer.json()["code"] == "InvalidParameterValue"
    assert requests.get(f"{url}/999999999999999", headers=bearer, timeout=30).status_code == 404
    assert requests.get(f"{live_server}/ogc/collections/parcels/items", headers=bearer, timeout=30).status_code == 404


def test_station_coverage_of_any_version(live_server, bearer, session):
    versions = session.scalars(select(StationCoverage.version_id).distinct().order_by(StationCoverage.version_id)).all()
    url = f"{live_server}/ogc/collections/station_coverage/items"
    current = requests.get(url, headers=bearer, timeout=30).json()
    assert current["numberMatched"] > 0
    for version in versions:
        expected = session.scalar(select(func.count()).select_from(StationCoverage)
                                  .where(StationCoverage.version_id == version))
        got = requests.get(url, params={"version": version}, headers=bearer, timeout=30).json()
        assert got["numberMatched"] == expected
        assert {f["properties"]["version"] for f in got["features"]} == {version}
    assert requests.get(url, params={"version": 999999}, headers=bearer, timeout=30).json()["numberMatched"] == 0


def test_cases_datetime_and_scope(live_server, make_user, spots, bearer):
    mine = report(live_server, make_user, spots())
    other = report(live_server, make_user, spots())
    url = f"{live_server}/ogc/collections/cases/items"
    found = requests.get(f"{url}/{mine}", headers=bearer, timeout=30).json()
    reported = found["properties"]["first_reported_at"]
    instant = requests.get(url, params={"datetime": reported}, headers=bearer, timeout=30).json()
    assert mine in {f["id"] for f in instant["features"]}
    before = requests.get(url, params={"datetime": f"../{reported[:4]}-01-01T00:00:00Z"}, headers=bearer,
                          timeout=30).json()
    assert mine not in {f["id"] for f in before["features"]}
    after = requests.get(url, params={"datetime": f"{reported}/..", "limit": 10_000}, headers=bearer, timeout=30)
    assert mine in {f["id"] for f in after.json()["features"]}
    # A department handler sees only cases dispatched to the department.
    dispatcher, intake = bearer, {"Authorization": f"Bearer {make_user('intake')[2]}"}
    case = requests.get(f"{live_server}/api/v1/cases/{mine}", headers=dispatcher, timeout=30).json()
    for who, action in ((intake, "verify"), (dispatcher, "file"), (dispatcher, "dispatch")):
        answer = requests.post(f"{live_server}/api/v1/cases/{mine}/actions", headers=who, timeout=30,
                               json={"action": action, "version": case["version"]})
        assert answer.status_code == 200, answer.text
        case = answer.json()
    handler = {"Authorization": f"Bearer {make_user('handler', department_code='LGJT')[2]}"}
    seen = requests.get(url, params={"limit": 10_000}, headers=handler, timeout=60).json()
    assert mine in {f["id"] for f in seen["features"]} and other not in {f["id"] for f in seen["features"]}
    assert {f["properties"]["owner"] for f in seen["features"]} == {"department:LGJT"}
    assert requests.get(f"{url}/{other}", headers=handler, timeout=30).status_code == 404
    patrol = {"Authorization": f"Bearer {make_user('patrol', station_code='JS-001')[2]}"}
    stations = {f["properties"]["station"] for f in
                requests.get(url, params={"limit": 10_000}, headers=patrol, timeout=60).json()["features"]}
    assert stations <= {"JS-001"}


def test_hotspots_count_cases_per_cell(live_server, make_user, spots, bearer):
    cell = None
    while cell is None:  # some of the town (reclaimed land) has no grid cells yet
        case = report(live_server, make_user, spots())
        cell = requests.get(f"{live_server}/api/v1/cases/{case}", headers=bearer, timeout=30).json()["grid_code"]
    url = f"{live_server}/ogc/collections/hotspots/items"
    got = requests.get(f"{url}/{cell}", headers=bearer, timeout=30).json()
    assert got["properties"]["cases"] >= 1
    gi = requests.get(f"{live_server}/api/v1/hotspots", params={"all": "1", "permutations": 0}, headers=bearer,
                      timeout=60).json()
    z = {f["properties"]["grid_code"] if "grid_code" in f["properties"] else f["id"]: f["properties"]["z"]
         for f in gi["features"]}
    assert got["properties"]["class"] in {"hot_99", "hot_95", "hot_90", "cold_99", "cold_95", "cold_90", "none"}
    assert abs(got["properties"]["z"] - z[cell]) < 1e-3  # the same Gi* as the API
    page = requests.get(url, params={"limit": 10_000}, headers=bearer, timeout=60).json()
    counts = [f["properties"]["cases"] for f in page["features"]]
    assert counts == sorted(counts, reverse=True) and cell in {f["id"] for f in page["features"]}
    old = requests.get(url, params={"datetime": "2001-01-01/2001-12-31"}, headers=bearer, timeout=30).json()
    assert old["numberMatched"] == 0


def test_html_pages_in_chinese_and_english_escape_text(live_server, make_user, spots, bearer):
    hostile = '<script>alert("x")</script> \u202eevil 🚧 & <b>bold</b>'
    case = report(live_server, make_user, spots(), description=hostile)
    zh = requests.get(f"{live_server}/ogc/collections", params={"f": "html"}, headers=bearer, timeout=30)
    assert zh.headers["Content-Type"].startswith("text/html") and "单元网格" in zh.text
    en = requests.get(f"{live_server}/ogc/collections", params={"f": "html", "lang": "en"}, headers=bearer,
                      timeout=30)
    assert "Unit grid cells" in en.text
    page = requests.get(f"{live_server}/ogc/collections/cases/items/{case}", headers={**bearer, "Accept": "text/html"},
                        timeout=30)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "<script>alert" not in page.text and "&lt;script&gt;alert(" in page.text and "🚧" in page.text
    as_json = requests.get(f"{live_server}/ogc/collections/cases/items/{case}", headers=bearer, timeout=30).json()
    assert as_json["properties"]["description"] == hostile
    login = requests.get(f"{live_server}/ogc/collections/cases/items", headers={"Accept": "text/html"},
                         allow_redirects=False, timeout=30)
    assert login.status_code == 302 and "/login" in login.headers["Location"]


def test_gdal_with_basic_auth_lists_and_reads_anonymous_gdal_only_lists(live_server, make_user):
    name, _, token = make_user("dispatcher")
    listing = gdal("ogrinfo", "-ro", "-q", f"OAPIF:{live_server}/ogc", basic=(name, token)).stdout
    for collection in COLLECTIONS:
        assert collection in listing, listing
    read = gdal("ogrinfo", "-ro", "-so", f"OAPIF:{live_server}/ogc", "communities", basic=(name, token)).stdout
    count = re.search(r"Feature Count: (\d+)", read)
    assert count and int(count.group(1)) > 0, read
    anonymous = gdal("ogrinfo", "-ro", "-q", f"OAPIF:{live_server}/ogc", check=False).stdout
    assert "grid_cells" in anonymous  # the metadata is open
    refused = gdal("ogrinfo", "-ro", "-so", f"OAPIF:{live_server}/ogc", "communities", check=False)
    assert count.group(0) not in refused.stdout and "401" in refused.stderr, refused.stdout + refused.stderr


@pytest.mark.parametrize("name", [c for c in COLLECTIONS if c != "grid_cells"])
def test_gdal_reads_each_collection(live_server, make_user, name, bearer):
    token = make_user("dispatcher")[2]
    expected = requests.get(f"{live_server}/ogc/collections/{name}/items", params={"limit": 1}, headers=bearer,
                            timeout=60).json()["numberMatched"]
    summary = gdal("ogrinfo", "-ro", "-so", "-al", f"OAPIF:{live_server}/ogc", name, token=token).stdout
    assert f"Feature Count: {expected}" in summary, summary


def test_gdal_copies_every_grid_cell_into_a_geopackage(app, live_server, session, tmp_path):
    out = tmp_path / "cells.gpkg"
    with public(app, "grid_cells"):
        gdal("ogr2ogr", "-f", "GPKG", str(out), f"OAPIF:{live_server}/ogc", "grid_cells")
    import pyogrio

    copied = pyogrio.read_dataframe(out)
    codes = session.scalars(select(GridCell.code).where(GridCell.version_high.is_(None))).all()
    assert len(copied) == len(codes)
    assert sorted(copied["code"]) == sorted(codes)
    assert copied.crs.to_epsg() == 4326
    assert json.loads(copied.iloc[:1].to_json())["features"][0]["geometry"]["type"] in ("Polygon", "MultiPolygon")


def test_stored_patrol_routes_are_a_collection(app, live_server, make_user, spots, bearer):
    from datetime import date

    # an open case of the station near a road, reported the day before, gives the route a stop (on a day no
    # other test uses)
    factories.report(app, spots("JS-001", road_m=MAX_SNAP_M), at=datetime(2025, 9, 8, 10, 0, tzinfo=BEIJING))
    dispatcher = {"Authorization": f"Bearer {make_user('dispatcher')[2]}"}
    planned = requests.post(f"{live_server}/api/v1/patrols/plan", headers=dispatcher, timeout=120, json={
        "station": "JS-001", "date": "2025-09-09", "shift_hours": 2, "speed_kph": 15, "time_limit_s": 2})
    assert planned.status_code == 201, planned.text
    route_id = planned.json()["id"]
    items = requests.get(f"{live_server}/ogc/collections/patrol_routes/items",
                         params={"datetime": "2025-09-09T00:00:00Z/2025-09-09T23:59:59Z"}, headers=bearer,
                         timeout=30).json()
    found = {f["id"]: f for f in items["features"]}
    assert str(route_id) in found and found[str(route_id)]["properties"]["station_code"] == "JS-001"
    assert items["numberMatched"] >= 1
    assert planned.json()["stops"]
    assert found[str(route_id)]["geometry"]["type"] == "LineString"
    one = requests.get(f"{live_server}/ogc/collections/patrol_routes/items/{route_id}", headers=bearer, timeout=30)
    assert one.status_code == 200 and one.json()["properties"]["day"] == date(2025, 9, 9).isoformat()
    missing = requests.get(f"{live_server}/ogc/collections/patrol_routes/items/abc", headers=bearer, timeout=30)
    assert missing.status_code == 404


def test_owslib_pages_through_a_collection_with_basic_auth(live_server, make_user, session):
    from owslib.ogcapi.features import Features
    from owslib.util import Authentication

    name, _, token = make_user("dispatcher")
    service = Features(f"{live_server}/ogc", auth=Authentication(username=name, password=token))
    assert "grid_cells" in {c["id"] for c in service.collections()["collections"]}
    assert service.collection("grid_cells")["id"] == "grid_cells"
    codes, offset = [], 0
    while True:
        page = service.collection_items("grid_cells", limit=250, offset=offset)
        codes += [f["properties"]["code"] for f in page["features"]]
        if not any(link["rel"] == "next" for link in page["links"]):
            break
        offset += page["numberReturned"]
    current = session.scalars(select(GridCell.code).where(GridCell.version_high.is_(None))).all()
    assert sorted(codes) == sorted(current) and offset > 0  # more than one page, none lost or repeated
    assert service.collection_queryables("grid_cells")["properties"]["community_code"]["type"] == "string"


def test_features_in_cgcs2000_and_the_metric_crs_part_2(live_server, bearer):
    from pyproj import Transformer

    base = f"{live_server}/ogc/collections/stations/items"
    plain = requests.get(f"{base}?limit=5", headers=bearer, timeout=30)
    assert plain.headers["Content-Crs"] == "<http://www.opengis.net/def/crs/OGC/1.3/CRS84>"
    lonlat = {f["id"]: f["geometry"]["coordinates"] for f in plain.json()["features"]}
    for code, order in (("4490", "lat, lon"), ("4326", "lat, lon"), ("4550", "northing, easting")):
        uri = f"http://www.opengis.net/def/crs/EPSG/0/{code}"
        answer = requests.get(f"{base}?limit=5&crs={uri}", headers=bearer, timeout=30)
        assert answer.status_code == 200 and answer.headers["Content-Crs"] == f"<{uri}>"
        to = Transformer.from_crs("OGC:CRS84", f"EPSG:{code}", always_xy=False)
        for f in answer.json()["features"]:
            expected = to.transform(*lonlat[f["id"]])
            assert f["geometry"]["coordinates"] == pytest.approx(list(expected), abs=1e-3), (code, order)
    described = requests.get(f"{live_server}/ogc/collections/stations", timeout=30).json()
    assert "http://www.opengis.net/def/crs/EPSG/0/4490" in described["crs"]
    assert requests.get(f"{base}?crs=EPSG:4490", headers=bearer, timeout=30).status_code == 400


def test_a_bbox_in_another_crs_selects_the_same_features(live_server, bearer):
    from pyproj import Transformer

    base = f"{live_server}/ogc/collections/grid_cells/items?limit=10000&skipGeometry=true&properties=code"
    box = (121.90, 30.88, 121.92, 30.90)
    in_crs84 = requests.get(f"{base}&bbox={','.join(map(str, box))}", headers=bearer, timeout=60).json()
    lat_lon = f"{box[1]},{box[0]},{box[3]},{box[2]}"
    in_4490 = requests.get(f"{base}&bbox={lat_lon}&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/4490",
                           headers=bearer, timeout=60).json()
    assert in_crs84["numberMatched"] > 0
    assert {f["id"] for f in in_4490["features"]} == {f["id"] for f in in_crs84["features"]}
    to = Transformer.from_crs("OGC:CRS84", "EPSG:4550", always_xy=False)
    n0, e0 = to.transform(121.905, 30.885)
    metric = f"{n0 - 200},{e0 - 200},{n0 + 200},{e0 + 200}"
    small = requests.get(f"{base}&bbox={metric}&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/4550",
                         headers=bearer, timeout=60).json()
    assert 0 < small["numberMatched"] < in_crs84["numberMatched"]
    assert {f["id"] for f in small["features"]} <= {f["id"] for f in in_crs84["features"]}
    refused = requests.get(f"{base}&bbox=3,2,1,0&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/4550",
                           headers=bearer, timeout=30)
    assert refused.status_code == 400 and "bbox" in refused.json()["description"]


CQL_CASES = {  # filter -> the same selection written as a SQL condition over grid_cells
    "community_code = '{c}' AND area_m2 > 5000": "community_code = '{c}' AND area_m2 > 5000",
    "community_code IN ('{c}', 'none') AND NOT (area_m2 < 100)": "community_code IN ('{c}') AND NOT area_m2 < 100",
    "area_m2 BETWEEN 4000 AND 9000": "area_m2 BETWEEN 4000 AND 9000",
    "code LIKE '{p}%'": "code LIKE '{p}%'",
    "workstation_code IS NULL": "workstation_code IS NULL",
    "S_INTERSECTS(geometry, POLYGON((121.90 30.88, 121.92 30.88, 121.92 30.90, 121.90 30.90, 121.90 30.88)))":
        "ST_Intersects(geom, ST_GeomFromText('POLYGON((121.90 30.88, 121.92 30.88, 121.92 30.90, 121.90 30.90, "
        "121.90 30.88))', 4326))",
    "S_WITHIN(geometry, POLYGON((121.90 30.88, 121.92 30.88, 121.92 30.90, 121.90 30.90, 121.90 30.88))) "
    "OR lower(code) = 'x'":
        "ST_Within(geom, ST_GeomFromText('POLYGON((121.90 30.88, 121.92 30.88, 121.92 30.90, 121.90 30.90, "
        "121.90 30.88))', 4326))",
}


@pytest.mark.parametrize("cql", list(CQL_CASES))
def test_cql2_filters_select_what_sql_selects(live_server, bearer, session, cql):
    from sqlalchemy import text

    c, p = session.execute(text("SELECT community_code, left(code, 12) FROM grid_cells WHERE version_high IS NULL "
                                "ORDER BY code LIMIT 1")).one()
    expected = set(session.scalars(text(f"SELECT code FROM grid_cells WHERE version_high IS NULL AND "
                                        f"({CQL_CASES[cql].format(c=c, p=p)})")))
    answer = requests.get(f"{live_server}/ogc/collections/grid_cells/items", headers=bearer, timeout=60,
                          params={"filter": cql.format(c=c, p=p), "limit": 10000, "skipGeometry": "true"})
    assert answer.status_code == 200, answer.text
    assert {f["id"] for f in answer.json()["features"]} == expected and answer.json()["numberMatched"] == len(expected)


def test_cql2_json_and_refusals_that_name_the_problem(live_server, bearer, session):
    base = f"{live_server}/ogc/collections/grid_cells/items"
    as_json = {"op": "and", "args": [{"op": ">", "args": [{"property": "area_m2"}, 5000]},
                                     {"op": "s_intersects", "args": [{"property": "geometry"}, {
                                         "type": "Polygon", "coordinates": [[[121.90, 30.88], [121.92, 30.88],
                                                                             [121.92, 30.90], [121.90, 30.88]]]}]}]}
    found = requests.get(base, headers=bearer, timeout=60, params={
        "filter": json.dumps(as_json), "filter-lang": "cql2-json", "limit": 10000}).json()
    assert found["numberMatched"] > 0 and all(f["properties"]["area_m2"] > 5000 for f in found["features"])
    before = session.scalar(select(func.count()).select_from(GridCell))
    for cql, says in (("code = 'x'; DROP TABLE grid_cells", "line 1, column 11"),
                      ("colour = 'red'", "'colour' is not a queryable"), ("area_m2 = 'big'", "area_m2 is number"),
                      ("upper(code) = 'X'", "function 'upper'"), ("code LIKE", "not valid CQL2"),
                      ("S_INTERSECTS(geometry, POINT(500 30))", "lon/lat"),
                      (json.dumps({"op": "t_intersects", "args": [{"property": "code"},
                                                                  {"interval": ["2026-01-01", "2026-02-01"]}]}),
                       "date-time property (none here)"),
                      (json.dumps({"op": "s_dwithin", "args": [{"property": "geometry"},
                                                              {"type": "Point", "coordinates": [121.9, 30.9]}, 100]}),
                       "not valid cql2-json")):
        lang = "cql2-json" if cql.startswith("{") else "cql2-text"
        refused = requests.get(base, headers=bearer, timeout=30, params={"filter": cql, "filter-lang": lang})
        assert refused.status_code == 400 and says in refused.json()["description"], (cql, refused.text)
    wrong_lang = requests.get(base, headers=bearer, timeout=30, params={"filter": "code = 'x'", "filter-lang": "sql"})
    assert wrong_lang.status_code == 400 and "filter-lang" in wrong_lang.json()["description"]
    hotspots = requests.get(f"{live_server}/ogc/collections/hotspots/items", headers=bearer, timeout=30,
                            params={"filter": "cases > 3"})
    assert hotspots.status_code == 400 and "property filters" in hotspots.json()["description"]
    assert session.scalar(select(func.count()).select_from(GridCell)) == before
    conformance = requests.get(f"{live_server}/ogc/conformance", timeout=30).json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter" in conformance


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    import math

    n = 2**z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return x, y


@pytest.mark.parametrize("layer,key,z", [("grid_cells", "code", 15), ("addresses", "id", 16), ("cases", "id", 14)])
def test_vector_tiles_read_by_gdal_hold_what_postgis_holds(live_server, make_user, session, tmp_path, spots,
                                                           layer, key, z):
    from sqlalchemy import text

    name, _, token = make_user("dispatcher")
    point = spots()
    if layer == "cases":
        report(live_server, make_user, point, "瓦片里的案件")
    where = {"cases": None, "addresses": "SELECT ST_X(geom), ST_Y(geom) FROM addresses ORDER BY id LIMIT 1",
             "grid_cells": "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p FROM grid_cells "
                           "WHERE version_high IS NULL ORDER BY code LIMIT 1) c"}[layer]
    lon, lat = (point.x, point.y) if where is None else session.execute(text(where)).one()
    x, y = _tile_of(lon, lat, z)
    tileset = requests.get(f"{live_server}/ogc/collections/{layer}/tiles/WebMercatorQuad", timeout=30).json()
    template = next(link["href"] for link in tileset["links"] if link["rel"] == "item")
    url = template.replace("{tileMatrix}", str(z)).replace("{tileRow}", str(y)).replace("{tileCol}", str(x))
    answer = requests.get(url, auth=(name, token), timeout=60)
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "application/vnd.mapbox-vector-tile"
    path = tmp_path / f"{layer}.mvt"
    path.write_bytes(answer.content)
    read = gdal("ogr2ogr", "-f", "GeoJSON", str(tmp_path / "tile.geojson"), str(path), "-oo", f"X={x}", "-oo",
                f"Y={y}", "-oo", f"Z={z}", "-t_srs", "EPSG:4326")
    assert read.returncode == 0
    decoded = json.loads((tmp_path / "tile.geojson").read_text())["features"]
    in_tile = {str(f["properties"][key]) for f in decoded}
    table = {"grid_cells": "grid_cells WHERE version_high IS NULL AND", "addresses": "addresses WHERE",
             "cases": "cases WHERE"}[layer]
    inside = {str(v) for v in session.scalars(text(
        f"SELECT {key} FROM {table} ST_Intersects(geom, ST_Transform(ST_TileEnvelope(:z, :x, :y), 4326))"),
        {"z": z, "x": x, "y": y})}
    assert inside and inside <= in_tile  # every feature in the tile's square (and a few in its buffer)
    assert requests.get(url, timeout=30).status_code == 401  # tiles follow the collection's rule


def test_tiles_refuse_what_does_not_exist(live_server, bearer):
    base = f"{live_server}/ogc/collections"
    assert requests.get(f"{base}/town/tiles", timeout=30).status_code == 404
    assert requests.get(f"{base}/roads/tiles/EuropeanETRS89/12/1/1", headers=bearer, timeout=30).status_code == 404
    assert requests.get(f"{base}/roads/tiles/WebMercatorQuad/25/1/1", headers=bearer, timeout=30).status_code == 404
    assert requests.get(f"{base}/roads/tiles/WebMercatorQuad/12/5000/1", headers=bearer, timeout=30).status_code == 404
    listed = requests.get(f"{base}/roads/tiles", timeout=30).json()["tilesets"]
    assert listed[0]["tileMatrixSetURI"].endswith("WebMercatorQuad")


def test_cql2_on_cases_with_dates_and_the_callers_scope(live_server, make_user, spots, session):
    from sqlalchemy import text

    dispatcher = {"Authorization": f"Bearer {make_user('dispatcher')[2]}"}
    mine = report(live_server, make_user, spots(), "时间过滤的案件")
    reported = session.scalar(text("SELECT first_reported_at FROM cases WHERE id = :i"), {"i": mine})
    day = reported.astimezone(BEIJING).date().isoformat()
    base = f"{live_server}/ogc/collections/cases/items"

    def ids(filter_: dict) -> set[int]:
        answer = requests.get(base, headers=dispatcher, timeout=60, params={
            "filter": json.dumps(filter_), "filter-lang": "cql2-json", "limit": 10000})
        assert answer.status_code == 200, answer.text
        return {f["id"] for f in answer.json()["features"]}

    on_the_day = {"op": "t_intersects", "args": [{"property": "first_reported_at"},
                                                 {"interval": [f"{day}T00:00:00+08:00", f"{day}T23:59:59+08:00"]}]}
    expected = set(session.scalars(text(
        "SELECT id FROM cases WHERE first_reported_at BETWEEN CAST(:a AS timestamptz) AND CAST(:b AS timestamptz)"),
        {"a": f"{day}T00:00:00+08:00", "b": f"{day}T23:59:59+08:00"}))
    assert mine in ids(on_the_day) and ids(on_the_day) == expected
    later = {"op": "t_after", "args": [{"property": "first_reported_at"}, {"timestamp": "2999-01-01T00:00:00Z"}]}
    assert ids(later) == set()
    both = {"op": "and", "args": [on_the_day, {"op": "=", "args": [{"property": "state"}, "reported"]}]}
    assert mine in ids(both)
    handler = {"Authorization": f"Bearer {make_user('handler', department_code='LGJT')[2]}"}
    seen = requests.get(base, headers=handler, timeout=60, params={
        "filter": json.dumps(on_the_day), "filter-lang": "cql2-json"}).json()
    assert mine not in {f["id"] for f in seen["features"]}  # the filter narrows the caller's view, never widens it
    new_year = {"timestamp": "2026-01-01T00:00:00Z"}
    for bad, says in ((
        {"op": "t_after", "args": [{"property": "state"}, new_year]}, "date-time property"),
        ({"op": "t_intersects", "args": [{"property": "deadline"}, {"interval": ["2026-01-01", ".."]}]}, "both ends"),
        ({"op": "t_during", "args": [{"property": "deadline"}, new_year]}, "instant"),
        ({"op": "=", "args": [{"property": "light"}, "red"]}, "not a queryable")):
        refused = requests.get(base, headers=dispatcher, timeout=30,
                               params={"filter": json.dumps(bad), "filter-lang": "cql2-json"})
        assert refused.status_code == 400 and says in refused.json()["description"], (bad, refused.text)
