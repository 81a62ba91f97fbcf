"""OGC API - Features (Part 1, Core): the collections, their query parameters and their features. No Flask.

Each collection is a `Collection`: its metadata and two functions, one for a page of items and one
for a single item. The registry `COLLECTIONS` is plain data, so a later module (hotspot statistics,
stored patrol routes) replaces an entry with `register()` without touching the views.
Geometries are served in CRS84 (WGS84 lon/lat, the storage CRS).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import shapely
import shapely.geometry
from sqlalchemy.orm import Session

from app import params
from app.accounts.models import User
from app.analysis import hotspots
from app.cases import reading
from app.cases.models import Case
from app.cases.worktime import BEIJING
from app.errors import InputError
from app.field import patrols
from app.interop import cql
from app.interop.models import DEFAULT_LIMIT, Collection, ItemPage, ItemQuery
from app.params import Args
from app.territory import features
from app.territory.boundaries import MAX_VERSION_ID
from gis import crs as crs_lib

CRS84 = crs_lib.CRS84_URI
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/ogcapi-features-5/1.0/conf/sortables",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/geodata-tilesets",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
]
MAX_LIMIT = 10_000
MAX_OFFSET = 10**12
MAX_VERSION = MAX_VERSION_ID
HOTSPOT_DAYS = 90
PRECISION = 7
ITEM_PARAMS = frozenset({"bbox", "limit", "offset", "datetime", "version", "f", "lang", "sortby", "properties",
                         "skipGeometry", "crs", "bbox-crs", "filter", "filter-lang"})
CRS_URIS = list(crs_lib.OGC_CRS)  # Part 2: what `crs` and `bbox-crs` accept; CRS84 is the storage CRS
JSON_TYPES = {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}


# --------------------------------------------------------------------------------------------
# Query parameters
# --------------------------------------------------------------------------------------------


def parse_items_query(args: Args, user: User | None, collection: Collection, now: datetime | None = None) -> ItemQuery:
    """Check the query parameters of an items request; InputError names the bad one."""
    unknown = sorted(set(args) - ITEM_PARAMS - set(collection.queryables))
    if unknown:
        known = ", ".join(sorted(ITEM_PARAMS | set(collection.queryables)))
        raise InputError(unknown[0], f"unknown query parameter {unknown[0]!r}; known: {known}", 400)
    start, end = parse_datetime(args.get("datetime"))
    version = params.whole(args, "version", 0, 1, MAX_VERSION) if args.get("version") else None
    if version is not None and not collection.versioned:
        raise InputError("version", f"collection {collection.id} is not versioned", 400)
    limit = min(params.whole(args, "limit", DEFAULT_LIMIT, 1, MAX_OFFSET), MAX_LIMIT)  # larger asks get the most
    return ItemQuery(
        user=user, bbox=_bbox(args.get("bbox"), _crs(args, "bbox-crs")), limit=limit, crs=_crs(args, "crs"),
        offset=params.whole(args, "offset", 0, 0, MAX_OFFSET), start=start, end=end, version=version,
        now=now or datetime.now(UTC), equal=_equal(args, collection), sortby=_sortby(args.get("sortby"), collection),
        properties=_names(args.get("properties")), skip_geometry=_flag(args.get("skipGeometry")),
        filter=_cql(args, collection),
    )


def _cql(args: Args, collection: Collection) -> object | None:
    """The checked CQL2 filter (Part 3), for the collections read from a table of their own."""
    raw = args.get("filter")
    if not raw:
        if args.get("filter-lang"):
            cql.parse("true", args.get("filter-lang"), {})  # still say when the language is wrong
        return None
    if collection.id == "cases":
        return cql.parse(raw, args.get("filter-lang"), {name: kind for name, (_, kind) in CASE_FIELDS.items()})
    if collection.id not in features.SOURCES:
        raise InputError("filter", f"collection {collection.id} takes property filters "
                         f"({', '.join(collection.queryables) or 'none'}), not a CQL2 filter", 400)
    return cql.parse(raw, args.get("filter-lang"), collection.queryables)


def _crs(args: Args, name: str) -> str:
    """`crs` or `bbox-crs`: one of the URIs the collections list (default CRS84)."""
    value = args.get(name) or CRS84
    if value not in crs_lib.OGC_CRS:
        raise InputError(name, f"{name} {value!r} is not offered; use one of {', '.join(CRS_URIS)}", 400)
    return value


def _bbox(raw: str | None, uri: str) -> tuple[float, float, float, float] | None:
    """The bbox in CRS84, from the CRS `bbox-crs` names (in its axis order)."""
    if uri == CRS84 or not raw:
        return params.bbox(raw)
    try:
        values = tuple(float(v) for v in raw.split(","))
    except ValueError:
        raise InputError("bbox", "bbox must be 4 numbers in the axis order of bbox-crs", 400) from None
    if len(values) != 4 or not all(math.isfinite(v) for v in values) or values[0] > values[2] or values[1] > values[3]:
        raise InputError("bbox", "bbox must be 4 finite numbers, min before max on each axis of bbox-crs", 400)
    try:
        lon_lat = crs_lib.bbox_to_crs84(values, uri)  # type: ignore[arg-type]
    except crs_lib.UnknownCRS as exc:
        raise InputError("bbox", str(exc), 400) from None
    return params.bbox(",".join(repr(v) for v in lon_lat))


def _equal(args: Args, collection: Collection) -> dict[str, object]:
    """Simple property filters (Part 1, 7.15.5): `?name=value` for each queryable, typed by its schema."""
    out: dict[str, object] = {}
    for name, kind in collection.queryables.items():
        raw = args.get(name)
        if raw is None:
            continue
        if kind == "integer":
            out[name] = params.whole(args, name, 0, -(2**31), 2**31 - 1)
        elif kind == "number":
            out[name] = params.number(args, name, 0.0, -1e15, 1e15)
        elif kind == "boolean":
            out[name] = _flag(raw, name)
        else:
            out[name] = raw
    return out


def _sortby(raw: str | None, collection: Collection) -> tuple[tuple[str, bool], ...]:
    """`sortby=+name,-area_m2` (Part 3 sorting): queryables only."""
    if not raw:
        return ()
    out = []
    for part in raw.split(","):
        part = part.strip()
        desc, name = part.startswith("-"), part.lstrip("+-").strip()
        if name not in collection.queryables:
            known = ", ".join(collection.queryables) or "none"
            raise InputError("sortby", f"cannot sort {collection.id} by {name!r}; sortable: {known}", 400)
        out.append((name, desc))
    return tuple(out)


def _names(raw: str | None) -> tuple[str, ...] | None:
    if raw is None:
        return None
    return tuple(n.strip() for n in raw.split(",") if n.strip())


def _flag(raw: str | None, name: str = "skipGeometry") -> bool:
    if raw is None:
        return False
    if raw not in ("true", "false"):
        raise InputError(name, f"{name} must be true or false", 400)
    return raw == "true"


def shape(feature: dict, q: ItemQuery) -> dict:
    """A feature as the query asked: only the named properties, its geometry in `crs` (or none if skipGeometry)."""
    if q.properties is not None:
        feature["properties"] = {k: v for k, v in (feature.get("properties") or {}).items() if k in q.properties}
    if q.skip_geometry:
        feature["geometry"] = None
    elif q.crs != CRS84 and feature.get("geometry"):
        moved = crs_lib.from_crs84(shapely.geometry.shape(feature["geometry"]), q.crs)
        digits = 3 if q.crs.endswith("/4550") else PRECISION  # metres to the millimetre, degrees to 1 cm
        feature["geometry"] = shapely.geometry.mapping(shapely.transform(moved, lambda c: c.round(digits)))
    return feature


def _schema(kind: str) -> dict:
    return {"type": "string", "format": "date-time"} if kind == "datetime" else {"type": kind}


def queryables(collection: Collection, url: str, title: str) -> dict:
    """The JSON Schema of a collection's queryables (OGC API - Features Part 3)."""
    fields = {name: kind for name, (_, kind) in CASE_FIELDS.items()} if collection.id == "cases" else {}
    props: dict[str, dict] = {name: _schema(kind) for name, kind in {**collection.queryables, **fields}.items()}
    props["geometry"] = {"$ref": f"https://geojson.org/schema/{collection.geometry}.json"}
    if collection.temporal:
        props[collection.temporal] = {"type": "string", "format": "date-time"}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": url, "type": "object",
            "title": title, "properties": props, "additionalProperties": False}


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
    if not _DATE.match(text):
        return params.instant("datetime", text)
    day = params.day("datetime", text)
    start = datetime.combine(day, datetime.min.time(), BEIJING)
    return start + timedelta(days=1) - timedelta(microseconds=1) if end else start


# --------------------------------------------------------------------------------------------
# Boundary collections: the territory's layers, paged
# --------------------------------------------------------------------------------------------


def boundary_queryables(layer: str) -> dict[str, str]:
    """A boundary layer's columns as queryables, typed for JSON Schema."""
    return {name: JSON_TYPES.get(column.type.python_type.__name__, "string")
            for name, column in features.properties(layer).items()}


def boundary_source(layer: str) -> tuple[Callable, Callable]:
    """Items and item functions for one boundary layer (app/territory/features.py)."""

    def items(session: Session, q: ItemQuery) -> ItemPage:
        where = []
        if q.filter is not None:
            columns = {**features.properties(layer), cql.GEOMETRY: features.source(layer).geom}
            where.append(cql.to_where(q.filter, columns))
        found, matched = features.page(session, layer, q.version, q.bbox, q.limit, q.offset, equal=q.equal,
                                       sort=list(q.sortby), where=where)
        return ItemPage(found, matched)

    def item(session: Session, q: ItemQuery, fid: str) -> dict | None:
        return features.one(session, layer, fid, q.version)

    return items, item


# --------------------------------------------------------------------------------------------
# Cases, hotspots, patrol routes
# --------------------------------------------------------------------------------------------


CASE_QUERYABLES = {"state": "string", "category": "string", "station": "string", "light": "string"}
# what a CQL2 filter on cases may name: columns of the case (light is computed, so a property filter only)
CASE_FIELDS = {"state": (Case.state, "string"), "category": (Case.category_code, "string"),
               "station": (Case.station_code, "string"), "grid_code": (Case.grid_code, "string"),
               "urgency": (Case.urgency, "string"), "escalation_level": (Case.escalation_level, "integer"),
               "report_count": (Case.report_count, "integer"),
               "first_reported_at": (Case.first_reported_at, "datetime"),
               "updated_at": (Case.updated_at, "datetime"), "deadline": (Case.deadline_at, "datetime")}


def _case_query(q: ItemQuery) -> reading.CaseQuery:
    until = q.end + timedelta(microseconds=1) if q.end else None  # closed interval; the case list is half-open
    if q.sortby:
        raise InputError("sortby", "cases are listed newest first; sortby is not offered for them", 400)
    states = [str(q.equal["state"])] if "state" in q.equal else []
    conditions = ()
    if q.filter is not None:
        columns = {name: column for name, (column, _) in CASE_FIELDS.items()}
        conditions = (cql.to_where(q.filter, {**columns, cql.GEOMETRY: Case.geom}),)
    return reading.CaseQuery(since=q.start, until=until, bbox=q.bbox, limit=q.limit, offset=q.offset, states=states,
                             category=q.equal.get("category"), station=q.equal.get("station"),
                             light=q.equal.get("light"), conditions=conditions)


def case_items(session: Session, q: ItemQuery) -> ItemPage:
    """Cases the caller may see (handlers their department's, patrol staff their station's), newest first."""
    page = reading.find(session, _case_query(q), q.user, q.now)
    return ItemPage(page.as_geojson()["features"], page.matched)


def case_item(session: Session, q: ItemQuery, fid: str) -> dict | None:
    """One case, if the caller may see it."""
    if not re.fullmatch(r"\d{1,18}", fid):
        return None
    return reading.feature_of(session, q.user, int(fid), q.now)


def _hotspot_window(q: ItemQuery) -> tuple[datetime, datetime]:
    end = q.end or q.now
    start = q.start or end - timedelta(days=HOTSPOT_DAYS)
    return start, end


def hotspot_items(session: Session, q: ItemQuery) -> ItemPage:
    """Grid cells with their case count in the `datetime` window (default: the last 90 days), busiest first."""
    start, end = _hotspot_window(q)
    found, matched = hotspots.window_counts(session, q.user, start, end, q.bbox, q.limit, q.offset)
    return ItemPage(found, matched)


def hotspot_item(session: Session, q: ItemQuery, fid: str) -> dict | None:
    """One cell's count in the window."""
    start, end = _hotspot_window(q)
    found, _ = hotspots.window_counts(session, q.user, start, end, cell=fid)
    return found[0] if found else None


def patrol_items(session: Session, q: ItemQuery) -> ItemPage:
    """Stored patrol routes (one per station and day), newest day first; patrol staff see their station's."""
    found, matched = patrols.page(session, q.user, q.bbox, q.start, q.end, q.limit, q.offset)
    return ItemPage(found, matched)


def patrol_item(session: Session, q: ItemQuery, fid: str) -> dict | None:
    """One stored patrol route."""
    if not fid.isdigit() or len(fid) > 18:
        return None
    found, _ = patrols.page(session, q.user, route_id=int(fid))
    return found[0] if found else None


# --------------------------------------------------------------------------------------------
# The registry
# --------------------------------------------------------------------------------------------


def _builtin() -> dict[str, Collection]:
    boundary = "Boundary version: ?version=N (default: the current version)."

    b = boundary_source
    built = {c.id: c for c in (
        Collection("grid_cells", "Unit grid cells", f"Unit grid cells (单元网格) with 15-digit codes. {boundary}",
                   "Polygon", *b("grid_cells"), versioned=True),
        Collection("communities", "Communities", f"Community territories (社区). {boundary}", "MultiPolygon",
                   *b("communities"), versioned=True),
        Collection("workstations", "Workstation territories",
                   f"Village/residence workstation territories (居村工作站). {boundary}", "MultiPolygon",
                   *b("workstations"), versioned=True),
        Collection("town", "Town", f"Nanhui New City Town (南汇新城镇). {boundary}", "MultiPolygon", *b("town"),
                   versioned=True),
        Collection("stations", "Stations", "The town center, joint-duty stations and workstations (active).",
                   "Point", *b("stations")),
        Collection("station_coverage", "Station coverage", f"The territory each station covers (辖区). {boundary}",
                   "MultiPolygon", *b("station_coverage"), versioned=True),
        Collection("roads", "Roads", "Road centre lines between intersections.", "LineString", *b("roads"),
                   id_type="integer"),
        Collection("addresses", "Addresses", "Address points: house numbers, buildings in compounds, named places.",
                   "Point", *b("addresses"), id_type="integer"),
        Collection("cases", "Cases", "Cases (案件) the caller may see; datetime filters the first report time.",
                   "Point", case_items, case_item, temporal="first_reported_at", id_type="integer",
                   queryables=CASE_QUERYABLES),
        Collection("hotspots", "Hotspots",
                   "Case counts per current grid cell in the datetime window (default: the last 90 days), "
                   "busiest first, with the Getis-Ord Gi* z, p (FDR-corrected) and class of the cell over all "
                   "cases of the window; cells without cases are left out.",
                   "Polygon", hotspot_items, hotspot_item, temporal="first_reported_at"),
        Collection("patrol_routes", "Patrol routes",
                   "Planned patrol routes of the stations, one per station and day (POST /api/v1/patrols/plan).",
                   "LineString", patrol_items, patrol_item, temporal="date"),
    )}
    # a boundary collection is named after its layer; its columns are its queryables
    return {k: replace(c, queryables=boundary_queryables(k)) if k in features.SOURCES else c for k, c in built.items()}


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
