"""Hot spots, emerging hot spots, early-warning alerts and the digest on cases made in the test's
transaction (years in the past, so other tests' cases never interfere), and the API over HTTP."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pytest

from app.analysis import alerts, digest, hotspots
from app.cases.worktime import BEIJING
from tests import factories

DAY = date(2021, 3, 28)  # a Sunday long before any other test's cases


def add_cases(session, cells, index: int, n: int, when: datetime, category: str = "06010", state: str = "filed"):
    """n cases at the representative point of cell `index`."""
    lon, lat = cells.lonlat[index]
    for _ in range(n):
        factories.stored_case(session, lon, lat, when, state=state, category=category, grid_code=cells.codes[index],
                              workstation_code=cells.workstation[index], station_code=cells.station[index] or "TC")
    session.flush()


def at(d: date, hour: int = 10) -> datetime:
    return datetime.combine(d, datetime.min.time(), BEIJING).replace(hour=hour)


def neighbours(cells, i: int, distance: float = 200.0) -> list[int]:
    return list(cells.weights(distance).neighbors[i])


@pytest.fixture
def cells(session):
    return hotspots.cell_set(session)


def centre_cell(cells) -> int:
    """A cell with many neighbours, away from the edge of the grid."""
    counts = np.array([len(cells.weights(200.0).neighbors[i]) for i in range(len(cells.codes))])
    return int(np.flatnonzero(counts == counts.max())[len(np.flatnonzero(counts == counts.max())) // 2])


def test_a_cluster_of_cases_is_a_hot_spot(session, cells):
    i = centre_cell(cells)
    add_cases(session, cells, i, 6, at(DAY - timedelta(days=10)))
    for j in neighbours(cells, i):
        add_cases(session, cells, j, 3, at(DAY - timedelta(days=9)))
    rng = np.random.default_rng(1)
    for j in rng.choice(len(cells.codes), 40, replace=False):  # scattered background
        add_cases(session, cells, int(j), 1, at(DAY - timedelta(days=20)))
    start, end = date(2021, 3, 1), DAY + timedelta(days=1)
    body = hotspots.hotspots_geojson(session, start, end, [], 200.0, 199)
    by_code = {f["properties"]["code"]: f["properties"] for f in body["features"]}
    centre = by_code[cells.codes[i]]
    assert centre["count"] == 6 and centre["class"] in ("hot_99", "hot_95") and centre["q"] <= 0.05
    assert body["analysis"]["cases"] == 6 + 3 * len(neighbours(cells, i)) + 40
    assert not any(p["class"].startswith("cold") for p in by_code.values())
    # a category filter that matches nothing leaves no spots; bbox keeps only what lies inside
    assert hotspots.hotspots_geojson(session, start, end, ["07"], 200.0, 99)["features"] == []
    lon, lat = cells.lonlat[i]
    box = (lon - 1e-4, lat - 1e-4, lon + 1e-4, lat + 1e-4)
    boxed = hotspots.hotspots_geojson(session, start, end, [], 200.0, 99, box)
    assert [f["properties"]["code"] for f in boxed["features"]] == [cells.codes[i]]


def test_emerging_and_alerts_find_a_new_surge(session, cells):
    i = centre_cell(cells)
    rng = np.random.default_rng(2)
    far = np.flatnonzero(np.hypot(*(cells.xy - cells.xy[i]).T) > 1000)
    for w in range(8):  # a thin background every week, away from the cluster
        for j in rng.choice(far, 15, replace=False):
            add_cases(session, cells, int(j), 1, at(DAY - timedelta(days=7 * w + 2)), category="06002")
    for j in [i, *neighbours(cells, i)]:  # the last week only: a cluster
        add_cases(session, cells, j, 4, at(DAY - timedelta(days=2)), category="06010")
    body = hotspots.emerging_geojson(session, DAY + timedelta(days=1), 8, ["06"], 200.0)
    by_code = {f["properties"]["code"]: f["properties"] for f in body["features"]}
    assert by_code[cells.codes[i]]["pattern"] == "new_hot"
    assert by_code[cells.codes[i]]["counts"][-1] == 4

    layer = alerts.geojson(session, DAY)
    mine = [f for f in layer["features"] if f["properties"]["cell"] == cells.codes[i]]
    assert [f["properties"]["module"] for f in mine] == ["city_appearance"]
    props = mine[0]["properties"]
    assert props["rule"] == "surge" and props["count"] == 4 and props["baseline"] < 1
    assert "市容环境预警" in props["message"] and mine[0]["geometry"]["type"] == "Polygon"
    # the week before had no surge
    assert not [f for f in alerts.geojson(session, DAY - timedelta(days=7))["features"]
                if f["properties"]["cell"] == cells.codes[i]]
    morning = digest.build(session, DAY, "week")
    grouped = {g["module"]: g for g in morning["alerts"]}
    cluster = {cells.codes[j] for j in [i, *neighbours(cells, i)]}
    assert grouped["city_appearance"]["count"] == len(cluster)  # every cell of the cluster surged
    assert {c["cell"] for c in grouped["city_appearance"]["cells"]} <= cluster  # the digest lists ten at most


def test_a_module_can_be_retuned_and_is_audited(session, cells):
    from sqlalchemy import select

    from app.accounts.models import AuditEntry

    i = centre_cell(cells)
    add_cases(session, cells, i, 2, at(DAY - timedelta(days=1)))
    assert not [f for f in alerts.geojson(session, DAY)["features"] if f["properties"]["cell"] == cells.codes[i]]
    alerts.update(session, "tester", "city_appearance", {"params": {"min_count": 2}})
    hits = [f for f in alerts.geojson(session, DAY)["features"] if f["properties"]["cell"] == cells.codes[i]]
    assert hits and hits[0]["properties"]["count"] == 2
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "warning_module.update")
                            .order_by(AuditEntry.id.desc())).first()
    assert entry.before["params"]["min_count"] == 3 and entry.after["params"]["min_count"] == 2
    from app.errors import InputError

    for bad in ({"params": {"factor": 0.5}}, {"params": {"weeks": 3}}, {"rule": "magic"},
                {"category_prefixes": ["6"]}):
        with pytest.raises(InputError):
            alerts.update(session, "tester", "city_appearance", bad)


def _get(client, path, token):
    return client.get(path, headers={"Authorization": f"Bearer {token}"})


def test_hotspot_and_alert_api(app, make_user):
    _, _, token = make_user("dispatcher")
    client = app.test_client()
    r = _get(client, "/api/v1/hotspots?from=2021-03-01&to=2021-04-01&permutations=99", token)
    assert r.status_code == 200 and r.get_json()["type"] == "FeatureCollection"
    assert r.get_json()["analysis"]["permutations"] == 99
    r = _get(client, "/api/v1/hotspots/emerging?weeks=6&to=2021-04-01", token)
    assert r.status_code == 200 and r.get_json()["analysis"]["weeks"] == 6
    r = _get(client, "/api/v1/alerts?date=2021-03-28&bbox=121.8,30.8,122.0,31.0", token)
    assert r.status_code == 200 and len(r.get_json()["modules"]) == 5
    for path, field, status in [("/api/v1/hotspots?from=2021-13-01", "from", 400),
                                ("/api/v1/hotspots?category=abc", "category", 422),
                                ("/api/v1/hotspots?permutations=100000", "permutations", 422),
                                ("/api/v1/hotspots?bbox=1,2,3", "bbox", 400),
                                ("/api/v1/hotspots/emerging?weeks=2", "weeks", 422),
                                ("/api/v1/alerts?date=yesterday", "date", 400)]:
        r = _get(client, path, token)
        assert (r.status_code, r.get_json()["field"]) == (status, field), path
    assert client.get("/api/v1/hotspots").status_code == 401
    r = client.put("/api/v1/alerts/modules/street_order", json={"active": False},
                   headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403
    assert _get(client, "/api/v1/alerts/modules", token).get_json()["modules"][0]["code"] == "advertising"


def test_gi_star_answers_are_kept_by_their_counts_and_equal_a_fresh_computation(session):
    from gis import spatial_stats as gh

    cells = hotspots.cell_set(session)
    y = np.zeros(len(cells.codes))
    y[:40] = 3
    first = cells.gi_star(y, 200.0, 99)
    assert cells.gi_star(y.copy(), 200.0, 99) is first  # the same counts: the kept answer
    fresh = gh.gi_star(y, cells.weights(200.0), permutations=99, seed=hotspots.SEED)
    assert np.array_equal(first.z, fresh.z) and np.array_equal(first.p, fresh.p)
    y[40] = 5
    assert cells.gi_star(y, 200.0, 99) is not first  # other counts: computed again


def test_the_hotspot_window_counts_cases_after_midnight_in_beijing(session, cells):
    """Just after midnight in Beijing it is still the day before in UTC: the Gi* of the window must count the
    cases of the Beijing day (it counted the UTC day's, and left these out)."""
    from datetime import UTC

    i = centre_cell(cells)
    night = datetime(2021, 4, 12, 0, 10, tzinfo=BEIJING)  # 2021-04-11 16:10 UTC
    add_cases(session, cells, i, 8, night)
    start, end = night - timedelta(minutes=5), (night + timedelta(minutes=20)).astimezone(UTC)
    from sqlalchemy import select

    from app.accounts.models import User

    viewer = session.scalar(select(User).where(User.username == factories.actor(session, "dispatcher")))
    found, _ = hotspots.window_counts(session, viewer, start.astimezone(UTC), end, cell=cells.codes[i])
    assert found and found[0]["properties"]["cases"] == 8
    assert found[0]["properties"]["z"] > 1.96  # eight cases in one cell of a quiet night: a hot spot
