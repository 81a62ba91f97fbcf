"""File exchange: layers as GeoPackage, zipped Shapefile (UTF-8 with .cpg), GeoJSON and CSV; routes as GPX.

Layers are the OGC collections (so an export holds exactly what /ogc serves the same caller, with
the same bbox, datetime and version filters). Files are written by GDAL through pyogrio, except
GeoJSON, CSV and GPX, which are plain text written here. No Flask.
"""

from __future__ import annotations

import csv
import io
import json
import re
import tempfile
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from app.errors import InputError
from app.interop import ogc
from app.interop.models import ItemQuery
from gis.crs import STORAGE_EPSG

FORMATS = {
    "gpkg": ("application/geopackage+sqlite3", "gpkg"),
    "shp": ("application/zip", "zip"),  # a zipped Shapefile
    "geojson": ("application/geo+json", "geojson"),
    "csv": ("text/csv; charset=utf-8", "csv"),
    "gpx": ("application/gpx+xml", "gpx"),
}
LINE_FORMATS = ("gpx",)  # only for line layers (patrol routes)
# Shapefile field names have at most 10 characters; these are the short names we give ours, and the
# boundary importer maps them back (gis/validation.SHAPEFILE_NAMES).
SHORT_NAMES = {
    "workstation_code": "ws_code", "community_code": "comm_code", "station_code": "stn_code",
    "parent_code": "parent", "illustrative": "illustr", "version_low": "ver_low", "version_high": "ver_high",
    "first_reported_at": "reported", "escalation_level": "escalation", "report_count": "reports",
    "description": "descr", "state_name": "state_zh",
}
_FORMULA = re.compile(r"^[=+\-@\t\r]")


@dataclass
class ExportFile:
    """The bytes of an export and how to serve them."""

    data: bytes
    mimetype: str
    filename: str
    count: int


def layers() -> list[str]:
    """Every exportable layer."""
    return ogc.collection_ids()


def formats_of(layer: str) -> list[str]:
    """The formats a layer can be exported in (GPX only for line layers)."""
    geometry = ogc.get(layer).geometry
    return [f for f in FORMATS if f not in LINE_FORMATS or "LineString" in geometry]


def export(session: Session, layer: str, fmt: str, q: ItemQuery) -> ExportFile:
    """One layer in one format."""
    collection = ogc.get(layer)
    if collection is None:
        raise InputError("layer", f"no layer {layer!r}; layers: {', '.join(layers())}", 404, error="not_found")
    if fmt not in FORMATS:
        raise InputError("format", f"format must be one of {', '.join(FORMATS)}", 404, error="not_found")
    if fmt in LINE_FORMATS and collection.geometry not in ("LineString", "MultiLineString"):
        raise InputError("format", f"GPX holds routes and tracks; {layer} has {collection.geometry} geometries",
                         404, error="not_found")
    features = collection.items(session, q).features
    mimetype, suffix = FORMATS[fmt]
    writer = {"gpkg": _gpkg, "shp": _shapefile, "geojson": _geojson, "csv": _csv, "gpx": _gpx}[fmt]
    return ExportFile(writer(layer, collection.geometry, features), mimetype, f"{layer}.{suffix}", len(features))


def _geojson(layer: str, geometry: str, features: list[dict]) -> bytes:
    body = {"type": "FeatureCollection", "name": layer, "features": features}
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def _frame(features: list[dict]):
    """A GeoDataFrame: the feature id as `id`, then the properties."""
    import geopandas as gpd

    columns = list(dict.fromkeys(["id", *(k for f in features for k in (f.get("properties") or {}))]))
    rows = [{"type": "Feature", "geometry": f["geometry"],
             "properties": {"id": str(f.get("id")), **(f.get("properties") or {})}} for f in features]
    if not rows:
        return gpd.GeoDataFrame({"id": []}, geometry=gpd.GeoSeries([], crs=STORAGE_EPSG), crs=STORAGE_EPSG)
    return gpd.GeoDataFrame.from_features(rows, crs=STORAGE_EPSG, columns=["geometry", *columns])


def _write(frame: Any, path: Path, driver: str, layer: str, geometry: str, **options: object) -> None:
    import pyogrio

    pyogrio.write_dataframe(frame, path, driver=driver, layer=layer, geometry_type=geometry, **options)


_ISO_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:\d{2}|Z)$")


def _texts(column: Any) -> bool:
    """Whether a column holds text (object or pandas' string dtype)."""
    import pandas as pd

    return column.dtype == object or pd.api.types.is_string_dtype(column.dtype)


def _with_datetimes(frame: Any) -> Any:
    """Columns whose every value is an ISO 8601 instant become date-times (GeoPackage DATETIME, in UTC)."""
    import pandas as pd

    for column in frame.columns:
        if column == "geometry" or not _texts(frame[column]):
            continue
        values = frame[column].dropna()
        if len(values) and all(isinstance(v, str) and _ISO_INSTANT.match(v) for v in values):
            frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
    return frame


def _gpkg(layer: str, geometry: str, features: list[dict]) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{layer}.gpkg"
        _write(_with_datetimes(_frame(features)), path, "GPKG", layer, geometry)
        return path.read_bytes()


def _short(columns: list[str]) -> dict[str, str]:
    """Shapefile names: our short names, otherwise the first 10 characters, made unique."""
    names: dict[str, str] = {}
    for c in columns:
        base = SHORT_NAMES.get(c, c)[:10]
        name, i = base, 1
        while name in names.values():
            name = f"{base[:8]}_{i}"
            i += 1
        names[c] = name
    return names


DBF_TEXT_BYTES = 254  # the most a Shapefile (dBase) text field holds


def _cut(text: str, limit: int = DBF_TEXT_BYTES) -> str:
    """The longest start of `text` that fits in `limit` UTF-8 bytes, never half a character."""
    return text.encode("utf-8")[:limit].decode("utf-8", errors="ignore")


def _long_texts(frame: Any) -> list[tuple[str, str, str]]:
    """Cut the texts a dBase field cannot hold, in place; (id, column, whole text) of each one cut."""
    kept = []
    for column in frame.columns:
        if column == "geometry" or not _texts(frame[column]):
            continue
        for i, value in frame[column].items():
            if isinstance(value, str) and len(value.encode("utf-8")) > DBF_TEXT_BYTES:
                kept.append((str(frame.at[i, "id"]), column, value))
                frame.at[i, column] = _cut(value)
    return kept


def _shapefile(layer: str, geometry: str, features: list[dict]) -> bytes:
    """A zipped Shapefile. Texts longer than 254 bytes are cut in the .dbf and kept whole in
    `<layer>_long_text.csv` beside it (id, field, text), so nothing is lost silently."""
    frame = _frame(features)
    frame = frame.rename(columns=_short([c for c in frame.columns if c != "geometry"]))
    long_texts = _long_texts(frame)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _write(frame, folder / f"{layer}.shp", "ESRI Shapefile", layer, geometry, encoding="UTF-8")
        if long_texts:
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerow(["id", "field", "text"])
            writer.writerows((i, c, csv_safe(t)) for i, c, t in long_texts)
            (folder / f"{layer}_long_text.csv").write_text("\ufeff" + out.getvalue(), encoding="utf-8")
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for part in sorted(folder.iterdir()):
                archive.write(part, part.name)
        return buffer.getvalue()


def csv_safe(value: object) -> object:
    """A text cell that a spreadsheet would run as a formula gets a leading quote; other values pass."""
    if isinstance(value, str) and _FORMULA.match(value):
        return "'" + value
    return value


def _csv(layer: str, geometry: str, features: list[dict]) -> bytes:
    """WKT geometry first (GDAL reads the WKT column as the geometry), then the properties; BOM for Excel."""
    import shapely.geometry

    columns = list(dict.fromkeys(k for f in features for k in (f.get("properties") or {})))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["WKT", "id", *[c for c in columns if c != "id"]])
    for f in features:
        props = f.get("properties") or {}
        wkt = shapely.geometry.shape(f["geometry"]).wkt if f.get("geometry") else ""
        row = [wkt, f.get("id"), *[props.get(c) for c in columns if c != "id"]]
        writer.writerow(["" if v is None else csv_safe(v) for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_gpx(routes: list[dict], creator: str = "Nanhui grid platform") -> bytes:
    """GPX 1.1: one track per route (a LineString or MultiLineString feature), one segment per line."""
    ns = "http://www.topografix.com/GPX/1/1"
    root = ET.Element("gpx", {"version": "1.1", "creator": creator, "xmlns": ns})
    for route in routes:
        props = route.get("properties") or {}
        track = ET.SubElement(root, "trk")
        ET.SubElement(track, "name").text = _xml_text(props.get("name") or route.get("id"))
        if props.get("description"):
            ET.SubElement(track, "desc").text = _xml_text(props["description"])
        geometry = route.get("geometry") or {}
        lines = [geometry["coordinates"]] if geometry.get("type") == "LineString" else geometry.get("coordinates", [])
        for line in lines:
            segment = ET.SubElement(track, "trkseg")
            for lon, lat, *_ in line:
                ET.SubElement(segment, "trkpt", {"lat": f"{lat:.7f}", "lon": f"{lon:.7f}"})
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8")


def _gpx(layer: str, geometry: str, features: list[dict]) -> bytes:
    return to_gpx(features)


_XML_BAD = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_text(value: object) -> str:
    return _XML_BAD.sub("\ufffd", "" if value is None else str(value))
