"""Routes, patrol plans and siting against the illustrative road network and grid in PostGIS."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import gpxpy
import numpy as np
import pytest
import shapely
from geoalchemy2.shape import to_shape
from shapely.geometry import Point, shape
from sqlalchemy import select

from app.analysis import hotspots
from app.cases.worktime import BEIJING
from app.errors import InputError
from app.field import network, patrols
from app.territory import siting
from app.territory.models import AdminArea, Station
from gis.crs import to_metric
from tests import factories
from tests.factories import bearer

DAY = date(2021, 6, 15)


def test_route_api(app, make_user):
    _, _, token = make_user("dispatcher")
    client = app.test_client()
    r = client.get("/api/v1/route?from=121.90,30.90&to=121.95,30.88", headers=bearer(token))
    assert r.status_code == 200
    body = r.get_json()
    line = to_metric(shape(body["geometry"]))
    props = body["properties"]
    assert body["geometry"]["type"] == "LineString" and props["length_m"] > 5000 and props["time_s"] > 0
    assert line.length == pytest.approx(props["length_m"], rel=1e-3)
    by_length = client.get("/api/v1/route?from=121.90,30.90&to=121.95,30.88&by=length", headers=bearer(token))
    assert by_length.get_json()["properties"]["length_m"] <= props["length_m"] + 1e-6
    assert by_length.get_json()["properties"]["time_s"] >= props["time_s"] - 1e-6
    r = client.get("/api/v1/route?from=122.3,30.90&to=121.95,30.88", headers=bearer(token))
    assert r.status_code == 422 and r.get_json()["error"] == "unreachable" and r.get_json()["field"] == "from"
    for query, field in [("from=121.9&to=121.95,30.88", "from"), ("from=121.9,30.9&to=abc,def", "to"),
                         ("from=121.9,30.9&to=121.95,30.88&by=speed", "by")]:
        r = client.get(f"/api/v1/route?{query}", headers=bearer(token))
        assert r.status_code == 400 and r.get_json()["field"] == field, query
    assert client.get("/api/v1/route?from=121.90,30.90&to=121.95,30.88").status_code == 401


def test_route_agrees_with_networkx_dijkstra(session):
    import networkx as nx

    net = network.get(session)
    rng = np.random.default_rng(9)
    nodes = sorted(net.core)
    for a, b in rng.choice(nodes, size=(10, 2)):
        expected = nx.dijkstra_path_length(net.graph, int(a), int(b), weight="time")
        got = net.route(net.node_snap(int(a)), net.node_snap(int(b)), "time").time_s
        assert got == pytest.approx(expected)


def _open_case(session, station: Station, lon: float, lat: float, urgency: str, deadline: datetime | None):
    factories.stored_case(session, lon, lat, datetime.combine(DAY, datetime.min.time(), BEIJING) - timedelta(days=1),
                          state="dispatched", urgency=urgency, description="patrol test", station_code=station.code,
                          grid_code=None, deadline_at=deadline)


def test_patrol_plan_fits_the_shift_and_is_stored(session):
    station = session.scalar(select(Station).where(Station.code == "JS-003"))
    home = to_shape(station.location)
    rng = np.random.default_rng(4)
    noon = datetime.combine(DAY, datetime.min.time(), BEIJING).replace(hour=12)
    for k in range(25):
        lon, lat = home.x + rng.uniform(-0.02, 0.02), home.y + rng.uniform(-0.015, 0.015)
        _open_case(session, station, lon, lat, ("normal", "urgent", "emergency")[k % 3],
                   noon - timedelta(hours=1) if k % 4 == 0 else None)
    session.flush()
    route = patrols.plan(session, "tester", {"station": "JS-003", "date": DAY.isoformat(), "shift_hours": 1,
                                             "speed_kph": 12, "stop_minutes": 4, "time_limit_s": 1})
    assert 0 < len(route.stops) < 25  # an hour is not enough for all of them
    assert route.duration_s <= 3600
    travel = route.solver["travel_s"]
    assert travel + 240 * len(route.stops) == route.duration_s
    line = to_shape(route.geom)
    assert Point(line.coords[0]).distance(home) < 0.01 and line.coords[0] == line.coords[-1]  # a closed tour
    # the walked length is consistent with the time at 12 km/h
    assert route.length_m / (12 / 3.6) == pytest.approx(travel, rel=0.02, abs=len(route.stops) + 2)
    assert [s["seq"] for s in route.stops] == list(range(1, len(route.stops) + 1))
    arrivals = [s["arrive_s"] for s in route.stops]
    assert arrivals == sorted(arrivals) and arrivals[-1] <= 3600
    # the emergencies and overdue cases are worth most and are visited first if they fit
    values = sorted((s["value"] for s in route.stops), reverse=True)
    assert values[0] >= 16.0  # 2 x emergency 4 x overdue... or urgent overdue
    # re-planning the same station and day replaces the route
    again = patrols.plan(session, "tester", {"station": "JS-003", "date": DAY.isoformat(), "shift_hours": 0.5,
                                             "time_limit_s": 0.5})
    assert again.id == route.id and again.duration_s <= 1800
    doc = gpxpy.parse(patrols.gpx(again, station.name))
    assert len(doc.waypoints) == len(again.stops) and len(doc.tracks[0].segments[0].points) >= 2
    body = patrols.detail_geojson(again)
    assert body["features"][0]["geometry"]["type"] == "LineString"
    assert len(body["features"]) == 1 + len(again.stops)


@pytest.mark.parametrize("payload,field", [
    ({"station": "NOPE"}, "station"), ({"station": "JS-001", "shift_hours": 20}, "shift_hours"),
    ({"station": "JS-001", "speed_kph": "fast"}, "speed_kph"), ({"station": "JS-001", "date": "June"}, "date"),
    ({"station": "JS-001", "assignee": "nobody-here"}, "assignee"),
])
def test_patrol_plan_refuses_bad_input(session, payload, field):
    with pytest.raises(InputError) as exc:
        patrols.parse(session, payload)
    assert exc.value.field == field


def test_patrol_api_plan_list_export_assign(app, make_user):
    _, _, dispatcher = make_user("dispatcher")
    client = app.test_client()
    r = client.post("/api/v1/patrols/plan", headers=bearer(dispatcher),
                    json={"station": "JS-001", "date": "2021-07-01", "shift_hours": 2, "time_limit_s": 0.5})
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["duration_s"] <= 7200 and body["station_code"] == "JS-001"
    rid = body["id"]
    gpx = client.get(f"/api/v1/patrols/{rid}.gpx", headers=bearer(dispatcher))
    assert gpx.status_code == 200 and gpx.mimetype == "application/gpx+xml"
    gpxpy.parse(gpx.data.decode())
    geo = client.get(f"/api/v1/patrols/{rid}.geojson", headers=bearer(dispatcher))
    assert geo.status_code == 200 and geo.get_json()["id"] == rid
    listed = client.get("/api/v1/patrols?date=2021-07-01", headers=bearer(dispatcher)).get_json()
    assert [f["id"] for f in listed["features"]] == [rid]
    far = client.get("/api/v1/patrols?date=2021-07-01&bbox=100,10,100.1,10.1", headers=bearer(dispatcher))
    assert far.get_json()["features"] == []
    officer, _, patrol_token = make_user("patrol", station_code="JS-001")
    other, _, other_token = make_user("patrol", station_code="JS-002")
    r = client.post(f"/api/v1/patrols/{rid}/assign", headers=bearer(dispatcher), json={"assignee": other})
    assert r.status_code == 422 and r.get_json()["field"] == "assignee"
    r = client.post(f"/api/v1/patrols/{rid}/assign", headers=bearer(dispatcher), json={"assignee": officer})
    assert r.status_code == 200 and r.get_json()["assignee"] == officer
    mine = client.get("/api/v1/patrols?assignee=me", headers=bearer(patrol_token)).get_json()
    assert rid in [f["id"] for f in mine["features"]]
    assert client.get(f"/api/v1/patrols/{rid}.gpx", headers=bearer(other_token)).status_code == 403
    assert client.post("/api/v1/patrols/plan", headers=bearer(patrol_token), json={"station": "JS-001"}).status_code \
        == 403


def _cluster(session, cells, centre: int, n: int, when: date):
    near = np.flatnonzero(np.hypot(*(cells.xy - cells.xy[centre]).T) < 300)
    for j in near:
        lon, lat = cells.lonlat[j]
        for _ in range(n):
            factories.stored_case(session, lon, lat, datetime.combine(when, datetime.min.time(), BEIJING),
                                  category="09006", description="siting test", grid_code=cells.codes[j],
                                  station_code=cells.station[j] or "TC")
    session.flush()
    return near


def test_siting_puts_a_station_by_the_far_demand_and_drafts_territories(session):
    cells = hotspots.cell_set(session)
    stations = siting.existing_stations(session)
    home = np.array([to_metric(to_shape(s.location)).coords[0] for s in stations])
    far = int(np.argmax(np.min(np.hypot(cells.xy[:, None, 0] - home[None, :, 0],
                                        cells.xy[:, None, 1] - home[None, :, 1]), axis=1)))
    near = _cluster(session, cells, far, 3, date(2020, 5, 1))
    payload = {"k": 1, "service_m": 1500, "from": "2020-01-01", "to": "2021-01-01", "time_limit_s": 10}
    body = siting.propose_sites(session, payload)
    assert body["coverage"]["before"]["covered_share"] == 0  # the stations are far away
    assert body["coverage"]["after"]["covered_share"] == 1.0  # one site covers the whole cluster
    site = body["sites"]["features"][0]["properties"]
    assert body["demand"]["cases"] == 3 * len(near)
    pmedian = siting.propose_sites(session, {**payload, "method": "pmedian"})
    assert pmedian["coverage"]["after"]["mean_distance_m"] < pmedian["coverage"]["before"]["mean_distance_m"]
    with pytest.raises(InputError):
        siting.propose_sites(session, {**payload, "from": "2019-01-01", "to": "2019-02-01"})  # no demand

    draft = siting.propose_territories(session, "tester", {"sites": [{"lon": site["lon"], "lat": site["lat"]}],
                                                           "from": "2020-01-01", "to": "2021-01-01"})
    proposal = draft.proposal
    codes = [f["properties"]["station_code"] for f in proposal["coverage"]["features"]]
    new_code = proposal["new_stations"][0]["code"]  # other tests may have added X stations already
    assert codes == [s.code for s in stations] + [new_code] and new_code.startswith("JS-")
    assert new_code not in {s.code for s in stations}
    polygons = [shape(f["geometry"]) for f in proposal["coverage"]["features"]]
    town = to_shape(session.scalar(select(AdminArea.geom).where(AdminArea.level == "town",
                                                                AdminArea.version_high.is_(None))))
    areas = [to_metric(p).area for p in polygons]
    assert sum(areas) == pytest.approx(to_metric(town).area, rel=1e-4)  # the territories tile the town
    assert to_metric(shapely.union_all(polygons)).area == pytest.approx(sum(areas), rel=1e-6)  # no overlaps
    new_station = next(s for s in draft.stats["stations"] if s["code"] == new_code)
    assert new_station["new"] and new_station["workload"] == 3 * len(near)  # it takes the whole cluster
    assert polygons[-1].covers(Point(cells.lonlat[far]))
    # The draft is in the planner console's save format.
    from app.territory import planning

    parsed = planning.parse(session, proposal)
    features, new = parsed.features, parsed.new_stations
    assert len(features) == len(codes) and new[0]["code"] == new_code


def test_planning_api_and_drafts(app, make_user):
    _, _, planner = make_user("planner")
    _, _, dispatcher = make_user("dispatcher")
    client = app.test_client()
    r = client.post("/api/v1/planning/territories", headers=bearer(planner),
                    json={"sites": [{"lon": 121.93, "lat": 30.93, "name": "测试站"}], "balance": True,
                          "title": "test draft"})
    assert r.status_code == 201, r.get_json()
    draft = r.get_json()
    got = client.get(f"/api/v1/planning/drafts/{draft['id']}", headers=bearer(planner)).get_json()
    assert got["proposal"] == draft["proposal"] and got["status"] == "draft"
    assert got["proposal"]["new_stations"][0]["name"] == "测试站"
    edited = dict(got["proposal"], reason="moved the line")
    r = client.put(f"/api/v1/planning/drafts/{draft['id']}", headers=bearer(planner),
                   json={"proposal": edited, "title": "edited"})
    assert r.status_code == 200 and r.get_json()["proposal"]["reason"] == "moved the line"
    r = client.put(f"/api/v1/planning/drafts/{draft['id']}", headers=bearer(planner), json={"status": "sent"})
    assert r.status_code == 422 and r.get_json()["field"] == "status"
    listed = client.get("/api/v1/planning/drafts?status=draft", headers=bearer(planner)).get_json()["drafts"]
    assert draft["id"] in [d["id"] for d in listed] and "proposal" not in listed[0]
    assert client.get(f"/api/v1/planning/drafts/{draft['id']}", headers=bearer(dispatcher)).status_code == 403
    assert client.post("/api/v1/planning/sites", headers=bearer(dispatcher), json={"k": 1}).status_code == 403
    r = client.post("/api/v1/planning/sites", headers=bearer(planner), json={"k": 0})
    assert r.status_code == 422 and r.get_json()["field"] == "k"
    r = client.post("/api/v1/planning/territories", headers=bearer(planner), json={"sites": [{"lon": 130, "lat": 30}]})
    assert r.status_code == 422 and r.get_json()["error"] == "unreachable"
    assert client.get("/api/v1/planning/drafts/999999", headers=bearer(planner)).status_code == 404
