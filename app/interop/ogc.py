"""OGC API - Features (Part 1, Core): the collections, their query parameters and their features. No Flask.

Each collection is a `Collection`: its metadata and two functions, one for a page of items and one
for a single item. The registry `COLLECTIONS` is plain data, so a later module (hotspot statistics,
stored patrol routes) replaces an entry with `register()` without touching the views.
Geometries are served in CRS84 (WGS84 lon/lat, the storage CRS).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from app import params
from app.accounts.models import User
from app.analysis import hotspots
from app.cases import reading
from app.cases.worktime import BEIJING
from app.errors import InputError
from app.field import patrols
from app.interop.models import DEFAULT_LIMIT, Collection, ItemPage, ItemQuery
from app.params import Args
from app.territory import features
from app.territory.boundaries import MAX_VERSION_ID

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CONFORMANCE = [
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
ITEM_PARAMS = frozenset({"bbox", "limit", "offset", "datetime", "version", "f", "lang"})


# --------------------------------------------------------------------------------------------
# Query parameters
# --------------------------------------------------------------------------------------------


def parse_items_query(args: Args, user: User | None, collection: Collection, now: datetime | None = None) -> ItemQuery:
    """Check the query parameters of an items request; InputError names the bad one."""
    unknown = sorted(set(args) - ITEM_PARAMS)
    if unknown:
        raise InputError(unknown[0], f"unknown query parameter {unknown[0]!r}; known: {', '.join(sorted(ITEM_PARAMS))}",
                         400)
    start, end = parse_datetime(args.get("datetime"))
    version = params.whole(args, "version", 0, 1, MAX_VERSION) if args.get("version") else None
    if version is not None and not collection.versioned:
        raise InputError("version", f"collection {collection.id} is not versioned", 400)
    limit = min(params.whole(args, "limit", DEFAULT_LIMIT, 1, MAX_OFFSET), MAX_LIMIT)  # larger asks get the most
    return ItemQuery(
        user=user, bbox=params.bbox(args.get("bbox")), limit=limit,
        offset=params.whole(args, "offset", 0, 0, MAX_OFFSET), start=start, end=end, version=version,
        now=now or datetime.now(UTC),
    )


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


def boundary_source(layer: str) -> tuple[Callable, Callable]:
    """Items and item functions for one boundary layer (app/territory/features.py)."""

    def items(session: Session, q: ItemQuery) -> ItemPage:
        found, matched = features.page(session, layer, q.version, q.bbox, q.limit, q.offset)
        return ItemPage(found, matched)

    def item(session: Session, q: ItemQuery, fid: str) -> dict | None:
        return features.one(session, layer, fid, q.version)

    return items, item


# --------------------------------------------------------------------------------------------
# Cases, hotspots, patrol routes
# --------------------------------------------------------------------------------------------


def _case_query(q: ItemQuery) -> reading.CaseQuery:
    until = q.end + timedelta(microseconds=1) if q.end else None  # closed interval; the case list is half-open
    return reading.CaseQuery(since=q.start, until=until, bbox=q.bbox, limit=q.limit, offset=q.offset)


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
    return {c.id: c for c in (
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
