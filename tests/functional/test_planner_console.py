"""The planner console (issue 14) on a database of the module's own (its tests make boundary versions): only
the coverage is editable in Geoman; territories painted by grid cells; problems drawn on the map with Chinese
messages; the diff of two versions. API tests of the same endpoints, refusals included.

Every test reads the current version and the current owners first, so that they pass in any order.
"""

from __future__ import annotations

import pytest
import requests
import shapely
from shapely.geometry import shape

from tests import factories
from tests.browser import centre_on, check_clean, open_page, pixel, sign_in, wait_data

CJK = ("\u4e00", "\u9fff")


# --- helpers ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def planner(own_app):
    """(username, password, headers) of a planner of the module's database."""
    username, password, token = factories.user(own_app, "planner")
    return username, password, factories.bearer(token)


@pytest.fixture(scope="module")
def intake(own_app):
    return factories.bearer(factories.user(own_app, "intake")[2])


def current(url: str, headers: dict) -> tuple[int, dict[str, shapely.Geometry]]:
    """The current boundary version and its territories."""
    fc = requests.get(f"{url}/api/v1/layers/station_coverage", headers=headers, timeout=30).json()
    return fc["features"][0]["properties"]["version"], {
        f["properties"]["station_code"]: shape(f["geometry"]) for f in fc["features"]}


def cells(url: str, headers: dict) -> dict[str, tuple[str, shapely.Geometry]]:
    """Every current grid cell: (station holding it, polygon)."""
    fc = requests.get(f"{url}/api/v1/planning/cells", headers=headers, timeout=60).json()
    return {f["properties"]["code"]: (f["properties"]["station_code"], shape(f["geometry"])) for f in fc["features"]}


def band(url: str, headers: dict, n: int = 20) -> tuple[str, str, list[str]]:
    """n neighbouring cells of one station along the longest edge it shares with another: (from, to, cells)."""
    _, territories = current(url, headers)
    codes = sorted(territories)
    source, target = max(((a, b) for a in codes for b in codes if a != b),
                         key=lambda p: territories[p[0]].boundary.intersection(territories[p[1]].boundary).length)
    edge = territories[source].boundary.intersection(territories[target].boundary)
    found = cells(url, headers)
    touching = [c for c, (owner, g) in found.items()
                if owner == source and g.boundary.intersection(edge).length > 1e-4]  # an edge (~10 m), not a corner
    start = found[min(touching)][1].centroid
    chosen = sorted(touching, key=lambda c: found[c][1].centroid.distance(start))[:n]
    return source, target, chosen


def owner_of(url: str, headers: dict, point: shapely.Point) -> str:
    answer = requests.get(f"{url}/api/v1/locate", headers=headers, params={"lon": point.x, "lat": point.y}, timeout=30)
    return answer.json()["station"]["code"]


def preview(url: str, headers: dict, body: dict) -> requests.Response:
    return requests.post(f"{url}/api/v1/planning/coverage/preview", headers=headers, json=body, timeout=120)


def empty_coverage() -> dict:
    return {"type": "FeatureCollection", "features": []}


# --- API -------------------------------------------------------------------------------------------


def test_cells_come_with_the_station_holding_them(own_live_server, planner):
    found = cells(own_live_server, planner[2])
    _, territories = current(own_live_server, planner[2])
    assert len(found) > 8000
    for code in sorted(found)[::400]:
        station, geom = found[code]
        assert territories[station].covers(geom.representative_point()), code


def test_painted_cells_are_carved_into_a_tiling_and_saved(own_live_server, planner, intake):
    url, headers = own_live_server, planner[2]
    base, _ = current(url, headers)
    source, target, chosen = band(url, headers, 20)
    body = {"coverage": empty_coverage(), "cells": {c: target for c in chosen}}
    checked = preview(url, headers, body)
    assert checked.status_code == 200 and checked.json()["valid"], checked.text
    areas = {s["code"]: s for s in checked.json()["stations"]}
    assert areas[source]["area_km2_after"] < areas[source]["area_km2_before"]
    saved = requests.post(f"{url}/api/v1/planning/coverage", headers=headers, timeout=120,
                          json={**body, "reason": "按网格调整", "base_version": base})
    assert saved.status_code == 201, saved.text
    found = cells(url, headers)
    assert {found[c][0] for c in chosen} == {target}
    point = found[chosen[len(chosen) // 2]][1].representative_point()
    filed = requests.post(f"{url}/api/v1/reports", headers=intake, timeout=60, json={
        "channel": "hotline", "category": "06010", "description": "网格调整后", "lon": point.x, "lat": point.y})
    assert filed.status_code == 201 and filed.json()["station"]["code"] == target, filed.text


def test_cells_painted_to_a_new_station_make_its_territory(own_live_server, planner):
    url, headers = own_live_server, planner[2]
    source, _, chosen = band(url, headers, 12)
    point = cells(url, headers)[chosen[0]][1].representative_point()
    body = {"coverage": empty_coverage(), "cells": {c: "JS-951" for c in chosen},
            "new_stations": [{"code": "JS-951", "name": "网格新站", "lon": point.x, "lat": point.y}]}
    answer = preview(url, headers, body)
    assert answer.status_code == 200 and answer.json()["valid"], answer.text
    new = next(s for s in answer.json()["stations"] if s["code"] == "JS-951")
    assert 0.01 < new["area_km2_after"] < 0.2


@pytest.mark.parametrize(("cells_body", "status", "words"), [
    ({"310115145999999": "JS-001"}, 422, "310115145999999"),
    ({"x" * 5000: "JS-001"}, 422, "unknown grid cell"),
    ({"GOOD": "JS-999"}, 422, "JS-999"),
    ({"GOOD": 7}, 400, "cells"),
    ({"GOOD": "not a code"}, 422, "cells"),
    (["310115145001001"], 400, "cells"),
])
def test_painting_refusals_name_the_cell_or_the_station(own_live_server, planner, cells_body, status, words):
    url, headers = own_live_server, planner[2]
    if isinstance(cells_body, dict) and "GOOD" in cells_body:
        cells_body = {min(cells(url, headers)): cells_body["GOOD"]}
    answer = preview(url, headers, {"coverage": empty_coverage(), "cells": cells_body})
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert words in body["message"] or words in (body.get("field") or ""), body
    if status == 422 and words != "cells":  # the refusals of planning (the schema's are English only)
        assert any(CJK[0] <= ch <= CJK[1] for ch in body["message_zh"])


def test_a_broken_proposal_answers_its_problems_with_places_areas_and_names(own_live_server, planner):
    url, headers = own_live_server, planner[2]
    from gis.crs import to_metric, to_storage

    _, territories = current(url, headers)
    code, *others = sorted(territories)
    dropped = others.pop()
    sent = {code: to_storage(to_metric(territories[code]).buffer(60)),  # over its neighbours and out of the town
            **{c: territories[c] for c in others}}
    answer = preview(url, headers, {"coverage": {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"station_code": c}, "geometry": shapely.geometry.mapping(g)}
        for c, g in sent.items()]}})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert not body["valid"]
    overlaps = [p for p in body["problems"] if p["code"] == "overlap"]
    assert overlaps and all(p["geometry"]["type"] in ("Polygon", "MultiPolygon") and p["area_m2"] > 1 for p in overlaps)
    assert all(code in p["stations"] for p in overlaps)
    name = requests.get(f"{url}/api/v1/layers/stations", headers=headers, timeout=30).json()
    name = next(f["properties"]["name"] for f in name["features"] if f["properties"]["code"] == code)
    assert all(f"{name}（{code}）" in p["message_zh"] and "平方米" in p["message_zh"] for p in overlaps)
    assert any(p["code"] == "outside_town" and p["geometry"] for p in body["problems"])
    # a station whose territory is left out: a warning at the station's point
    without = [p for p in body["problems"] if p["code"] == "no_territory"]
    assert [p["stations"] for p in without] == [[dropped]] and without[0]["geometry"]["type"] == "Point"
    assert any(p["code"] == "gap" and p["area_m2"] > 1e5 for p in body["problems"])  # where it was


def test_a_new_station_outside_its_territory_is_placed_on_the_map(own_live_server, planner):
    url, headers = own_live_server, planner[2]
    _, territories = current(url, headers)
    code = sorted(territories)[0]
    centre = territories[code].representative_point()
    ring = [[[centre.x - 0.003, centre.y - 0.003], [centre.x + 0.003, centre.y - 0.003],
             [centre.x + 0.003, centre.y + 0.003], [centre.x - 0.003, centre.y + 0.003],
             [centre.x - 0.003, centre.y - 0.003]]]
    answer = preview(url, headers, {
        "coverage": {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {
            "station_code": "JS-952", "carve": True}, "geometry": {"type": "Polygon", "coordinates": ring}}]},
        "new_stations": [{"code": "JS-952", "name": "点在外", "lon": centre.x + 0.02, "lat": centre.y}]})
    problem = next(p for p in answer.json()["problems"] if p["code"] == "station_outside_territory")
    assert problem["geometry"]["type"] == "Point" and "点在外（JS-952）" in problem["message_zh"]


def test_the_diff_of_two_versions_names_the_moved_cells_per_pair(own_live_server, planner):
    url, headers = own_live_server, planner[2]
    base, _ = current(url, headers)
    source, target, chosen = band(url, headers, 15)
    saved = requests.post(f"{url}/api/v1/planning/coverage", headers=headers, timeout=120, json={
        "coverage": empty_coverage(), "cells": {c: target for c in chosen}, "reason": "对比测试",
        "base_version": base})
    assert saved.status_code == 201, saved.text
    new = saved.json()["boundary_version"]
    answer = requests.get(f"{url}/api/v1/boundaries/versions/{base}/diff/{new}", headers=headers, timeout=60)
    assert answer.status_code == 200, answer.text
    d = answer.json()
    moved = {f["properties"]["code"] for f in d["moved_cells"]["features"]}
    assert moved == set(chosen) and d["cells_moved"] == 15
    assert [(p["from"], p["to"], p["cells"]) for p in d["pairs"] if p["cells"]] == [(source, target, 15)]
    back = requests.get(f"{url}/api/v1/boundaries/versions/{new}/diff/{base}", headers=headers, timeout=60).json()
    assert [(p["from"], p["to"]) for p in back["pairs"] if p["cells"]] == [(target, source)]


def test_the_diff_refuses_the_same_version_and_unknown_ones(own_live_server, planner):
    url, headers = own_live_server, planner[2]
    base, _ = current(url, headers)
    same = requests.get(f"{url}/api/v1/boundaries/versions/{base}/diff/{base}", headers=headers, timeout=30)
    assert same.status_code == 400 and same.json()["message_zh"]
    missing = requests.get(f"{url}/api/v1/boundaries/versions/{base}/diff/99999", headers=headers, timeout=30)
    assert missing.status_code == 404 and "99999" in missing.json()["message"]
    word = requests.get(f"{url}/api/v1/boundaries/versions/{base}/diff/latest", headers=headers, timeout=30)
    assert word.status_code == 404


def test_the_diff_and_the_cells_are_for_planners_and_leaders(own_live_server, intake):
    assert requests.get(f"{own_live_server}/api/v1/boundaries/versions/1/diff/2", headers=intake,
                        timeout=30).status_code == 403
    assert requests.get(f"{own_live_server}/api/v1/planning/cells", headers=intake, timeout=30).status_code == 403
