"""Every coordinate transformation of the platform lives here (always_xy=True: lon, lat order, except the
OGC API Part 2 functions at the end, which keep each CRS's own axis order, as the standard asks).

Storage is EPSG:4326 (WGS84 lon/lat); metric work (areas, distances, buffers) is done in
EPSG:4550, CGCS2000 / 3-degree Gauss-Kruger CM 123E, which covers Lingang.

Consumer maps report GCJ-02 (Amap, Tencent) or BD-09 (Baidu), offset by hundreds of metres from
WGS84; `to_wgs84` / `from_wgs84` convert them with the public formulas, on floats or numpy arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import CRS, Geod, Transformer
from pyproj.exceptions import CRSError

STORAGE_EPSG = 4326
METRIC_EPSG = 4550


class UnknownCRS(ValueError):
    """A CRS that pyproj cannot interpret."""


def parse_crs(value: str | int | CRS) -> CRS:
    """Interpret 'EPSG:4490', '4490' or 4490; raise UnknownCRS with the value on failure."""
    if isinstance(value, CRS):
        return value
    text = str(value).strip()
    if text.isdigit():
        text = f"EPSG:{text}"
    try:
        return CRS.from_user_input(text)
    except CRSError:
        raise UnknownCRS(f"unknown CRS {value!r}: give an EPSG code such as EPSG:4490") from None


@lru_cache(maxsize=32)
def transformer(src: int | str | CRS, dst: int | str | CRS) -> Transformer:
    """A cached transformer between two CRSs, lon/lat order."""
    return Transformer.from_crs(parse_crs(src), parse_crs(dst), always_xy=True)


def to_metric(geom: shapely.Geometry) -> shapely.Geometry:
    """Storage CRS -> EPSG:4550."""
    return shapely.transform(geom, _vectorised(STORAGE_EPSG, METRIC_EPSG))


def to_storage(geom: shapely.Geometry, src: int | str | CRS = METRIC_EPSG) -> shapely.Geometry:
    """Any CRS (default EPSG:4550) -> storage CRS."""
    return shapely.transform(geom, _vectorised(src, STORAGE_EPSG))


def _vectorised(src: int | str | CRS, dst: int | str | CRS) -> Callable[[np.ndarray], np.ndarray]:
    """A coordinate-array function for `shapely.transform` from `src` to `dst`."""
    t = transformer(src, dst)

    def apply(coords: np.ndarray) -> np.ndarray:
        x, y = t.transform(coords[:, 0], coords[:, 1])
        coords = coords.copy()
        coords[:, 0], coords[:, 1] = x, y
        return coords

    return apply


def metric_area(geom: shapely.Geometry) -> float:
    """Area in m^2 of a geometry given in the storage CRS."""
    return float(to_metric(geom).area)


# --- Consumer-map coordinates: GCJ-02 (Amap, Tencent) and BD-09 (Baidu) ----------------------
#
# The public formulas. Every function takes lon, lat as floats or numpy arrays: floats in give
# floats out, arrays in give arrays out. Points outside China's rough bounding box are returned
# unchanged, as the map apps do.

Coord = float | npt.NDArray[np.float64]
Kernel = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]

INPUT_CRS = ("wgs84", "cgcs2000", "gcj02", "bd09")
_ALIASES = {"epsg:4326": "wgs84", "epsg:4490": "cgcs2000"}

_KRASOVSKY_A = 6378245.0
_KRASOVSKY_EE = 0.00669342162296594323
_X_PI = np.pi * 3000.0 / 180.0
_CHINA_LON = (72.004, 137.8347)
_CHINA_LAT = (0.8293, 55.8271)
_INVERSE_TOLERANCE = 1e-9  # degrees, about 0.1 mm
_INVERSE_MAX_ITERATIONS = 30


def _in_china(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """True where a point falls in the rough bounding box inside which the offsets apply."""
    return (lon >= _CHINA_LON[0]) & (lon <= _CHINA_LON[1]) & (lat >= _CHINA_LAT[0]) & (lat <= _CHINA_LAT[1])


def _gcj02_shift_lat(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The public latitude perturbation, in metres-like units, at (lon - 105, lat - 35)."""
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    return ret


def _gcj02_shift_lon(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The public longitude perturbation, in metres-like units, at (lon - 105, lat - 35)."""
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    return ret


def _wgs84_to_gcj02(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Array kernel of wgs84_to_gcj02."""
    dlat = _gcj02_shift_lat(lon - 105.0, lat - 35.0)
    dlon = _gcj02_shift_lon(lon - 105.0, lat - 35.0)
    rad_lat = np.radians(lat)
    w = 1.0 - _KRASOVSKY_EE * np.sin(rad_lat) ** 2
    dlat = dlat * 180.0 / (_KRASOVSKY_A * (1.0 - _KRASOVSKY_EE) / (w * np.sqrt(w)) * np.pi)
    dlon = dlon * 180.0 / (_KRASOVSKY_A / np.sqrt(w) * np.cos(rad_lat) * np.pi)
    inside = _in_china(lon, lat)
    return np.where(inside, lon + dlon, lon), np.where(inside, lat + dlat, lat)


def _gcj02_to_bd09(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Array kernel of gcj02_to_bd09."""
    z = np.hypot(lon, lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    inside = _in_china(lon, lat)
    return np.where(inside, z * np.cos(theta) + 0.0065, lon), np.where(inside, z * np.sin(theta) + 0.006, lat)


def _invert(forward: Kernel, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Solve forward(p) = (lon, lat) by fixed-point iteration; the offsets vary too slowly for closed forms."""
    fx, fy = forward(lon, lat)
    px, py = lon - (fx - lon), lat - (fy - lat)
    for _ in range(_INVERSE_MAX_ITERATIONS):
        fx, fy = forward(px, py)
        ex, ey = fx - lon, fy - lat
        if not np.any(np.maximum(np.abs(ex), np.abs(ey)) >= _INVERSE_TOLERANCE):  # NaN counts as done
            break
        px, py = px - ex, py - ey
    inside = _in_china(lon, lat)
    return np.where(inside, px, lon), np.where(inside, py, lat)


def _gcj02_to_wgs84(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Array kernel of gcj02_to_wgs84."""
    return _invert(_wgs84_to_gcj02, lon, lat)


def _bd09_to_gcj02(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Array kernel of bd09_to_gcj02."""
    return _invert(_gcj02_to_bd09, lon, lat)


def _wgs84_to_bd09(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Array kernel of wgs84_to_bd09."""
    return _gcj02_to_bd09(*_wgs84_to_gcj02(lon, lat))


def _bd09_to_wgs84(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Array kernel of bd09_to_wgs84."""
    return _gcj02_to_wgs84(*_bd09_to_gcj02(lon, lat))


def _identity(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Array kernel for a CRS that is already WGS84."""
    return lon, lat


def _cgcs2000_to_wgs84(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Array kernel EPSG:4490 -> EPSG:4326 through pyproj (centimetres apart, so close to identity)."""
    x, y = transformer(4490, STORAGE_EPSG).transform(lon, lat)
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


def _wgs84_to_cgcs2000(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Array kernel EPSG:4326 -> EPSG:4490 through pyproj."""
    x, y = transformer(STORAGE_EPSG, 4490).transform(lon, lat)
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


def _apply(kernel: Kernel, lon: Coord, lat: Coord) -> tuple[Coord, Coord]:
    """Run an array kernel on floats or arrays: floats in, floats out; arrays in, arrays out."""
    x, y = np.broadcast_arrays(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    rx, ry = kernel(x, y)
    if x.ndim == 0:
        return float(rx), float(ry)
    return np.asarray(rx), np.asarray(ry)


def wgs84_to_gcj02(lon: Coord, lat: Coord) -> tuple[Coord, Coord]:
    """WGS84 -> GCJ-02 (Amap, Tencent); unchanged outside China."""
    return _apply(_wgs84_to_gcj02, lon, lat)


def gcj02_to_wgs84(lon: Coord, lat: Coord) -> tuple[Coord, Coord]:
    """GCJ-02 -> WGS84 by iteration, to better than 1e-9 degrees; unchanged outside China."""
    return _apply(_gcj02_to_wgs84, lon, lat)


def gcj02_to_bd09(lon: Coord, lat: Coord) -> tuple[Coord, Coord]:
    """GCJ-02 -> BD-09 (Baidu); unchanged outside China."""
    return _apply(_gcj02_to_bd09, lon, lat)


def bd09_to_gcj02(lon: Coord, lat: Coord) -> tuple[Coord, Coord]:
    """BD-09 -> GCJ-02 by iteration, to better than 1e-9 degrees; unchanged outside China."""
    return _apply(_bd09_to_gcj02, lon, lat)


def wgs84_to_bd09(lon: Coord, lat: Coord) -> tuple[Coord, Coord]:
    """WGS84 -> BD-09 through GCJ-02; unchanged outside China."""
    return _apply(_wgs84_to_bd09, lon, lat)


def bd09_to_wgs84(lon: Coord, lat: Coord) -> tuple[Coord, Coord]:
    """BD-09 -> WGS84 through GCJ-02; unchanged outside China."""
    return _apply(_bd09_to_wgs84, lon, lat)


_TO_WGS84: dict[str, Kernel] = {
    "wgs84": _identity,
    "cgcs2000": _cgcs2000_to_wgs84,
    "gcj02": _gcj02_to_wgs84,
    "bd09": _bd09_to_wgs84,
}
_FROM_WGS84: dict[str, Kernel] = {
    "wgs84": _identity,
    "cgcs2000": _wgs84_to_cgcs2000,
    "gcj02": _wgs84_to_gcj02,
    "bd09": _wgs84_to_bd09,
}


def input_crs_name(crs: str) -> str:
    """The canonical INPUT_CRS name for a user's spelling; raise UnknownCRS listing the accepted names."""
    name = str(crs).strip().lower()
    name = _ALIASES.get(name, name)
    if name not in INPUT_CRS:
        accepted = ", ".join(INPUT_CRS + ("EPSG:4326", "EPSG:4490"))
        raise UnknownCRS(f"unknown coordinate system {crs!r}: use one of {accepted}")
    return name


def to_wgs84(lon: Coord, lat: Coord, crs: str) -> tuple[Coord, Coord]:
    """Coordinates in wgs84, cgcs2000, gcj02 or bd09 -> WGS84 (storage) lon, lat."""
    return _apply(_TO_WGS84[input_crs_name(crs)], lon, lat)


def from_wgs84(lon: Coord, lat: Coord, crs: str) -> tuple[Coord, Coord]:
    """WGS84 lon, lat -> wgs84, cgcs2000, gcj02 or bd09, e.g. GCJ-02 for users to paste into Amap."""
    return _apply(_FROM_WGS84[input_crs_name(crs)], lon, lat)


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Geodesic distance in metres between two WGS84 points."""
    return float(_geod().inv(lon1, lat1, lon2, lat2)[2])


@lru_cache(maxsize=1)
def _geod() -> Geod:
    return Geod(ellps="WGS84")


# --------------------------------------------------------------------------------------------
# The CRSs of OGC API - Features Part 2, by URI, in their authority's axis order
# --------------------------------------------------------------------------------------------

CRS84_URI = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
OGC_CRS = {  # URI -> pyproj input; EPSG:4326 and 4490 are lat, lon; EPSG:4550 is northing, easting
    CRS84_URI: "OGC:CRS84",
    "http://www.opengis.net/def/crs/EPSG/0/4326": "EPSG:4326",
    "http://www.opengis.net/def/crs/EPSG/0/4490": "EPSG:4490",
    "http://www.opengis.net/def/crs/EPSG/0/4550": "EPSG:4550",
}


@lru_cache(maxsize=16)
def _authority(src: str, dst: str) -> Transformer:
    """A transformer that keeps each CRS's own axis order (always_xy=False), as OGC API Part 2 asks."""
    return Transformer.from_crs(CRS.from_user_input(src), CRS.from_user_input(dst), always_xy=False)


def from_crs84(geom: shapely.Geometry, uri: str) -> shapely.Geometry:
    """A lon/lat geometry in the CRS named by an OGC URI, in that CRS's axis order."""
    if uri == CRS84_URI:
        return geom
    t = _authority(OGC_CRS[CRS84_URI], OGC_CRS[uri])

    def apply(coords: np.ndarray) -> np.ndarray:
        a, b = t.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([a, b])

    return shapely.transform(geom, apply)


def bbox_to_crs84(bbox: tuple[float, float, float, float], uri: str) -> tuple[float, float, float, float]:
    """A bbox given in the CRS of `uri` (its axis order: min of axis 1, min of axis 2, max, max) as a lon/lat
    envelope that holds it (its edges densified, so a projected box is not cut short)."""
    if uri == CRS84_URI:
        return bbox
    a0, b0, a1, b1 = bbox
    steps = np.linspace(0.0, 1.0, 21)
    a = np.concatenate([a0 + (a1 - a0) * steps, np.full(21, a1), a1 - (a1 - a0) * steps, np.full(21, a0)])
    b = np.concatenate([np.full(21, b0), b0 + (b1 - b0) * steps, np.full(21, b1), b1 - (b1 - b0) * steps])
    lon, lat = _authority(OGC_CRS[uri], OGC_CRS[CRS84_URI]).transform(a, b)
    if not (np.isfinite(lon).all() and np.isfinite(lat).all()):
        raise UnknownCRS(f"bbox {bbox} is outside the area of {uri}")
    return float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max())
