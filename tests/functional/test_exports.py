"""Exports over real HTTP, opened with GDAL: every layer in GeoPackage, zipped Shapefile, GeoJSON and CSV."""

from __future__ import annotations

import io
import subprocess
import zipfile

import pyogrio
import pytest
import requests
from openpyxl import load_workbook

from app.interop import exports, ogc
from gis import validation as gb
from tests import factories

FORMATS = ("gpkg", "shp", "geojson", "csv")
SUFFIX = {"gpkg": "gpkg", "shp": "zip", "geojson": "geojson", "csv": "csv"}


@pytest.fixture(scope="module")
def bearer(make_user):
    return {"Authorization": f"Bearer {make_user('dispatcher')[2]}"}


def fetch(live_server, bearer, tmp_path, layer, fmt, **params):
    answer = requests.get(f"{live_server}/api/v1/exports/{layer}.{fmt}", params=params, headers=bearer, timeout=120)
    assert answer.status_code == 200, answer.text
    path = tmp_path / f"{layer}.{SUFFIX.get(fmt, fmt)}"
    path.write_bytes(answer.content)
    return path, int(answer.headers["X-Feature-Count"])


def gdal_count(path) -> int:
    """Features GDAL counts with ogrinfo (the zipped Shapefile through /vsizip/)."""
    name = f"/vsizip/{path}" if path.suffix == ".zip" else str(path)
    info = subprocess.run(["ogrinfo", "-ro", "-so", "-al", name], capture_output=True, text=True, timeout=120)
    assert info.returncode == 0, info.stderr
    counts = [int(line.split(":")[1]) for line in info.stdout.splitlines() if line.startswith("Feature Count:")]
    assert len(counts) == 1, info.stdout
    return counts[0]


@pytest.mark.parametrize("layer", [name for name in ogc.collection_ids() if name != "patrol_routes"])
def test_every_layer_in_every_format_opens_in_gdal(live_server, bearer, tmp_path, layer):
    expected = requests.get(f"{live_server}/ogc/collections/{layer}/items", params={"limit": 1}, headers=bearer,
                            timeout=60).json()["numberMatched"]
    for fmt in FORMATS:
        path, count = fetch(live_server, bearer, tmp_path, layer, fmt)
        assert count == expected, (layer, fmt)
        assert gdal_count(path) == expected, (layer, fmt)


def test_shapefile_keeps_chinese_names_and_declares_utf8(live_server, bearer, tmp_path):
    path, _ = fetch(live_server, bearer, tmp_path, "communities", "shp")
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        assert {"communities.shp", "communities.shx", "communities.dbf", "communities.prj", "communities.cpg"} <= names
        assert archive.read("communities.cpg").decode().strip().upper() in ("UTF-8", "UTF8")
    frame = pyogrio.read_dataframe(path)
    assert {"芦潮港社区", "申港社区", "临港综合社区"} <= set(frame["name"])
    assert frame.crs.to_epsg() == 4326


@pytest.mark.parametrize("fmt", ["gpkg", "shp", "geojson"])
def test_exported_boundaries_import_again(live_server, bearer, tmp_path, session, fmt):
    """The boundary importer reads what we export (the Shapefile's short field names map back)."""
    for layer in ("grid_cells", "workstations", "station_coverage"):
        path, count = fetch(live_server, bearer, tmp_path, layer, fmt)
        features = gb.read_layer(layer, path)
        assert len(features) == count
        spec = gb.LAYERS[layer]
        assert all(set(spec.required) <= set(f.props) for f in features), (layer, fmt, features[0].props)
    cells = gb.read_layer("grid_cells", fetch(live_server, bearer, tmp_path, "grid_cells", fmt)[0])
    assert gb.check_codes(cells, gb.GRID_CODE, "grid cell") == []


def test_csv_reads_back_with_crs(live_server, bearer, tmp_path):
    path, count = fetch(live_server, bearer, tmp_path, "stations", "csv")
    assert len(gb.read_layer("stations", path, crs="EPSG:4326")) == count


def test_filters_and_scope_apply_to_exports(live_server, bearer, make_user, tmp_path):
    box = "121.90,30.88,121.95,30.92"
    _, some = fetch(live_server, bearer, tmp_path, "grid_cells", "geojson", bbox=box)
    _, every = fetch(live_server, bearer, tmp_path, "grid_cells", "geojson")
    assert 0 < some < every
    handler = {"Authorization": f"Bearer {make_user('handler', department_code='GA')[2]}"}
    _, theirs = fetch(live_server, handler, tmp_path, "cases", "geojson")
    _, all_cases = fetch(live_server, bearer, tmp_path, "cases", "geojson")
    assert theirs <= all_cases
    answer = requests.get(f"{live_server}/api/v1/exports/cases.geojson", headers=handler, timeout=60).json()
    assert {f["properties"]["owner"] for f in answer["features"]} <= {"department:GA"}
    assert requests.get(f"{live_server}/api/v1/exports/cases.geojson", timeout=30).status_code == 401
    assert requests.get(f"{live_server}/api/v1/exports/parcels.gpkg", headers=bearer, timeout=30).status_code == 404
    assert requests.get(f"{live_server}/api/v1/exports/cases.kml", headers=bearer, timeout=30).status_code == 404
    assert requests.get(f"{live_server}/api/v1/exports/cases.gpx", headers=bearer, timeout=30).status_code == 404
    bad = requests.get(f"{live_server}/api/v1/exports/cases.csv", params={"bbox": "1,2"}, headers=bearer, timeout=30)
    assert bad.status_code == 400 and bad.json()["field"] == "bbox"
    listed = requests.get(f"{live_server}/api/v1/exports", headers=bearer, timeout=30).json()["layers"]
    by_layer = {x["layer"]: x["formats"] for x in listed}
    assert set(by_layer["patrol_routes"]) == {*FORMATS, "gpx"} and "gpx" not in by_layer["grid_cells"]


def test_hostile_text_is_inert_in_csv_and_intact_elsewhere(live_server, bearer, make_user, spots, tmp_path):
    hostile = '=HYPERLINK("http://evil.example","点我") <script>x</script> \u202e 🚧'
    point = spots()
    intake = {"Authorization": f"Bearer {make_user('intake')[2]}"}
    case = requests.post(f"{live_server}/api/v1/reports", headers=intake, timeout=30, json={
        "channel": "hotline", "category": "06010", "description": hostile, "lon": point.x, "lat": point.y,
    }).json()["case_id"]
    box = f"{point.x - 0.0001},{point.y - 0.0001},{point.x + 0.0001},{point.y + 0.0001}"
    csv_path, _ = fetch(live_server, bearer, tmp_path, "cases", "csv", bbox=box)
    text = csv_path.read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK(" in text and '\n=HYPERLINK' not in text and ',=HYPERLINK' not in text
    frame = pyogrio.read_dataframe(csv_path)
    row = frame[frame["id"].astype(str) == str(case)].iloc[0]
    assert row["description"] == "'" + hostile
    gpkg, _ = fetch(live_server, bearer, tmp_path, "cases", "gpkg", bbox=box)
    frame = pyogrio.read_dataframe(gpkg)
    assert frame[frame["id"].astype(str) == str(case)].iloc[0]["description"] == hostile


def test_gpx_of_routes_opens_in_gdal(tmp_path):
    route = {"type": "Feature", "id": 7, "properties": {"name": "JS-001 <早班> & 巡查"},
             "geometry": {"type": "LineString", "coordinates": [[121.90, 30.90], [121.91, 30.905], [121.92, 30.90]]}}
    two = {"type": "Feature", "id": 8, "properties": {"name": "JS-002"},
           "geometry": {"type": "MultiLineString", "coordinates": [[[121.8, 30.8], [121.81, 30.8]],
                                                                   [[121.82, 30.8], [121.83, 30.81]]]}}
    path = tmp_path / "routes.gpx"
    path.write_bytes(exports.to_gpx([route, two]))
    tracks = pyogrio.read_dataframe(path, layer="tracks")
    assert list(tracks["name"]) == ["JS-001 <早班> & 巡查", "JS-002"]
    points = pyogrio.read_dataframe(path, layer="track_points")
    assert len(points) == 7


def test_patrol_routes_export_as_gpx(live_server, bearer, tmp_path):
    path, count = fetch(live_server, bearer, tmp_path, "patrol_routes", "gpx")
    assert path.read_bytes().startswith(b"<?xml") and count == len(pyogrio.read_dataframe(path, layer="tracks"))


def test_kpi_tables_open_in_gdal(app, live_server, bearer, spots, tmp_path):
    factories.report(app, spots())  # a case this month: the table has a row, whatever ran before
    table = requests.get(f"{live_server}/api/v1/kpi", params={"by": "station"}, headers=bearer, timeout=60).json()
    rows = len(table["rows"])
    assert rows >= 1
    for fmt in ("csv", "xlsx"):
        answer = requests.get(f"{live_server}/api/v1/kpi.{fmt}", params={"by": "station"}, headers=bearer,
                              timeout=60)
        assert answer.status_code == 200
        path = tmp_path / f"kpi.{fmt}"
        path.write_bytes(answer.content)
        assert gdal_count(path) == rows
    book = load_workbook(io.BytesIO(path.read_bytes()))
    assert book.active.max_row == rows + 1


def test_long_texts_survive_a_shapefile_and_dates_are_dates_in_a_geopackage(live_server, bearer, make_user, spots,
                                                                            tmp_path):
    long_text = "人行道破损，" * 30  # 180 characters, 540 bytes in UTF-8: more than a dBase field holds
    point = spots()
    intake = {"Authorization": f"Bearer {make_user('intake')[2]}"}
    case = requests.post(f"{live_server}/api/v1/reports", headers=intake, timeout=30, json={
        "channel": "hotline", "category": "06010", "description": long_text, "lon": point.x, "lat": point.y,
    }).json()["case_id"]
    box = f"{point.x - 0.0001},{point.y - 0.0001},{point.x + 0.0001},{point.y + 0.0001}"
    shp, _ = fetch(live_server, bearer, tmp_path, "cases", "shp", bbox=box)
    frame = pyogrio.read_dataframe(f"/vsizip/{shp}/cases.shp")
    cut = frame[frame["id"].astype(str) == str(case)].iloc[0]["descr"]
    assert long_text.startswith(cut) and 0 < len(cut.encode("utf-8")) <= 254
    with zipfile.ZipFile(shp) as archive:
        side = archive.read("cases_long_text.csv").decode("utf-8-sig")
    assert f"{case},descr,{long_text}" in side.splitlines()
    gpkg, _ = fetch(live_server, bearer, tmp_path, "cases", "gpkg", bbox=box)
    info = subprocess.run(["ogrinfo", "-ro", "-so", "-al", str(gpkg)], capture_output=True, text=True, timeout=60)
    assert "first_reported_at: DateTime" in info.stdout, info.stdout
    row = pyogrio.read_dataframe(gpkg).iloc[0]
    assert str(row["first_reported_at"].tzinfo) == "UTC"


def test_csv_says_its_charset_once(live_server, bearer):
    answer = requests.get(f"{live_server}/api/v1/exports/communities.csv", headers=bearer, timeout=60)
    assert answer.headers["Content-Type"] == "text/csv; charset=utf-8"
