"""Checking coordinates that people and systems send: clear reasons for bad ones."""

from __future__ import annotations

import math
from typing import SupportsFloat, SupportsIndex

# Generous box around Shanghai: a point outside it is almost certainly a mistake.
LON_RANGE = (-180.0, 180.0)
LAT_RANGE = (-90.0, 90.0)
REGION = (120.0, 30.0, 123.0, 32.5)  # lon min, lat min, lon max, lat max
# What float() takes: text, a buffer of text, or an object with __float__ or __index__ (the common types first:
# the protocol checks are slower).
_FLOAT_INPUT = (str, float, int, bytes, bytearray, memoryview, SupportsFloat, SupportsIndex)


class PointError(ValueError):
    """A coordinate is missing or wrong; `field` names it."""

    def __init__(self, field: str, message: str, status: int = 400):
        super().__init__(message)
        self.field = field
        self.message = message
        self.status = status


def number(field: str, raw: object) -> float:
    """A finite number, or PointError naming the field."""
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        raise PointError(field, f"{field} is missing")
    if isinstance(raw, bool) or not isinstance(raw, _FLOAT_INPUT):
        raise PointError(field, f"{field} must be a number, got {raw!r}")
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise PointError(field, f"{field} must be a number, got {raw!r}") from None
    if not math.isfinite(value):
        raise PointError(field, f"{field} must be a finite number, got {raw!r}")
    return value


def check_point(lon_raw: object, lat_raw: object) -> tuple[float, float]:
    """Parse lon/lat, refusing NaN, infinities, out-of-range and swapped values (422 for the last two)."""
    lon, lat = number("lon", lon_raw), number("lat", lat_raw)
    if not LAT_RANGE[0] <= lat <= LAT_RANGE[1]:
        swapped = LAT_RANGE[0] <= lon <= LAT_RANGE[1] and _in_region(lat, lon)
        hint = " (longitude and latitude look swapped)" if swapped else ""
        raise PointError("lat", f"lat {lat} is outside -90..90{hint}", 422)
    if not LON_RANGE[0] <= lon <= LON_RANGE[1]:
        raise PointError("lon", f"lon {lon} is outside -180..180", 422)
    if not _in_region(lon, lat) and _in_region(lat, lon):
        raise PointError("lon", f"lon {lon}, lat {lat} look swapped: Shanghai is near lon 121.9, lat 30.9", 422)
    return lon, lat


def _in_region(lon: float, lat: float) -> bool:
    return REGION[0] <= lon <= REGION[2] and REGION[1] <= lat <= REGION[3]
