"""The road network of this process, read from the `roads` table and rebuilt when the roads change.

Each use asks PostGIS for a cheap fingerprint of the table (count, max id, total length), so an
import of a new road layer reaches every worker without a restart.
"""

from __future__ import annotations

import shapely
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import cache
from app.errors import Conflict
from app.territory.models import Road
from gis.crs import METRIC_EPSG, STORAGE_EPSG, to_metric, to_storage, transformer
from routing.network import RoadNetwork, Route, Segment, Snap


def fingerprint(session: Session) -> tuple:
    """Changes whenever the road layer is replaced."""
    return tuple(session.execute(
        select(func.count(Road.id), func.max(Road.id), func.round(func.sum(Road.length_m)))
    ).one())


def _loaded(session: Session) -> tuple:
    key = fingerprint(session)
    if not key[0]:
        raise Conflict("no_roads", "no road network is loaded")
    return key


ROADS = cache.Cached("roads", _loaded, lambda session, key, _settings: build(session, key))


def get(session: Session) -> RoadNetwork:
    """The network of the current roads (built once per change and process)."""
    return cache.get(ROADS, session)


def build(session: Session, key: tuple | None = None) -> RoadNetwork:
    """Read every road segment into a network (metric coordinates)."""
    rows = session.execute(
        select(Road.id, Road.name, Road.kind, Road.oneway, Road.speed_kph, Road.geom).order_by(Road.id)
    ).all()
    lines = to_metric(shapely.from_wkb([bytes(r.geom.data) for r in rows])) if rows else []
    segments = [Segment(r.id, r.name, r.kind, bool(r.oneway), float(r.speed_kph or 30.0), line)
                for r, line in zip(rows, lines, strict=True)]
    return RoadNetwork(segments, key=key)


def to_xy(lon: float, lat: float) -> tuple[float, float]:
    """WGS84 -> EPSG:4550."""
    x, y = transformer(STORAGE_EPSG, METRIC_EPSG).transform(lon, lat)
    return float(x), float(y)


def snap(net: RoadNetwork, lon: float, lat: float, field: str, max_m: float) -> Snap:
    """Snap a WGS84 point; Unreachable names the field when it is too far from every road."""
    x, y = to_xy(lon, lat)
    return net.snap(x, y, field=field, max_m=max_m)


def route_feature(net: RoadNetwork, route: Route, a: Snap, b: Snap, weight: str) -> dict:
    """A GeoJSON Feature (LineString in WGS84) of a route."""
    line = to_storage(shapely.LineString(route.coords))
    return {
        "type": "Feature",
        "geometry": shapely.geometry.mapping(line),
        "properties": {
            "length_m": round(route.length_m, 1), "time_s": round(route.time_s, 1),
            "minutes": round(route.time_s / 60, 1), "by": weight,
            "from_snap_m": round(a.distance, 1), "to_snap_m": round(b.distance, 1),
            "roads": _road_names(net, route),
        },
    }


def _road_names(net: RoadNetwork, route: Route) -> list[str]:
    names: list[str] = []
    for p, q in zip(route.nodes[:-1], route.nodes[1:], strict=True):
        name = net.segments[net.graph.edges[p, q]["seg"]].name
        if not names or names[-1] != name:
            names.append(name)
    return names


def route(session: Session, frm: tuple[float, float], to: tuple[float, float], weight: str = "time",
          max_snap_m: float = 500.0) -> dict:
    """GET /api/v1/route: the best path between two WGS84 points as a GeoJSON Feature."""
    net = get(session)
    a = snap(net, *frm, field="from", max_m=max_snap_m)
    b = snap(net, *to, field="to", max_m=max_snap_m)
    return route_feature(net, net.route(a, b, weight), a, b, weight)

