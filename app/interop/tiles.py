"""OGC API - Tiles: Mapbox Vector Tiles of the grid cells, roads, addresses and cases, from PostGIS
(`ST_AsMVT`), in the WebMercatorQuad tile matrix set. No Flask.

A tile of a boundary layer depends only on the boundary version (roads and addresses on the fingerprint
of their table), so the app keeps the last KEPT_TILES by (layer, key, z, x, y) (app/cache.py); a tile
of cases is the caller's view (their scope) and is made on every request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from app import cache
from app.accounts.models import User
from app.cases import scope
from app.cases.models import Case
from app.errors import InputError
from app.territory import boundaries
from app.territory.boundaries import in_version
from app.territory.models import Address, GridCell, Road
from gis.crs import STORAGE_EPSG

MATRIX_SET = "WebMercatorQuad"
MATRIX_SET_URI = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
MIN_ZOOM, MAX_ZOOM = 10, 18  # the town fills a few tiles at 10; 18 is a building
EXTENT, BUFFER = 4096, 64
MVT = "application/vnd.mapbox-vector-tile"
KEPT_TILES = 2000
WORLD_M = 40_075_016.685578488  # the width of the Web Mercator world


@dataclass(frozen=True)
class TileLayer:
    """One layer served as tiles: its table, geometry, properties, which rows, and the cache key."""

    geom: InstrumentedAttribute
    columns: tuple
    where: Callable[[User | None], list[ColumnElement[bool]]]
    min_zoom: int = MIN_ZOOM
    cached: bool = True


LAYERS: dict[str, TileLayer] = {
    "grid_cells": TileLayer(GridCell.geom, (GridCell.code, GridCell.community_code, GridCell.workstation_code),
                            lambda _user: [in_version(GridCell, None)], min_zoom=13),
    "roads": TileLayer(Road.geom, (Road.id, Road.name, Road.kind), lambda _user: []),
    "addresses": TileLayer(Address.geom, (Address.id, Address.address, Address.kind), lambda _user: [], min_zoom=15),
    "cases": TileLayer(Case.geom, (Case.id, Case.state, Case.category_code, Case.station_code),
                       lambda user: [scope.visible_to(user)], cached=False),
}

def check(layer: str, z: int, x: int, y: int) -> TileLayer:
    """The layer, if the tile exists in the matrix set (InputError names what is out of range)."""
    spec = LAYERS[layer]
    if not MIN_ZOOM <= z <= MAX_ZOOM:
        raise InputError("tileMatrix", f"tileMatrix (zoom) must be {MIN_ZOOM} to {MAX_ZOOM}", 404)
    if not (0 <= x < 2**z and 0 <= y < 2**z):
        raise InputError("tileCol", f"tileRow and tileCol must be 0 to {2**z - 1} at zoom {z}", 404)
    return spec


def tile(session: Session, layer: str, z: int, x: int, y: int, user: User | None) -> bytes:
    """One vector tile (possibly empty) of a layer; `x` is the column, `y` the row (from the north)."""
    spec = check(layer, z, x, y)
    if z < spec.min_zoom:
        return b""  # too far out for this layer: an empty tile, as the tileset says
    key = (layer, _key(session, layer), z, x, y)
    kept = cache.caches(session).kept("tiles", KEPT_TILES)
    if spec.cached:
        found = kept.get(key)
        if found is not None:
            return found
    envelope = func.ST_TileEnvelope(z, x, y)
    rows = (
        select(func.ST_AsMVTGeom(func.ST_Transform(spec.geom, 3857), envelope, EXTENT, BUFFER, True).label("geom"),
               *spec.columns)
        .where(spec.geom.intersects(func.ST_Transform(func.ST_Expand(envelope, WORLD_M / 2**z * BUFFER / EXTENT),
                                                      STORAGE_EPSG)),
               *spec.where(user))
        .subquery("tile")
    )
    data = session.scalar(select(func.ST_AsMVT(rows.table_valued(), layer, EXTENT, "geom"))) or b""
    data = bytes(data)
    if spec.cached:
        kept.put(key, data)
    return data


def _key(session: Session, layer: str) -> object:
    if layer == "grid_cells":
        return boundaries.current_version_id(session)
    if layer in ("roads", "addresses"):
        table = Road if layer == "roads" else Address
        return tuple(session.execute(select(func.count(table.id), func.max(table.id))).one())
    return None


def tileset(layer: str, base: str, title: str) -> dict:
    """The tileset document (OGC API - Tiles) of a layer."""
    spec = LAYERS[layer]
    return {
        "title": title, "dataType": "vector", "crs": "http://www.opengis.net/def/crs/EPSG/0/3857",
        "tileMatrixSetURI": MATRIX_SET_URI,
        "tileMatrixSetLimits": [{"tileMatrix": str(z)} for z in range(spec.min_zoom, MAX_ZOOM + 1)],
        "layers": [{"id": layer, "dataType": "vector", "minTileMatrix": str(spec.min_zoom),
                    "maxTileMatrix": str(MAX_ZOOM)}],
        "links": [
            {"rel": "item", "type": MVT, "templated": True,
             "href": f"{base}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}"},
            {"rel": "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme", "type": "application/json",
             "href": MATRIX_SET_URI},
        ],
    }
