"""Who owns a place: a point in any of the supported CRSs, an address geocoded, a map click reverse
geocoded, each answered with its grid cell, workstation, community and station; coordinate
conversion and the offline basemap's own layers (water, named places)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from app.errors import InputError
from app.territory import caches, features
from app.territory.models import Address
from gis import crs as gcrs
from gis.points import check_point

WATER = Path(__file__).resolve().parents[2] / "data" / "boundaries" / "water.geojson"
MAX_QUERY = 200


def input_crs(raw: str | None) -> str:
    """The canonical name of a CRS a caller gives (wgs84 by default)."""
    try:
        return gcrs.input_crs_name(raw or "wgs84")
    except gcrs.UnknownCRS as exc:
        raise InputError("crs", str(exc), 400, error="invalid_crs") from None


def _point(lon: float, lat: float) -> dict:
    return {"lon": round(lon, 7), "lat": round(lat, 7), "srid": gcrs.STORAGE_EPSG}


def locate(session: Session, raw_lon: object, raw_lat: object, crs: str) -> dict:
    """GET /api/v1/locate: the owners of a point."""
    lon, lat = check_point(raw_lon, raw_lat)
    wlon, wlat = gcrs.to_wgs84(lon, lat, crs)
    owners = caches.ownership(session).owner_at(wlon, wlat)
    return {"input": {"lon": lon, "lat": lat, "crs": crs}, "point": _point(wlon, wlat), **owners.as_dict()}


def geocode(session: Session, raw_q: str | None, limit: int) -> dict:
    """GET /api/v1/geocode: candidates for an address, best first, each with its owners."""
    q = (raw_q or "").strip()
    if not q:
        raise InputError("q", "q is missing: give an address, e.g. ?q=环湖西二路88号", 400, error="missing_field")
    if len(q) > MAX_QUERY:
        raise InputError("q", f"q is {len(q)} characters long; at most {MAX_QUERY} are allowed")
    candidates = caches.geocoder(session).geocode(q, limit=limit)
    index = caches.ownership(session)  # once for every candidate
    return {"query": q, "candidates": [
        {"address": c.address, "name": c.name, "lon": c.lon, "lat": c.lat, "score": c.score, "kind": c.kind,
         "address_id": c.address_id, "owners": index.owner_at(c.lon, c.lat).as_dict()}
        for c in candidates]}


def reverse(session: Session, raw_lon: object, raw_lat: object, crs: str, radius_m: float) -> dict:
    """GET /api/v1/reverse: the nearest address within `radius_m`, the grid cell and the owners of a point."""
    lon, lat = check_point(raw_lon, raw_lat)
    wlon, wlat = gcrs.to_wgs84(lon, lat, crs)
    found = caches.geocoder(session).reverse(wlon, wlat, max_distance_m=radius_m)
    address = None
    if found is not None:
        address = {"address": found.address, "name": found.name, "lon": found.lon, "lat": found.lat,
                   "distance_m": found.distance_m, "address_id": found.address_id}
    return {"point": _point(wlon, wlat), "address": address,
            **caches.ownership(session).owner_at(wlon, wlat).as_dict()}


def convert(raw_lon: object, raw_lat: object, src: str, dst: str) -> dict:
    """GET /api/v1/convert: a point from one CRS to another."""
    lon, lat = check_point(raw_lon, raw_lat)
    wlon, wlat = gcrs.to_wgs84(lon, lat, src)
    x, y = gcrs.from_wgs84(wlon, wlat, dst)
    return {"lon": round(float(x), 7), "lat": round(float(y), 7), "crs": dst}


def water_geojson() -> bytes:
    """Dishui Lake and the sea, drawn under every layer of the offline basemap."""
    return WATER.read_bytes()


def places(session: Session) -> dict:
    """The named places (address points of kind place) as a FeatureCollection."""
    return features.layer(session, "addresses", where=[Address.kind == "place"])
