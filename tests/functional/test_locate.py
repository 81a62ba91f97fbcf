"""GET /api/v1/locate over real HTTP, checked against an independent PostGIS ST_Covers."""

from __future__ import annotations

import numpy as np
import pytest
import requests
from sqlalchemy import text

from gis.crs import from_wgs84


@pytest.fixture(scope="module")
def auth(make_user):
    return {"Authorization": f"Bearer {make_user('dispatcher')[2]}"}


def locate(live_server, auth, **params):
    return requests.get(f"{live_server}/api/v1/locate", params=params, headers=auth, timeout=30)


def postgis_owner(session, lon, lat, table, code, where):
    """Smallest code among the polygons that ST_Covers the point (the documented tie-break)."""
    return session.execute(text(
        f"SELECT {code} FROM {table} WHERE {where} AND ST_Covers(geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) "
        f"ORDER BY {code} LIMIT 1"
    ), {"lon": lon, "lat": lat}).scalar()


def test_owners_match_postgis_on_random_points(live_server, auth, session):
    version = session.execute(text("SELECT max(id) FROM boundary_versions")).scalar()
    minx, miny, maxx, maxy = session.execute(text(
        "SELECT ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom) FROM admin_areas "
        "WHERE level = 'town' AND version_high IS NULL"
    )).one()
    rng = np.random.default_rng(11)
    for lon, lat in zip(rng.uniform(minx, maxx, 60), rng.uniform(miny, maxy, 60), strict=True):
        body = locate(live_server, auth, lon=lon, lat=lat).json()
        cell = postgis_owner(session, lon, lat, "grid_cells", "code", "version_high IS NULL")
        station = postgis_owner(session, lon, lat, "station_coverage", "station_code", f"version_id = {version}")
        community = postgis_owner(session, lon, lat, "admin_areas", "code",
                                  "level = 'community' AND version_high IS NULL")
        assert body["grid_code"] == cell
        assert body["station"]["code"] == (station or "TC")
        assert body["fallback"] == (station is None)
        assert (body["community"] or {}).get("code") == community
        assert body["boundary_version"] == version


def test_gcj02_and_bd09_input_land_on_the_same_cell(live_server, auth):
    lon, lat = 121.9105, 30.9012
    plain = locate(live_server, auth, lon=lon, lat=lat).json()
    assert plain["inside_town"] and plain["grid_code"]
    for crs in ("gcj02", "bd09"):
        clon, clat = from_wgs84(lon, lat, crs)
        body = locate(live_server, auth, lon=clon, lat=clat, crs=crs).json()
        assert body["grid_code"] == plain["grid_code"], crs
        assert abs(body["point"]["lon"] - lon) < 1e-6 and abs(body["point"]["lat"] - lat) < 1e-6


def test_point_outside_the_town(live_server, auth):
    body = locate(live_server, auth, lon=121.5, lat=31.2).json()  # the Bund
    assert body["fallback"] and not body["inside_town"] and body["station"]["code"] == "TC"


@pytest.mark.parametrize(
    ("params", "status", "field", "words"),
    [
        ({"lat": 30.9}, 400, "lon", "missing"),
        ({"lon": "abc", "lat": 30.9}, 400, "lon", "must be a number"),
        ({"lon": "nan", "lat": 30.9}, 400, "lon", "finite"),
        ({"lon": 121.9, "lat": "inf"}, 400, "lat", "finite"),
        ({"lon": 121.9, "lat": 95}, 422, "lat", "outside -90..90"),
        ({"lon": 30.9, "lat": 121.9}, 422, "lat", "swapped"),
        ({"lon": 200, "lat": 30.9}, 422, "lon", "outside -180..180"),
        ({"lon": 121.9, "lat": 30.9, "crs": "mars"}, 400, "crs", "unknown coordinate system"),
    ],
)
def test_bad_coordinates_get_a_clear_answer(live_server, auth, params, status, field, words):
    answer = locate(live_server, auth, **params)
    assert answer.status_code == status
    assert answer.json()["field"] == field and words in answer.json()["message"]


def test_locate_needs_a_token(live_server):
    assert requests.get(f"{live_server}/api/v1/locate?lon=121.9&lat=30.9", timeout=10).status_code == 401
