"""Cameras: the registry, its import from CSV or GeoPackage, the map layer, and where a video report lies.

A camera stands at a point and may look in a direction (degrees clockwise from north) over a view
polygon. A report of the `video` channel that names a camera (its reference) and gives no point is
placed at the centre of the camera's view polygon when there is one, else at the camera.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from geoalchemy2.shape import from_shape, to_shape
from shapely import wkt
from shapely.errors import ShapelyError
from shapely.geometry import Point, Polygon, mapping
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.accounts import audit
from app.connectors.models import Camera
from app.db import found
from app.errors import InputError
from app.territory import caches as territory_caches
from gis.crs import STORAGE_EPSG
from gis.points import PointError, check_point

STATUSES = ("online", "offline", "fault")
COLUMNS = ("id", "name", "lon", "lat", "direction_deg", "station_code", "status", "view_wkt")


@dataclass(frozen=True)
class CameraRow:
    """One camera as a file gives it, checked."""

    id: str
    name: str
    lon: float
    lat: float
    direction_deg: float | None = None
    station_code: str | None = None
    status: str = "online"
    view: Polygon | None = None


def check_row(raw: dict, where: str) -> CameraRow:
    """A row of a CSV file or a GeoPackage layer as a CameraRow; InputError names the row and the field."""
    ident = str(raw.get("id") or "").strip()
    if not ident or len(ident) > 40:
        raise InputError(f"{where}.id", "a camera id has 1 to 40 characters")
    try:
        lon, lat = check_point(_float(raw.get("lon"), f"{where}.lon"), _float(raw.get("lat"), f"{where}.lat"))
    except PointError as exc:
        raise InputError(f"{where}.{exc.field}", exc.message) from None
    direction = _float(raw.get("direction_deg"), f"{where}.direction_deg", optional=True)
    if direction is not None and not 0 <= direction < 360:
        raise InputError(f"{where}.direction_deg", f"direction {direction} is not in [0, 360)")
    status = str(raw.get("status") or "online").strip()
    if status not in STATUSES:
        raise InputError(f"{where}.status", f"status must be one of {', '.join(STATUSES)}, got {status!r}")
    return CameraRow(ident, str(raw.get("name") or ident).strip()[:120], lon, lat, direction,
                     str(raw.get("station_code") or "").strip() or None, status, _view(raw, where))


def _float(value: object, field: str, optional: bool = False) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if optional:
            return None
        raise InputError(field, f"{field} is missing")
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(field, f"{field} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise InputError(field, f"{field} must be a finite number")
    return number


def _view(raw: dict, where: str) -> Polygon | None:
    shape = raw.get("view")
    if shape is None and str(raw.get("view_wkt") or "").strip():
        try:
            shape = wkt.loads(str(raw["view_wkt"]))
        except ShapelyError:
            raise InputError(f"{where}.view_wkt", "view_wkt is not WKT") from None
    if shape is None:
        return None
    if shape.geom_type != "Polygon" or not shape.is_valid or shape.is_empty:
        raise InputError(f"{where}.view_wkt", "the view must be one valid polygon")
    return shape


def read_csv(text: str) -> list[CameraRow]:
    """Cameras of a CSV file with a header naming at least id, lon and lat."""
    reader = csv.DictReader(io.StringIO(text))
    missing = {"id", "lon", "lat"} - set(reader.fieldnames or ())
    if missing:
        raise InputError("header", f"the CSV header lacks {', '.join(sorted(missing))} (columns: {', '.join(COLUMNS)})")
    return [check_row(row, f"row {n}") for n, row in enumerate(reader, start=2)]


def read_geopackage(path: Path, layer: str | None = None) -> list[CameraRow]:
    """Cameras of a GeoPackage layer of points (id, name, direction_deg, station_code, status attributes)."""
    import pyogrio

    frame = pyogrio.read_dataframe(path, layer=layer)
    if frame.crs is not None:
        frame = frame.to_crs(STORAGE_EPSG)
    rows = []
    for n, record in enumerate(frame.to_dict("records"), start=1):
        point = record.pop("geometry", None)
        if point is None or point.geom_type != "Point":
            raise InputError(f"feature {n}", "each camera is a point")
        rows.append(check_row({**record, "lon": point.x, "lat": point.y}, f"feature {n}"))
    return rows


def load(session: Session, rows: Iterable[CameraRow], actor: str) -> dict:
    """Insert or update cameras by id; a camera without a station gets the one that owns its point."""
    index = territory_caches.ownership(session)
    created = updated = 0
    for row in rows:
        camera = session.get(Camera, row.id)
        if camera is None:
            camera = Camera(id=row.id)
            session.add(camera)
            created += 1
        else:
            updated += 1
        camera.name = row.name
        camera.geom = from_shape(Point(row.lon, row.lat), srid=STORAGE_EPSG)
        camera.direction_deg = row.direction_deg
        camera.view = from_shape(row.view, srid=STORAGE_EPSG) if row.view is not None else None
        camera.station_code = row.station_code or index.owner_at(row.lon, row.lat).station["code"]
        camera.status = row.status
        camera.updated_at = func.now()
    session.flush()
    audit.record(session, actor, "cameras.load", "camera", None, after={"created": created, "updated": updated})
    return {"created": created, "updated": updated}


def place_of(session: Session, camera_id: str) -> tuple[float, float]:
    """Where a video report of this camera lies: the centre of its view (a point inside it), else the camera."""
    camera = session.get(Camera, camera_id)
    if camera is None:
        raise InputError("reference", f"no camera {camera_id!r} in the registry; give lon and lat, or an address",
                         error="unknown_camera")
    if camera.view is None:
        shape = to_shape(camera.geom)
    else:
        view = to_shape(camera.view)
        shape = view.centroid if view.covers(view.centroid) else view.point_on_surface()  # a crescent's centroid
    return float(shape.x), float(shape.y)


def feature(camera: Camera) -> dict:
    """A camera as a GeoJSON feature (the view polygon in `view`)."""
    point = to_shape(camera.geom)
    return {
        "type": "Feature", "id": camera.id, "geometry": mapping(point),
        "properties": {"id": camera.id, "name": camera.name, "direction_deg": camera.direction_deg,
                       "station_code": camera.station_code, "status": camera.status,
                       "view": mapping(to_shape(camera.view)) if camera.view is not None else None},
    }


def collection(session: Session, bbox: tuple[float, float, float, float] | None = None) -> dict:
    """Every camera (in the bbox when given) as a GeoJSON FeatureCollection."""
    query = select(Camera).order_by(Camera.id)
    if bbox is not None:
        query = query.where(Camera.geom.intersects(func.ST_MakeEnvelope(*bbox, STORAGE_EPSG)))
    return {"type": "FeatureCollection", "features": [feature(c) for c in session.scalars(query)]}


def get(session: Session, camera_id: str) -> dict:
    """One camera as a feature; NotFound when unknown."""
    camera = found(session, Camera, camera_id, "camera")
    return feature(camera)
