"""Every coordinate transformation of the platform lives here (always_xy=True: lon, lat order).

Storage is EPSG:4326 (WGS84 lon/lat); metric work (areas, distances, buffers) is done in
EPSG:4550, CGCS2000 / 3-degree Gauss-Kruger CM 123E, which covers Lingang.
"""

from __future__ import annotations

from functools import lru_cache

import shapely
from pyproj import CRS, Transformer
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


def _vectorised(src: int | str | CRS, dst: int | str | CRS):
    t = transformer(src, dst)

    def apply(coords):
        x, y = t.transform(coords[:, 0], coords[:, 1])
        coords = coords.copy()
        coords[:, 0], coords[:, 1] = x, y
        return coords

    return apply


def metric_area(geom: shapely.Geometry) -> float:
    """Area in m^2 of a geometry given in the storage CRS."""
    return float(to_metric(geom).area)
