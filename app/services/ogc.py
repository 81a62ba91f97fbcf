"""OGC API - Features (Part 1, Core): the collections, their query parameters and their features. No Flask.

Each collection is a `Collection`: its metadata and two functions, one for a page of items and one
for a single item. The registry `COLLECTIONS` is plain data, so a later module (hotspot statistics,
stored patrol routes) replaces an entry with `register()` without touching the views.
Geometries are served in CRS84 (WGS84 lon/lat, the storage CRS).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from geoalchemy2 import functions as gf
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from app.models import Address, AdminArea, Case, GridCell, Road, Station, StationCoverage, User
from app.services import caselist
from app.services.boundaries import current_version_id
from app.services.errors import InputError
from app.workflow.worktime import BEIJING

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
]
DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000
HOTSPOT_DAYS = 90
PRECISION = 7
ITEM_PARAMS = frozenset({"bbox", "limit", "offset", "datetime", "version", "f", "lang"})


@dataclass(frozen=True)
class ItemQuery:
    """The checked query parameters of /collections/{id}/items."""

    user: User | None
    bbox: tuple[float, float, float, float] | None = None
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    start: datetime | None = None  # datetime interval, closed; None: open
    end: datetime | None = None
    version: int | None = None
    now: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class ItemPage:
    """Features of one page and how many match in all."""

    features: list[dict]
    matched: int


@dataclass(frozen=True)
class Collection:
    """One feature collection: what it is and how to read it."""

    id: str
    title: str  # English; the view translates it
    description: str
    geometry: str  # GeoJSON geometry type of every feature
    items: Callable[[Session, ItemQuery], ItemPage]
    item: Callable[[Session, ItemQuery, str], dict | None]
    temporal: str | None = None  # the property `datetime` filters on
    versioned: bool = False  # accepts ?version= (a boundary version id)
    id_type: str = "string"


# --------------------------------------------------------------------------------------------
# Query parameters
# --------------------------------------------------------------------------------------------


def parse_items_query(args, user: User | None, collection: Collection, now: datetime | None = None) -> ItemQuery:
    """Check the query parameters of an items request; InputError(400) names the bad one."""
    unknown = sorted(set(args) - ITEM_PARAMS)
    if unknown:
        raise InputError(unknown[0], f"unknown query parameter {unknown[0]!r}; known: {', '.join(sorted(ITEM_PARAMS))}",
                         400)
    start, end = parse_datetime(args.get("datetime"))
    version = _version(args.get("version"))
    if version is not None and not collection.versioned:
        raise InputError("version", f"collection {collection.id} is not versioned", 400)
    return ItemQuery(
        user=user, bbox=parse_bbox(args.get("bbox")), limit=_limit(args.get("limit")),
        offset=_whole(args.get("offset"), "offset", 0), start=start, end=end, version=version,
        now=now or datetime.now(UTC),
    )


def parse_bbox(raw: str | None) -> tuple[float, float, float, float] | None:
    """minlon,minlat,maxlon,maxlat (or the 6-number form with heights, which are ignored)."""
    if raw is None or raw == "":
        return None
    try:
        values = [float(v) for v in raw.split(",")]
    except ValueError:
        raise InputError("bbox", "bbox must be 4 numbers: minlon,minlat,maxlon,maxlat", 400) from None
    if len(values) == 6:
        values = [values[0], values[1], values[3], values[4]]
    if len(values) != 4 or any(v != v or v in (float("inf"), float("-inf")) for v in values):
        raise InputError("bbox", "bbox must be 4 numbers: minlon,minlat,maxlon,maxlat", 400)
    minx, miny, maxx, maxy = values
    if not (-180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise InputError("bbox", "bbox must be in CRS84: longitudes -180..180, latitudes -90..90, minlat <= maxlat",
                         400)
    if minx > maxx:
        raise InputError("bbox", "a bbox across the antimeridian is not supported here", 400)
    return minx, miny, maxx, maxy


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_datetime(raw: str | None) -> tuple[datetime | None, datetime | None]:
    """An instant or a closed interval `start/end`, either end open as `..` or empty (RFC 3339)."""
    if raw is None or raw == "":
        return None, None
    if "/" not in raw:
        start, end = _instant(raw, end=False), _instant(raw, end=True)
        return start, end
    left, _, right = raw.partition("/")
    start = None if left in ("", "..") else _instant(left, end=False)
    end = None if right in ("", "..") else _instant(right, end=True)
    if start is not None and end is not None and start > end:
        raise InputError("datetime", "datetime interval ends before it starts", 400)
    return start, end


def _instant(text: str, end: bool) -> datetime:
    """A date (the whole day, Beijing time) or a date-time; a time without zone is Beijing time."""
    text = text.strip()
    try:
        if _DATE.match(text):
            day = datetime.fromisoformat(text).replace(tzinfo=BEIJING)
            return day + timedelta(days=1) - timedelta(microseconds=1) if end else day
        value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InputError("datetime", f"{text!r} is not an RFC 3339 date or date-time", 400) from None
    return value if value.tzinfo else value.replace(tzinfo=BEIJING)


def _limit(raw: str | None) -> int:
    value = _whole(raw, "limit", DEFAULT_LIMIT)
    if value < 1:
        raise InputError("limit", f"limit must be between 1 and {MAX_LIMIT}", 400)
    return min(value, MAX_LIMIT)  # larger asks get the maximum, as the spec permits


def _whole(raw: str | None, name: str, default: int) -> int:
    if raw is None or raw == "":
        return default
    if not re.fullmatch(r"\d{1,12}", raw.strip()):
        raise InputError(name, f"{name} must be a whole number, got {raw[:40]!r}", 400)
    return int(raw)


def _version(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    return _whole(raw, "version", 0)


# --------------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------------


def _envelope(bbox):
    return func.ST_MakeEnvelope(*bbox, 4326)


def _page(session: Session, q: ItemQuery, columns: list, geom, where: list, order: list,
          feature: Callable[[object, dict], dict]) -> ItemPage:
    """Count and fetch one page of a table, the geometry as GeoJSON."""
    where = list(where)
    if q.bbox is not None:
        where.append(geom.intersects(_envelope(q.bbox)))
    matched = session.scalar(select(func.count()).select_from(geom.class_).where(*where))
    rows = session.execute(
        select(*columns, gf.ST_AsGeoJSON(geom, PRECISION).label("geojson"))
        .where(*where).order_by(*order).offset(q.offset).limit(q.limit)
    ).all()
    return ItemPage([feature(r, json.loads(r.geojson)) for r in rows], matched)


def _one(session: Session, columns: list, geom, where: list, feature) -> dict | None:
    row = session.execute(
        select(*columns, gf.ST_AsGeoJSON(geom, PRECISION).label("geojson")).where(*where).limit(1)
    ).first()
    return None if row is None else feature(row, json.loads(row.geojson))


def _version_of(session: Session, q: ItemQuery) -> int | None:
    return q.version if q.version is not None else current_version_id(session)


def _valid_in(model, version: int | None):
    """Rows of a versioned layer valid in `version` (rows carry version_low..version_high, NULL = current)."""
    if version is None:
        return model.version_high.is_(None)
    return and_(model.version_low <= version, or_(model.version_high.is_(None), model.version_high >= version))


def feature(fid, geometry: dict, properties: dict) -> dict:
    """A GeoJSON feature."""
    return {"type": "Feature", "id": fid, "geometry": geometry, "properties": properties}


# --------------------------------------------------------------------------------------------
# Boundary collections
# --------------------------------------------------------------------------------------------


_CELL_COLUMNS = [GridCell.code, GridCell.workstation_code, GridCell.community_code, GridCell.area_m2,
                 GridCell.illustrative, GridCell.version_low, GridCell.version_high]


def _cell_feature(r, geometry: dict) -> dict:
    return feature(r.code, geometry, {
        "code": r.code, "workstation_code": r.workstation_code, "community_code": r.community_code,
        "area_m2": round(r.area_m2, 1), "illustrative": r.illustrative,
        "version_low": r.version_low, "version_high": r.version_high,
    })


def grid_items(session: Session, q: ItemQuery) -> ItemPage:
    """Unit grid cells of a boundary version (default: the current one)."""
    where = [_valid_in(GridCell, q.version)]
    return _page(session, q, _CELL_COLUMNS, GridCell.geom, where, [GridCell.code], _cell_feature)


def grid_item(session: Session, q: ItemQuery, fid: str) -> dict | None:
    """One grid cell by its 15-digit code."""
    return _one(session, _CELL_COLUMNS, GridCell.geom, [_valid_in(GridCell, q.version), GridCell.code == fid],
                _cell_feature)


_AREA_COLUMNS = [AdminArea.level, AdminArea.code, AdminArea.name, AdminArea.name_en, AdminArea.parent_code,
                 AdminArea.kind, AdminArea.area_m2, AdminArea.illustrative, AdminArea.version_low,
                 AdminArea.version_high]


def _area_feature(r, geometry: dict) -> dict:
    props = {"code": r.code, "name": r.name, "name_en": r.name_en, "parent_code": r.parent_code}
    if r.level == "workstation":
        props["community_code"] = r.parent_code  # the name the boundary importer reads
    return feature(r.code, geometry, {
        **props, "kind": r.kind, "area_m2": round(r.area_m2, 1), "illustrative": r.illustrative,
        "version_low": r.version_low, "version_high": r.version_high,
    })


def admin_source(level: str):
    """Items and item functions for the town, communities or workstation territories."""

    def items(session: Session, q: ItemQuery) -> ItemPage:
        where = [AdminArea.level == level, _valid_in(AdminArea, q.version)]
        return _page(session, q, _AREA_COLUMNS, AdminArea.geom, where, [AdminArea.code], _area_feature)

    def item(session: Session, q: ItemQuery, fid: str) -> dict | None:
        where = [AdminArea.level == level, _valid_in(AdminArea, q.version), AdminArea.code == fid]
        return _one(session, _AREA_COLUMNS, AdminArea.geom, where, _area_feature)

    return items, item


_STATION_COLUMNS = [Station.code, Station.name, Station.name_en, Station.tier, Station.parent_code,
                    Station.community_code, Station.workstation_code, Station.illustrative]


def _station_feature(r, geometry: dict) -> dict:
    return feature(r.code, geometry, {
        "code": r.code, "name": r.name, "name_en": r.name_en, "tier": r.tier, "parent_code": r.parent_code,
        "community_code": r.community_code, "workstation_code": r.workstation_code, "illustrative": r.illustrative,
    })


def station_items(session: Session, q: ItemQuery) -> ItemPage:
    """Active stations."""
    return _page(session, q, _STATION_COLUMNS, Station.location, [Station.active.is_(True)], [Station.code],
                 _station_feature)


def station_item(session: Session, q: ItemQuery, fid: str) -> dict | None:
    """One station by code."""
    return _one(session, _STATION_COLUMNS, Station.location, [Station.active.is_(True), Station.code == fid],
                _station_feature)


_COVERAGE_COLUMNS = [StationCoverage.station_code, StationCoverage.version_id, StationCoverage.area_m2,
                     StationCoverage.illustrative]


def _coverage_feature(r, geometry: dict) -> dict:
    return feature(r.station_code, geometry, {
        "station_code": r.station_code, "version": r.version_id, "area_m2": round(r.area_m2, 1),
        "illustrative": r.illustrative,
    })


def coverage_items(session: Session, q: ItemQuery) -> ItemPage:
    """Station coverage of a boundary version (default: the current one)."""
    where = [StationCoverage.version_id == _version_of(session, q)]
    return _page(session, q, _COVERAGE_COLUMNS, StationCoverage.geom, where, [StationCoverage.station_code],
                 _coverage_feature)


def coverage_item(session: Session, q: ItemQuery, fid: str) -> dict | None:
    """The territory of one station in a version."""
    where = [StationCoverage.version_id == _version_of(session, q), StationCoverage.station_code == fid]
    return _one(session, _COVERAGE_COLUMNS, StationCoverage.geom, where, _coverage_feature)


_ROAD_COLUMNS = [Road.id, Road.name, Road.name_en, Road.kind, Road.oneway, Road.speed_kph, Road.length_m,
                 Road.illustrative]


def _road_feature(r, geometry: dict) -> dict:
    return feature(r.id, geometry, {
        "name": r.name, "name_en": r.name_en, "kind": r.kind, "oneway": r.oneway, "speed_kph": r.speed_kph,
        "length_m": round(r.length_m, 1), "illustrative": r.illustrative,
    })


def road_items(session: Session, q: ItemQuery) -> ItemPage:
    """Road centre lines."""
    return _page(session, q, _ROAD_COLUMNS, Road.geom, [], [Road.id], _road_feature)


def road_item(session: Session, q: ItemQuery, fid: str) -> dict | None:
    """One road segment."""
    if not re.fullmatch(r"\d{1,9}", fid):
        return None
    return _one(session, _ROAD_COLUMNS, Road.geom, [Road.id == int(fid)], _road_feature)


_ADDRESS_COLUMNS = [Address.id, Address.kind, Address.address, Address.road, Address.number, Address.compound,
                    Address.building, Address.name, Address.place_type, Address.illustrative]


def _address_feature(r, geometry: dict) -> dict:
    return feature(r.id, geometry, {
        "kind": r.kind, "address": r.address, "road": r.road, "number": r.number, "compound": r.compound,
        "building": r.building, "name": r.name, "place_type": r.place_type, "illustrative": r.illustrative,
    })


def address_items(session: Session, q: ItemQuery) -> ItemPage:
    """Address points: house numbers, buildings, named places."""
    return _page(session, q, _ADDRESS_COLUMNS, Address.geom, [], [Address.id], _address_feature)


def address_item(session: Session, q: ItemQuery, fid: str) -> dict | None:
    """One address point."""
    if not re.fullmatch(r"\d{1,9}", fid):
        return None
    return _one(session, _ADDRESS_COLUMNS, Address.geom, [Address.id == int(fid)], _address_feature)


# --------------------------------------------------------------------------------------------
# Cases, hotspots, patrol routes
# --------------------------------------------------------------------------------------------


def _case_query(q: ItemQuery) -> caselist.CaseQuery:
    until = q.end + timedelta(microseconds=1) if q.end else None  # closed interval; the case list is half-open
    return caselist.CaseQuery(since=q.start, until=until, bbox=q.bbox, limit=q.limit, offset=q.offset)


def case_items(session: Session, q: ItemQuery) -> ItemPage:
    """Cases the caller may see (handlers their department's, patrol staff their station's), newest first."""
    page = caselist.find(session, _case_query(q), q.user, q.now)
    return ItemPage(page.as_geojson()["features"], page.matched)


def case_item(session: Session, q: ItemQuery, fid: str) -> dict | None:
    """One case, if the caller may see it."""
    if not re.fullmatch(r"\d{1,18}", fid):
        return None
    light = caselist.light_expression(q.now).label("light")
    row = session.execute(
        select(Case, func.ST_X(Case.geom), func.ST_Y(Case.geom), light)
        .where(Case.id == int(fid), caselist.scope(q.user))
    ).first()
    return None if row is None else caselist.Page([row], 1, 0, None).as_geojson()["features"][0]


OGC_PERMUTATIONS = 199  # fewer than the API's 999: a collection page is read often


def _hotspot_window(q: ItemQuery) -> tuple[datetime, datetime]:
    end = q.end or q.now
    start = q.start or end - timedelta(days=HOTSPOT_DAYS)
    return start, end


def _hotspot_select(q: ItemQuery):
    start, end = _hotspot_window(q)
    count = func.count(Case.id).label("cases")
    where = [GridCell.version_high.is_(None), Case.first_reported_at >= start, Case.first_reported_at <= end,
             caselist.scope(q.user)]
    if q.bbox is not None:
        where.append(GridCell.geom.intersects(_envelope(q.bbox)))
    return (select(GridCell.code, GridCell.workstation_code, GridCell.community_code, count)
            .join(Case, Case.grid_code == GridCell.code).where(*where)
            .group_by(GridCell.code, GridCell.workstation_code, GridCell.community_code)), start, end


def _gistar(session: Session, start: datetime, end: datetime) -> dict:
    """Getis-Ord Gi* of the window (all cases; the same analysis as GET /api/v1/hotspots): code -> z, p, class."""
    from app.services import hotspots

    cells, _, g = hotspots.hotspots(session, start.date(), end.date() + timedelta(days=1), [],
                                    hotspots.DEFAULT_DISTANCE_M, OGC_PERMUTATIONS)
    return {code: (round(float(g.z[i]), 3), round(float(g.p[i]), 4), g.classes[i])
            for i, code in enumerate(cells.codes)}


def _hotspot_features(session: Session, stmt, start: datetime, end: datetime) -> list[dict]:
    counted = stmt.subquery()
    rows = session.execute(
        select(counted, gf.ST_AsGeoJSON(GridCell.geom, PRECISION).label("geojson"))
        .join(GridCell, and_(GridCell.code == counted.c.code, GridCell.version_high.is_(None)))
        .order_by(counted.c.cases.desc(), counted.c.code)
    ).all()
    stats = _gistar(session, start, end) if rows else {}
    return [feature(r.code, json.loads(r.geojson), {
        "code": r.code, "workstation_code": r.workstation_code, "community_code": r.community_code,
        "cases": r.cases, "from": start.isoformat(), "to": end.isoformat(),
        **dict(zip(("z", "p", "class"), stats.get(r.code, (None, None, None)), strict=True)),
    }) for r in rows]


def hotspot_items(session: Session, q: ItemQuery) -> ItemPage:
    """Grid cells with their case count in the `datetime` window (default: the last 90 days), busiest first."""
    stmt, start, end = _hotspot_select(q)
    matched = session.scalar(select(func.count()).select_from(stmt.subquery()))
    ordered = stmt.order_by(func.count(Case.id).desc(), GridCell.code).offset(q.offset).limit(q.limit)
    return ItemPage(_hotspot_features(session, ordered, start, end), matched)


def hotspot_item(session: Session, q: ItemQuery, fid: str) -> dict | None:
    """One cell's count in the window."""
    stmt, start, end = _hotspot_select(q)
    found = _hotspot_features(session, stmt.where(GridCell.code == fid), start, end)
    return found[0] if found else None


def _patrol_select(q: ItemQuery):
    from app.models_analysis import PatrolRoute

    stmt = select(PatrolRoute)
    if q.bbox:
        stmt = stmt.where(func.ST_Intersects(PatrolRoute.geom, func.ST_MakeEnvelope(*q.bbox, 4326)))
    if q.start:
        stmt = stmt.where(PatrolRoute.day >= q.start.date())
    if q.end:
        stmt = stmt.where(PatrolRoute.day <= q.end.date())
    if q.user is not None and q.user.role == "patrol" and q.user.station_code:
        stmt = stmt.where(PatrolRoute.station_code == q.user.station_code)
    return stmt


def _patrol_feature(route) -> dict:
    from geoalchemy2.shape import to_shape
    from shapely.geometry import mapping

    from app.services import patrols

    geometry = mapping(to_shape(route.geom)) if route.geom is not None else None  # a route with no stop
    return {"type": "Feature", "id": str(route.id), "geometry": geometry, "properties": patrols.summary(route)}


def patrol_items(session: Session, q: ItemQuery) -> ItemPage:
    """Stored patrol routes (one per station and day), newest day first; patrol staff see their station's."""
    from app.models_analysis import PatrolRoute

    stmt = _patrol_select(q)
    matched = session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = session.scalars(stmt.order_by(PatrolRoute.day.desc(), PatrolRoute.id).offset(q.offset).limit(q.limit))
    return ItemPage([_patrol_feature(r) for r in rows], matched)


def patrol_item(session: Session, q: ItemQuery, fid: str) -> dict | None:
    """One stored patrol route."""
    from app.models_analysis import PatrolRoute

    if not fid.isdigit() or len(fid) > 18:
        return None
    route = session.scalar(_patrol_select(q).where(PatrolRoute.id == int(fid)))
    return _patrol_feature(route) if route is not None else None


# --------------------------------------------------------------------------------------------
# The registry
# --------------------------------------------------------------------------------------------


def _builtin() -> dict[str, Collection]:
    town, town_item = admin_source("town")
    communities, community = admin_source("community")
    workstations, workstation = admin_source("workstation")
    boundary = "Boundary version: ?version=N (default: the current version)."
    return {c.id: c for c in (
        Collection("grid_cells", "Unit grid cells", f"Unit grid cells (单元网格) with 15-digit codes. {boundary}",
                   "Polygon", grid_items, grid_item, versioned=True),
        Collection("communities", "Communities", f"Community territories (社区). {boundary}", "MultiPolygon",
                   communities, community, versioned=True),
        Collection("workstations", "Workstation territories",
                   f"Village/residence workstation territories (居村工作站). {boundary}", "MultiPolygon",
                   workstations, workstation, versioned=True),
        Collection("town", "Town", f"Nanhui New City Town (南汇新城镇). {boundary}", "MultiPolygon", town, town_item,
                   versioned=True),
        Collection("stations", "Stations", "The town center, joint-duty stations and workstations (active).",
                   "Point", station_items, station_item),
        Collection("station_coverage", "Station coverage", f"The territory each station covers (辖区). {boundary}",
                   "MultiPolygon", coverage_items, coverage_item, versioned=True),
        Collection("roads", "Roads", "Road centre lines between intersections.", "LineString", road_items,
                   road_item, id_type="integer"),
        Collection("addresses", "Addresses", "Address points: house numbers, buildings in compounds, named places.",
                   "Point", address_items, address_item, id_type="integer"),
        Collection("cases", "Cases", "Cases (案件) the caller may see; datetime filters the first report time.",
                   "Point", case_items, case_item, temporal="first_reported_at", id_type="integer"),
        Collection("hotspots", "Hotspots",
                   "Case counts per current grid cell in the datetime window (default: the last 90 days), "
                   "busiest first, with the Getis-Ord Gi* z, p (FDR-corrected) and class of the cell over all "
                   "cases of the window; cells without cases are left out.",
                   "Polygon", hotspot_items, hotspot_item, temporal="first_reported_at"),
        Collection("patrol_routes", "Patrol routes",
                   "Planned patrol routes of the stations, one per station and day (POST /api/v1/patrols/plan).",
                   "LineString", patrol_items, patrol_item, temporal="date"),
    )}


COLLECTIONS: dict[str, Collection] = _builtin()


def register(collection: Collection) -> None:
    """Add or replace a collection (for modules that own their data, e.g. stored patrol routes)."""
    COLLECTIONS[collection.id] = collection


def collection_ids() -> list[str]:
    """Every collection id, in listing order."""
    return list(COLLECTIONS)


def get(collection_id: str) -> Collection | None:
    """A collection by id."""
    return COLLECTIONS.get(collection_id)


def town_bbox(session: Session) -> list[float]:
    """The extent of the current town boundary in CRS84 (a fallback covering Lingang when none is loaded)."""
    box = session.execute(
        select(func.ST_XMin(func.ST_Extent(AdminArea.geom)), func.ST_YMin(func.ST_Extent(AdminArea.geom)),
               func.ST_XMax(func.ST_Extent(AdminArea.geom)), func.ST_YMax(func.ST_Extent(AdminArea.geom)))
        .where(AdminArea.level == "town", AdminArea.version_high.is_(None))
    ).one()
    if box[0] is None:
        return [121.75, 30.80, 122.05, 31.00]
    return [round(v, 6) for v in box]
