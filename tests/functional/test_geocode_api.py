"""GET /api/v1/geocode and /api/v1/reverse over real HTTP, against the addresses in PostGIS."""

from __future__ import annotations

import json

import pytest
import requests
from sqlalchemy import text


@pytest.fixture(scope="module")
def auth(make_user):
    return {"Authorization": f"Bearer {make_user('dispatcher')[2]}"}


def get(live_server, auth, path, **params):
    return requests.get(f"{live_server}/api/v1/{path}", params=params, headers=auth, timeout=30)


def test_an_address_written_another_way_is_found_with_its_owners(live_server, auth, session):
    address, lon, lat = session.execute(text(
        "SELECT address, ST_X(geom), ST_Y(geom) FROM addresses WHERE kind = 'house' ORDER BY id LIMIT 1 OFFSET 300"
    )).one()
    variant = "上海市 浦东新区 " + address.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    body = get(live_server, auth, "geocode", q=variant).json()
    best = body["candidates"][0]
    assert best["address"] == address and best["score"] == 1.0
    assert abs(best["lon"] - lon) < 1e-6 and abs(best["lat"] - lat) < 1e-6
    located = get(live_server, auth, "locate", lon=lon, lat=lat).json()
    assert best["owners"]["grid_code"] == located["grid_code"]
    assert best["owners"]["station"] == located["station"]


def test_a_missing_number_is_interpolated_and_a_vague_query_gives_several(app, live_server, auth):
    """Take one house number out of the table, ask for it, and put it back."""
    engine = app.extensions["db"].engine
    with engine.begin() as conn:
        row = conn.execute(text(
            "SELECT a.* FROM addresses a WHERE kind = 'house' AND EXISTS (SELECT 1 FROM addresses b WHERE "
            "b.road = a.road AND b.number = a.number - 2) AND EXISTS (SELECT 1 FROM addresses c WHERE "
            "c.road = a.road AND c.number = a.number + 2) ORDER BY id LIMIT 1 OFFSET 40"
        )).mappings().one()
        conn.execute(text("DELETE FROM addresses WHERE id = :id"), {"id": row["id"]})
    try:
        best = get(live_server, auth, "geocode", q=f"{row['road']}{row['number']}号").json()["candidates"][0]
    finally:
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO addresses SELECT (json_populate_record(NULL::addresses, CAST(:row AS json))).*"
            ), {"row": json.dumps({k: v for k, v in row.items()}, default=str)})
    assert best["kind"] == "interpolated" and 0.5 <= best["score"] < 0.95
    assert best["address"].startswith(row["road"])
    several = get(live_server, auth, "geocode", q=row["road"], limit=3).json()["candidates"]
    assert several and several[0]["kind"] == "road"


def test_reverse_gives_the_nearest_address_and_owners(live_server, auth, session):
    address, lon, lat = session.execute(text(
        "SELECT address, ST_X(a.geom), ST_Y(a.geom) FROM addresses a JOIN grid_cells g "
        "ON g.version_high IS NULL AND ST_Covers(g.geom, a.geom) ORDER BY a.id LIMIT 1 OFFSET 5000"
    )).one()
    body = get(live_server, auth, "reverse", lon=lon + 0.00003, lat=lat).json()
    assert body["address"]["address"] == address and body["address"]["distance_m"] < 5
    assert body["grid_code"] and body["station"]["code"]
    far = get(live_server, auth, "reverse", lon=121.5, lat=31.2).json()
    assert far["address"] is None and far["inside_town"] is False


@pytest.mark.parametrize(
    ("path", "params", "status", "field"),
    [
        ("geocode", {}, 400, "q"),
        ("geocode", {"q": "x" * 201}, 422, "q"),
        ("geocode", {"q": "路", "limit": "many"}, 400, "limit"),
        ("geocode", {"q": "路", "limit": 0}, 422, "limit"),
        ("reverse", {"lon": 121.9}, 400, "lat"),
        ("reverse", {"lon": 30.9, "lat": 121.9}, 422, "lat"),
        ("reverse", {"lon": 121.9, "lat": 30.9, "crs": "wgs85"}, 400, "crs"),
        ("reverse", {"lon": 121.9, "lat": 30.9, "radius": 99999}, 422, "radius"),
    ],
)
def test_bad_queries_are_refused(live_server, auth, path, params, status, field):
    answer = get(live_server, auth, path, **params)
    assert answer.status_code == status and answer.json()["field"] == field, answer.text


def test_an_unknown_api_path_answers_json(live_server, auth):
    answer = get(live_server, auth, "nothing-here")
    assert answer.status_code == 404 and answer.json()["error"] == "not_found"
