"""The planner console (issue 14) on a database of the module's own (its tests make boundary versions): only
the coverage is editable in Geoman; territories painted by grid cells; problems drawn on the map with Chinese
messages; the diff of two versions. API tests of the same endpoints, refusals included.

Every test reads the current version and the current owners first, so that they pass in any order.
"""

from __future__ import annotations

import json

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
    fc = requests.get(f"{url}/api/v1/layers/station_coverage?precision=9", headers=headers, timeout=30).json()
    return fc["features"][0]["properties"]["version"], {
        f["properties"]["station_code"]: shape(f["geometry"]) for f in fc["features"]}


def cells(url: str, headers: dict) -> dict[str, tuple[str, shapely.Geometry]]:
    """Every current grid cell: (station holding it, polygon)."""
    fc = requests.get(f"{url}/api/v1/planning/cells", headers=headers, timeout=60).json()
    return {f["properties"]["code"]: (f["properties"]["station_code"], shape(f["geometry"])) for f in fc["features"]}


def band(url: str, headers: dict, n: int = 20) -> tuple[str, str, list[str]]:
    """n cells of one station in a compact group at the middle of the longest edge it shares with another, at
    least one of them along that edge: (from, to, cells)."""
    _, territories = current(url, headers)
    codes = sorted(territories)
    source, target = max(((a, b) for a in codes for b in codes if a != b),
                         key=lambda p: territories[p[0]].boundary.intersection(territories[p[1]].boundary).length)
    edge = shapely.line_merge(territories[source].boundary.intersection(territories[target].boundary))
    edge = max(getattr(edge, "geoms", [edge]), key=lambda line: line.length)
    found = cells(url, headers)
    mine = [c for c, (owner, _) in found.items() if owner == source]
    near = edge.buffer(1e-6)  # ~10 cm: cell and territory edges agree to centimetres, not exactly
    # the middle of the edge first; further along it when earlier tests of the module left the source so
    # shaped there that giving the group away would cut off a pocket of it (a multi-part territory)
    for at in (0.5, 0.4, 0.6, 0.3, 0.7, 0.2, 0.8):
        start = edge.interpolate(at, normalized=True)
        chosen = sorted(mine, key=lambda c: found[c][1].distance(start))[:n]
        group = shapely.union_all([found[c][1] for c in chosen])
        left = territories[source].difference(group)
        pieces = [p for p in getattr(left, "geoms", [left]) if p.area > 1e-8]  # ~100 m²: not a sliver
        parts = [p for p in getattr(group, "geoms", [group]) if p.area > 1e-8]
        if len(pieces) == 1 and len(parts) == 1:  # neither what is left nor the group given away in pieces
            break
    assert any(found[c][1].boundary.intersection(near).length > 1e-4 for c in chosen)  # along an edge (~10 m)
    return source, target, chosen


def owner_of(url: str, headers: dict, point: shapely.Point) -> str:
    answer = requests.get(f"{url}/api/v1/locate", headers=headers, params={"lon": point.x, "lat": point.y}, timeout=30)
    return answer.json()["station"]["code"]


def preview(url: str, headers: dict, body: dict) -> requests.Response:
    return requests.post(f"{url}/api/v1/planning/coverage/preview", headers=headers, json=body, timeout=120)


def empty_coverage() -> dict:
    return {"type": "FeatureCollection", "features": []}


def save_painted(url: str, headers: dict, base: int, chosen: list[str], target: str, reason: str) -> int:
    """Give the cells to `target` and save it as a new boundary version on `base`: the new version's id."""
    saved = requests.post(f"{url}/api/v1/planning/coverage", headers=headers, timeout=120, json={
        "coverage": empty_coverage(), "cells": {c: target for c in chosen}, "reason": reason, "base_version": base})
    assert saved.status_code == 201, saved.text
    return saved.json()["boundary_version"]


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
    changed = checked.json()["changes"]
    assert changed["cells_moved"] == 20 and {f["id"] for f in changed["moved_cells"]["features"]} == set(chosen)
    assert [(p["from"], p["to"], p["cells"]) for p in changed["pairs"]] == [(source, target, 20)]
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


def test_cells_given_apart_from_a_territory_leave_it_in_pieces_named_unless_allowed(own_live_server, planner):
    url, headers = own_live_server, planner[2]
    _, territories = current(url, headers)
    found = cells(url, headers)
    source, target = sorted(territories)[:2]
    far = max((c for c, (o, _) in found.items() if o == source),
              key=lambda c: found[c][1].distance(territories[target]))
    body = {"coverage": empty_coverage(), "cells": {far: target}}
    refused = preview(url, headers, body).json()
    pieces = [p for p in refused["problems"] if p["code"] == "multipart" and p["stations"] == [target]]
    assert not refused["valid"] and pieces and pieces[0]["severity"] == "error" and pieces[0]["geometry"], refused
    assert "2 块" in pieces[0]["message_zh"]
    allowed = preview(url, headers, {**body, "allow_multipart": [target]}).json()
    assert allowed["valid"]
    assert any(p["code"] == "multipart" and p["severity"] == "warning" for p in allowed["problems"])


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
    outside = [p for p in body["problems"] if p["code"] == "outside_town"]
    assert [p["stations"] for p in outside] == [[code]] and outside[0]["geometry"]
    assert "镇域" in outside[0]["message_zh"]
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


def test_a_proposal_is_kept_as_a_draft_without_publishing_it(own_live_server, planner):
    url, headers = own_live_server, planner[2]
    base, _ = current(url, headers)
    _, target, chosen = band(url, headers, 5)
    proposal = {"coverage": empty_coverage(), "cells": {c: target for c in chosen}, "base_version": base}
    made = requests.post(f"{url}/api/v1/planning/drafts", headers=headers, timeout=60,
                         json={"title": "网格草稿", "proposal": proposal})
    assert made.status_code == 201, made.text
    draft = requests.get(f"{url}{made.json()['links']['self']}", headers=headers, timeout=30).json()
    assert draft["status"] == "draft" and draft["kind"] == "planner" and draft["proposal"]["cells"] == proposal["cells"]
    assert draft["base_version_id"] == base
    assert current(url, headers)[0] == base  # nothing published
    bad = requests.post(f"{url}/api/v1/planning/drafts", headers=headers, timeout=60, json={
        "title": "坏草稿", "proposal": {**proposal, "cells": {"310115145999999": target}}})
    assert bad.status_code == 422 and bad.json()["field"] == "proposal.cells.310115145999999", bad.text
    untitled = requests.post(f"{url}/api/v1/planning/drafts", headers=headers, timeout=60, json={"proposal": proposal})
    assert untitled.status_code == 400 and untitled.json()["field"] == "title"


def test_the_diff_of_two_versions_names_the_moved_cells_per_pair(own_live_server, planner):
    url, headers = own_live_server, planner[2]
    base, _ = current(url, headers)
    source, target, chosen = band(url, headers, 15)
    new = save_painted(url, headers, base, chosen, target, "对比测试")
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


# --- in Chromium -----------------------------------------------------------------------------------


def _planner_page(browser, url: str, planner):
    context, page = open_page(browser, url)
    sign_in(page, url, planner[0], planner[1])
    page.goto(f"{url}/planner")
    wait_data(page, "coverageLoaded", lambda v: int(v) >= 3, timeout=30)
    return context, page


def _expect_valid(page) -> None:
    """The preview answered and found the proposal valid (else: what it says)."""
    valid = wait_data(page, "previewValid", timeout=60)
    assert valid == "true", page.inner_text("#planner-result")


def _fit(page, geoms) -> None:
    x0, y0, x1, y1 = shapely.union_all(list(geoms)).bounds
    # clear of the legend (bottom left) and the layer control (top right): a box drag that starts or ends on a
    # control is no drag on the map
    page.evaluate(f"nhMap.fitBounds([[{y0}, {x0}], [{y1}, {x1}]], "
                  "{paddingTopLeft: [160, 40], paddingBottomRight: [220, 40]}) && null")
    page.wait_for_timeout(400)


@pytest.mark.browser
def test_edit_mode_gives_handles_to_the_coverage_only(browser, own_live_server, planner):
    url, headers = own_live_server, planner[2]
    context, page = _planner_page(browser, url, planner)
    page.evaluate("nhLayers.grid_cells.addTo(nhMap) && null")  # the grid on the map too: it must stay untouched
    wait_data(page, "layer_grid_cells", lambda v: int(v) > 8000, timeout=30)
    ms = page.evaluate("(() => { const t0 = performance.now(); nhMap.pm.enableGlobalEditMode();"
                       " return performance.now() - t0; })()")
    print(f"\nGeoman edit mode on in {ms:.0f} ms")  # measured, not asserted: machines differ
    handles = page.evaluate("document.querySelectorAll('.marker-icon:not(.marker-icon-middle)').length")
    _, territories = current(url, headers)
    vertices = sum(len(ring.coords) - 1 for g in territories.values() for p in getattr(g, "geoms", [g])
                   for ring in [p.exterior, *p.interiors])
    assert handles == vertices, (handles, vertices)
    others = page.evaluate("(() => { let n = 0; nhMap.eachLayer(l => { if (l.pm && l.pm.enabled && l.pm.enabled()"
                           " && !l.nh) { n += 1; } }); return n; })()")
    assert others == 0
    page.evaluate("nhMap.pm.disableGlobalEditMode() || null")
    assert page.evaluate("document.querySelectorAll('.marker-icon').length") == 0
    check_clean(page)
    context.close()


@pytest.mark.browser
def test_a_planner_paints_twenty_cells_to_another_station_and_a_report_there_goes_to_it(
        browser, own_live_server, planner, intake, artifacts):
    url, headers = own_live_server, planner[2]
    source, target, chosen = band(url, headers, 20)
    found = cells(url, headers)
    context, page = _planner_page(browser, url, planner)
    assert page.inner_text("#paint-cells") == "按网格分配"
    page.click("#paint-cells")
    wait_data(page, "cellsLoaded", lambda v: int(v) > 8000, timeout=60)
    assert page.inner_text("#paint-assign") == "将所选网格分配给该站点"
    _fit(page, [found[c][1] for c in chosen])
    # a box (Shift-drag) selects the cells in it; the selection can be cleared
    x0, y0, x1, y1 = shapely.union_all([found[c][1] for c in chosen]).bounds
    page.keyboard.down("Shift")
    page.mouse.move(*pixel(page, y0, x0))
    page.mouse.down()
    page.mouse.move(*pixel(page, y1, x1), steps=8)
    page.mouse.up()
    page.keyboard.up("Shift")
    assert int(wait_data(page, "selectedCells")) >= 20  # every cell whose centre is in the box
    page.click("#paint-clear")
    wait_data(page, "selectedCells", lambda v: v == "0")
    for code in chosen:
        p = found[code][1].representative_point()
        page.mouse.click(*pixel(page, p.y, p.x))
    wait_data(page, "selectedCells", lambda v: v == "20", timeout=5)
    page.select_option("#paint-station", target)
    page.click("#paint-assign")
    wait_data(page, "paintedCells", lambda v: v == "20")
    page.click("#check-proposal")
    _expect_valid(page)
    assert wait_data(page, "previewMoved") == "20"  # the map of what changes, before saving
    assert page.locator("#preview-pairs tr[data-pair]").all_inner_texts()[0].split("\t")[1:2] == ["20"]
    page.screenshot(path=str(artifacts / "planner_paint_cells.png"))
    page.fill("#save-version textarea[name=reason]", "按网格调整20个网格")
    page.click("#save-version button[type=submit]")
    wait_data(page, "savedVersion", timeout=60)
    check_clean(page)
    context.close()
    after = cells(url, headers)
    assert {after[c][0] for c in chosen} == {target}
    point = found[chosen[7]][1].representative_point()
    filed = requests.post(f"{url}/api/v1/reports", headers=intake, timeout=60, json={
        "channel": "hotline", "category": "06010", "description": "分配后的网格内", "lon": point.x, "lat": point.y})
    assert filed.status_code == 201 and filed.json()["station"]["code"] == target, filed.text
    assert filed.json()["grid_code"] == chosen[7]


def _x_station_site(url: str, headers: dict, where: str) -> tuple[shapely.Point, shapely.Point, set[str]]:
    """Where to draw a square X station: the middle of the longest edge two territories share, or a vertex of
    the town's edge; a point inside the town and the square for a report; the territories it touches."""
    from gis.crs import to_metric, to_storage

    _, territories = current(url, headers)
    codes = sorted(territories)
    if where == "shared_edge":
        edge = max((territories[a].boundary.intersection(territories[b].boundary) for a in codes for b in codes
                    if a < b), key=lambda line: line.length)
        edge = shapely.line_merge(edge)
        edge = max(getattr(edge, "geoms", [edge]), key=lambda line: line.length)
        mid = edge.interpolate(0.2, normalized=True)  # away from the middle, where other tests paint cells
        inside = shapely.Point(mid.x - 0.002, mid.y + 0.002)
    else:
        code, mid, _ = _edge_vertex(url, headers)
        town = requests.get(f"{url}/api/v1/layers/town", headers=headers, timeout=30).json()
        centre = to_metric(shape(town["features"][0]["geometry"])).centroid
        m = to_metric(mid)
        dx, dy = centre.x - m.x, centre.y - m.y
        norm = (dx * dx + dy * dy) ** 0.5
        inside = to_storage(shapely.Point(m.x + 150 * dx / norm, m.y + 150 * dy / norm))
    touched = {c for c, g in territories.items() if g.distance(mid) < 1e-6}
    return mid, inside, touched


@pytest.mark.browser
@pytest.mark.parametrize("where", ["shared_edge", "town_edge"])
def test_a_planner_draws_an_x_station_across_edges(browser, own_live_server, planner, intake, artifacts, where):
    url, headers = own_live_server, planner[2]
    _, territories = current(url, headers)
    mid, inside, touched = _x_station_site(url, headers, where)
    assert len(touched) >= (2 if where == "shared_edge" else 1)
    code = {"shared_edge": "JS-961", "town_edge": "JS-962"}[where]
    context, page = _planner_page(browser, url, planner)
    centre_on(page, mid.y, mid.x, 15)
    page.click("#add-station")
    page.fill("#new-station input[name=code]", code)
    page.fill("#new-station input[name=name]", "跨界X站" if where == "shared_edge" else "镇界X站")
    page.click("#new-station button[type=submit]")
    page.mouse.click(*pixel(page, inside.y, inside.x))
    page.wait_for_timeout(200)
    d = 0.004
    corners = [(mid.y + d, mid.x - d), (mid.y + d, mid.x + d), (mid.y - d, mid.x + d), (mid.y - d, mid.x - d)]
    for c in corners:
        page.mouse.click(*pixel(page, *c))
        page.wait_for_timeout(150)
    page.mouse.click(*pixel(page, *corners[0]))
    wait_data(page, "territoryDrawn", lambda v: v == code, timeout=10)
    page.click("#check-proposal")
    _expect_valid(page)
    assert ("跨界X站" if where == "shared_edge" else "镇界X站") in page.locator("#impact-stations").inner_text()
    if where == "town_edge":  # the part outside the town is cut off, and the planner is told so
        warnings = page.locator("#planner-warnings li").all_inner_texts()
        assert any("镇域外" in w and code in w for w in warnings), warnings
    page.screenshot(path=str(artifacts / ("planner_x_station.png" if where == "shared_edge"
                                          else "planner_x_station_town_edge.png")))
    page.fill("#save-version textarea[name=reason]", "新增X站")
    page.click("#save-version button[type=submit]")
    wait_data(page, "savedVersion", timeout=60)
    check_clean(page)
    context.close()
    _, after = current(url, headers)
    assert after[code].area > 0 and all(after[c].area < territories[c].area for c in touched)
    filed = requests.post(f"{url}/api/v1/reports", headers=intake, timeout=60, json={
        "channel": "hotline", "category": "06010", "description": "X站内", "lon": inside.x, "lat": inside.y})
    assert filed.status_code == 201 and filed.json()["station"]["code"] == code, filed.text


def _edge_vertex(url: str, headers: dict) -> tuple[str, shapely.Point, shapely.Point]:
    """A station, a vertex of its territory on the town's edge that no neighbour shares, and a point 300 m
    further out (lon/lat)."""
    from gis.crs import to_metric, to_storage

    _, territories = current(url, headers)
    town = requests.get(f"{url}/api/v1/layers/town", headers=headers, timeout=30).json()
    town = shape(town["features"][0]["geometry"])
    code = sorted(territories)[0]
    own_m = to_metric(territories[code])
    others = [to_metric(g) for c, g in territories.items() if c != code]
    centre = to_metric(town).centroid
    ring = max(getattr(own_m, "geoms", [own_m]), key=lambda p: p.area).exterior
    candidates = [shapely.Point(xy) for xy in ring.coords[:-1]]
    candidates = [p for p in candidates if min(o.distance(p) for o in others) > 500]
    vertex = candidates[len(candidates) // 2]
    dx, dy = vertex.x - centre.x, vertex.y - centre.y
    norm = (dx * dx + dy * dy) ** 0.5
    target = shapely.Point(vertex.x + 300 * dx / norm, vertex.y + 300 * dy / norm)
    return code, to_storage(vertex), to_storage(target)


def _drag_vertex(page, v: shapely.Point, t: shapely.Point) -> None:
    """Drag the vertex handle at v to t in Geoman's edit mode."""
    centre_on(page, (v.y + t.y) / 2, (v.x + t.x) / 2, 16)
    page.evaluate("nhMap.pm.enableGlobalEditMode() || null")
    page.mouse.move(*pixel(page, v.y, v.x))
    page.mouse.down()
    page.mouse.move(*pixel(page, t.y, t.x), steps=12)
    page.mouse.up()
    page.evaluate("nhMap.pm.disableGlobalEditMode() || null")


def _vertices(page, code: str) -> set[tuple[float, float]]:
    """The vertices of a station's territory in the console (9 decimals)."""
    geom = shape(json.loads(page.evaluate(_territory_js(code))))
    return {tuple(xy) for xy in shapely.get_coordinates(geom).round(9).tolist()}


def _territory_js(code: str) -> str:
    return ("(() => { let g = null; nhMap.eachLayer(l => { if (l.nh && l.nh.station_code === '" + code + "'"
            " && l.toGeoJSON) { g = l.toGeoJSON(9).geometry; } }); return JSON.stringify(g); })()")


@pytest.mark.browser
def test_a_broken_edit_shows_red_problems_with_chinese_messages(browser, own_live_server, planner, artifacts):
    url, headers = own_live_server, planner[2]
    code, v, t = _edge_vertex(url, headers)
    context, page = _planner_page(browser, url, planner)
    _drag_vertex(page, v, t)
    page.click("#check-proposal")
    wait_data(page, "previewValid", lambda v: v == "false", timeout=60)
    assert int(wait_data(page, "problemsDrawn")) >= 1
    errors = page.locator("#planner-errors li").all_inner_texts()
    name = next(f["properties"]["name"] for f in requests.get(
        f"{url}/api/v1/layers/stations", headers=headers, timeout=30).json()["features"]
        if f["properties"]["code"] == code)
    assert any("镇域" in e and f"{name}（{code}）" in e and "平方米" in e for e in errors), errors
    assert all(any(CJK[0] <= ch <= CJK[1] for ch in e) for e in errors)
    red = page.evaluate("(() => { let n = 0; nhMap.eachLayer(l => { if (l.options && l.options.color === '#e00000'"
                        " && l.getLatLngs) { n += 1; } }); return n; })()")
    assert red >= 1
    page.screenshot(path=str(artifacts / "planner_problems.png"))
    check_clean(page)
    context.close()


@pytest.mark.browser
def test_the_version_list_compares_two_versions_on_the_map(browser, own_live_server, planner, artifacts):
    url, headers = own_live_server, planner[2]
    base, _ = current(url, headers)
    source, target, chosen = band(url, headers, 10)
    new = save_painted(url, headers, base, chosen, target, "对比显示")
    context, page = _planner_page(browser, url, planner)
    page.click(f"button[data-compare='{new}']")
    wait_data(page, "diffShown", lambda v: v == f"{base}>{new}:10", timeout=60)
    rows = page.locator("#diff-pairs tr[data-pair]").all_inner_texts()
    assert len(rows) == 1 and "10" in rows[0], rows
    drawn = page.evaluate("(() => { let n = 0; nhMap.eachLayer(l => { if (l.feature && l.feature.properties"
                          f" && l.feature.properties.to === '{target}' && l.feature.properties.from) {{ n += 1; }} }});"
                          " return n; })()")
    assert drawn == 10
    page.wait_for_timeout(300)
    page.screenshot(path=str(artifacts / "planner_diff.png"))
    check_clean(page)
    context.close()


@pytest.mark.browser
def test_in_english_a_new_station_without_cells_is_marked_at_its_point(browser, own_live_server, planner):
    url, headers = own_live_server, planner[2]
    _, territories = current(url, headers)
    at = territories[sorted(territories)[-1]].representative_point()
    context, page = _planner_page(browser, url, planner)
    page.goto(f"{url}/planner?lang=en")
    wait_data(page, "coverageLoaded", lambda v: int(v) >= 3, timeout=30)
    page.click("#paint-cells")
    wait_data(page, "cellsLoaded", lambda v: int(v) > 8000, timeout=60)
    centre_on(page, at.y, at.x, 15)
    page.click("#add-station")
    page.fill("#new-station input[name=code]", "JS-971")
    page.fill("#new-station input[name=name]", "Harbour X")
    page.click("#new-station button[type=submit]")
    page.mouse.click(*pixel(page, at.y, at.x))
    wait_data(page, "stationPlaced", lambda v: v == "JS-971")
    assert page.locator("#paint-station").input_value() == "JS-971"
    page.click("#check-proposal")
    wait_data(page, "previewValid", lambda v: v == "false", timeout=60)
    errors = page.locator("#planner-errors li").all_inner_texts()
    assert errors == ["new station Harbour X (JS-971) has no territory"], errors
    assert int(wait_data(page, "problemsDrawn")) == 1
    check_clean(page)
    context.close()


@pytest.mark.browser
def test_edits_are_undone_and_redone(browser, own_live_server, planner):
    url, headers = own_live_server, planner[2]
    code, v, t = _edge_vertex(url, headers)
    _, _, chosen = band(url, headers, 3)
    found = cells(url, headers)
    context, page = _planner_page(browser, url, planner)
    wait_data(page, "historyLength", lambda n: n == "1")
    assert page.is_disabled("#undo") and page.is_disabled("#redo")
    before = page.evaluate(_territory_js(code))
    _drag_vertex(page, v, t)
    wait_data(page, "historyLength", lambda n: n == "2")
    moved = page.evaluate(_territory_js(code))
    assert moved != before
    page.click("#undo")
    assert page.evaluate(_territory_js(code)) == before
    page.click("#redo")
    assert page.evaluate(_territory_js(code)) == moved
    # cells given to a station, then taken back with Ctrl+Z and given again with Ctrl+Y
    page.click("#paint-cells")
    wait_data(page, "cellsLoaded", lambda n: int(n) > 8000, timeout=60)
    _fit(page, [found[c][1] for c in chosen])
    for c in chosen:
        p = found[c][1].representative_point()
        page.mouse.click(*pixel(page, p.y, p.x))
    wait_data(page, "selectedCells", lambda n: n == "3")
    other = sorted({o for o, _ in found.values()} - {found[chosen[0]][0]})[0]
    page.select_option("#paint-station", other)
    page.click("#paint-assign")
    wait_data(page, "paintedCells", lambda n: n == "3")
    page.keyboard.press("Control+z")
    wait_data(page, "paintedCells", lambda n: n == "0")
    assert page.evaluate(_territory_js(code)) == moved  # undoing the cells leaves the vertex edit
    page.keyboard.press("Control+y")
    wait_data(page, "paintedCells", lambda n: n == "3")
    page.click("#undo")
    page.click("#undo")
    wait_data(page, "historyAt", lambda n: n == "0")
    assert page.evaluate(_territory_js(code)) == before and page.is_disabled("#undo")
    # a new edit after undoing drops the states that were undone
    _drag_vertex(page, v, t)
    wait_data(page, "historyLength", lambda n: n == "2")
    assert page.is_disabled("#redo")
    check_clean(page)
    context.close()


def _shared_vertex(url: str, headers: dict) -> tuple[str, str, shapely.Point, shapely.Point, shapely.Point]:
    """Two neighbours, a vertex of their longest shared edge far from any third territory and the town's edge,
    a point 60 m across the edge from it, and the next vertex along the edge, shared too (lon/lat)."""
    from gis.crs import to_metric, to_storage

    _, territories = current(url, headers)
    codes = sorted(territories)
    a, b = max(((p, q) for p in codes for q in codes if p < q),
               key=lambda pq: territories[pq[0]].boundary.intersection(territories[pq[1]].boundary).length)
    metric = {c: to_metric(g) for c, g in territories.items()}
    town = requests.get(f"{url}/api/v1/layers/town", headers=headers, timeout=30).json()
    town_edge = to_metric(shape(town["features"][0]["geometry"])).boundary
    ring_a = max(getattr(metric[a], "geoms", [metric[a]]), key=lambda p: p.area).exterior
    coords = list(ring_a.coords)[:-1]
    on_b = [i for i, xy in enumerate(coords) if metric[b].boundary.distance(shapely.Point(xy)) < 0.01
            and town_edge.distance(shapely.Point(xy)) > 400
            and all(metric[c].distance(shapely.Point(xy)) > 400 for c in codes if c not in (a, b))]
    def long(i: int, j: int) -> bool:  # handles far enough apart to grab on screen, room to move
        return shapely.Point(coords[i]).distance(shapely.Point(coords[j])) > 40

    pairs = [i for i in on_b if i + 1 in on_b and i - 1 in on_b and long(i - 1, i) and long(i, i + 1)]
    i = pairs[len(pairs) // 2]
    (x0, y0), (x, y), (x1, y1) = coords[i - 1], coords[i], coords[i + 1]
    nx, ny = -(y1 - y0), x1 - x0
    norm = (nx * nx + ny * ny) ** 0.5
    return (a, b, to_storage(shapely.Point(x, y)), to_storage(shapely.Point(x + 60 * nx / norm, y + 60 * ny / norm)),
            to_storage(shapely.Point(x1, y1)))


@pytest.mark.browser
def test_a_shared_vertex_moves_for_both_neighbours(browser, own_live_server, planner, artifacts):
    from gis.crs import to_metric

    url, headers = own_live_server, planner[2]
    base, _ = current(url, headers)
    a, b, v, t, _ = _shared_vertex(url, headers)
    context, page = _planner_page(browser, url, planner)
    before = {c: _vertices(page, c) for c in (a, b)}
    _drag_vertex(page, v, t)
    wait_data(page, "sharedEdits", lambda n: int(n) >= 1)
    page.screenshot(path=str(artifacts / "planner_shared_vertex.png"))
    after = {c: _vertices(page, c) for c in (a, b)}
    added = {c: after[c] - before[c] for c in (a, b)}
    gone = {c: before[c] - after[c] for c in (a, b)}
    assert len(added[a]) == 1 and added[a] == added[b], added  # the vertex moved in both, to the same place
    assert len(gone[a]) == 1 and gone[a] == gone[b], gone
    assert shapely.Point(next(iter(gone[a]))).distance(v) < 1e-7  # the vertex dragged
    assert to_metric(shapely.Point(next(iter(added[a])))).distance(to_metric(t)) < 40  # where it was dropped
    page.click("#check-proposal")
    _expect_valid(page)
    assert page.locator("#planner-errors li").count() == 0
    page.fill("#save-version textarea[name=reason]", "移动共用顶点")
    page.click("#save-version button[type=submit]")
    wait_data(page, "savedVersion", timeout=60)
    check_clean(page)
    context.close()
    new, territories = current(url, headers)
    assert new > base
    overlap = to_metric(territories[a]).intersection(to_metric(territories[b])).area
    assert overlap < 1.0, overlap


@pytest.mark.browser
def test_a_vertex_added_on_a_shared_edge_is_added_for_both_neighbours(browser, own_live_server, planner):
    from gis.crs import to_metric

    url, headers = own_live_server, planner[2]
    a, b, v, _, w = _shared_vertex(url, headers)
    context, page = _planner_page(browser, url, planner)
    vertices = {c: _vertices(page, c) for c in (a, b)}
    centre_on(page, (v.y + w.y) / 2, (v.x + w.x) / 2, 18)  # 40 m apart: 80 px, the middle handle clear of both
    page.evaluate("nhMap.pm.enableGlobalEditMode() || null")
    (vx, vy), (wx, wy) = pixel(page, v.y, v.x), pixel(page, w.y, w.x)
    mx, my = (vx + wx) / 2, (vy + wy) / 2  # Geoman's middle handle of the edge
    dx, dy = -(wy - vy), wx - vx
    norm = (dx * dx + dy * dy) ** 0.5
    page.mouse.move(mx, my)
    page.mouse.down()
    page.mouse.move(mx + 40 * dx / norm, my + 40 * dy / norm, steps=10)
    page.mouse.up()
    drop = page.evaluate(f"(() => {{ const p = nhMap.containerPointToLatLng([{mx + 40 * dx / norm}"
                         f" - nhMap.getContainer().getBoundingClientRect().left, {my + 40 * dy / norm}"
                         " - nhMap.getContainer().getBoundingClientRect().top]); return [p.lng, p.lat]; })()")
    page.evaluate("nhMap.pm.disableGlobalEditMode() || null")
    wait_data(page, "sharedEdits", lambda n: int(n) >= 2)  # added, then moved, for the neighbour too
    target = to_metric(shapely.Point(drop))
    after = {c: _vertices(page, c) for c in (a, b)}
    added = {c: after[c] - vertices[c] for c in (a, b)}
    assert added[a] and added[a] == added[b], added  # the same new vertex in both
    assert all(to_metric(shapely.Point(xy)).distance(target) < 20 for xy in added[a])  # where it was dropped
    page.click("#check-proposal")
    _expect_valid(page)
    check_clean(page)
    context.close()


@pytest.mark.browser
def test_drawing_snaps_to_grid_cell_edges_when_asked(browser, own_live_server, planner):
    from gis.crs import to_metric

    url, headers = own_live_server, planner[2]
    _, territories = current(url, headers)
    found = cells(url, headers)
    code = max(territories, key=lambda c: territories[c].area)  # not an X station another test made
    inner = territories[code].buffer(-0.01)  # about 1 km inside: no territory edge to snap to instead
    cell = next(g for c, (o, g) in sorted(found.items()) if o == code and inner.contains(g))
    corner = shapely.Point(cell.exterior.coords[0])

    def draw(snap: bool, station: str) -> shapely.Geometry:
        context, page = _planner_page(browser, url, planner)
        if snap:
            page.check("#snap-cells")
            wait_data(page, "cellsLoaded", lambda n: int(n) > 8000, timeout=60)
        centre_on(page, corner.y, corner.x, 17)
        page.click("#add-station")
        page.fill("#new-station input[name=code]", station)
        page.fill("#new-station input[name=name]", "吸附测试站")
        page.click("#new-station button[type=submit]")
        page.mouse.click(*pixel(page, corner.y - 0.0004, corner.x + 0.0004))
        page.wait_for_timeout(200)
        x, y = pixel(page, corner.y, corner.x)
        clicks = [(x + 4, y - 3), (x + 160, y - 3), (x + 160, y + 150), (x + 4, y + 150)]
        for cx, cy in clicks:
            page.mouse.move(cx, cy, steps=6)
            page.wait_for_timeout(150)  # Geoman snaps its hint marker on mouse moves
            page.mouse.click(cx, cy)
            page.wait_for_timeout(150)
        page.mouse.click(*clicks[0])
        wait_data(page, "territoryDrawn", lambda v: v == station, timeout=10)
        drawn = shape(json.loads(page.evaluate(_territory_js(station))))
        check_clean(page)
        context.close()
        return drawn

    edges = to_metric(shapely.union_all([g.boundary for c, (o, g) in found.items() if g.distance(corner) < 0.002]))
    first = lambda g: to_metric(shapely.Point(g.exterior.coords[0] if g.geom_type == "Polygon"  # noqa: E731
                                              else g.geoms[0].exterior.coords[0]))
    snapped, free = draw(True, "JS-981"), draw(False, "JS-982")
    assert edges.distance(first(snapped)) < 0.05, edges.distance(first(snapped))  # on a cell edge
    assert edges.distance(first(free)) > 1.0  # where the click was, 4 px (about 4 m) off the corner


@pytest.mark.browser
def test_painted_cells_saved_as_a_draft_come_back_when_it_is_opened(browser, own_live_server, planner):
    url, headers = own_live_server, planner[2]
    _, target, chosen = band(url, headers, 3)
    found = cells(url, headers)
    context, page = _planner_page(browser, url, planner)
    page.click("#paint-cells")
    wait_data(page, "cellsLoaded", lambda n: int(n) > 8000, timeout=60)
    _fit(page, [found[c][1] for c in chosen])
    for c in chosen:
        p = found[c][1].representative_point()
        page.mouse.click(*pixel(page, p.y, p.x))
    wait_data(page, "selectedCells", lambda n: n == "3")
    page.select_option("#paint-station", target)
    page.click("#paint-assign")
    wait_data(page, "paintedCells", lambda n: n == "3")
    page.click("#draft-proposal")
    page.fill("#save-draft input[name=title]", "三个网格的草稿")
    page.click("#save-draft button[type=submit]")
    draft = wait_data(page, "draftSaved", timeout=30)
    assert "草稿已保存" in page.inner_text("#planner-step-box")
    page.goto(f"{url}/planner")
    wait_data(page, "coverageLoaded", lambda v: int(v) >= 3, timeout=30)
    page.click(f"button[data-draft='{draft}']")
    wait_data(page, "draftOpened", lambda v: v == draft)
    wait_data(page, "paintedCells", lambda n: n == "3")
    page.click("#check-proposal")
    _expect_valid(page)
    check_clean(page)
    context.close()
