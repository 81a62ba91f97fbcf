"""Checking request parameters, one parser per kind: dates, times, periods, numbers, whole numbers,
bounding boxes. Each failure is an InputError naming the parameter, so every endpoint refuses the
same mistake the same way. No Flask: `args` is any mapping of strings.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime

from app.cases.worktime import BEIJING
from app.errors import InputError

MAX_PERIOD_DAYS = 366 * 3
# Dates the platform accepts anywhere: PostgreSQL and Python both hold far more, but a date outside these,
# with a time zone or a day added, can leave what Python's datetime holds (0001-01-01T00:00+14:00 does).
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2200, 12, 31)
_WHOLE = re.compile(r"^\s*\d{1,18}\s*$")

Args = Mapping[str, str]
BBox = tuple[float, float, float, float]


def _in_range(name: str, value: date, raw: str) -> None:
    if not FIRST_DAY <= value <= LAST_DAY:
        raise InputError(name, f"{name} {raw[:40]!r} is out of range: dates lie between {FIRST_DAY} and {LAST_DAY}")


def day(name: str, raw: str) -> date:
    """A YYYY-MM-DD date (a longer ISO time is cut to its date) between FIRST_DAY and LAST_DAY."""
    try:
        value = date.fromisoformat(raw[:10])
    except ValueError:
        raise InputError(name, f"{name} must be a date YYYY-MM-DD, got {raw[:40]!r}", 400) from None
    _in_range(name, value, raw)
    return value


def instant(name: str, raw: str) -> datetime:
    """An ISO 8601 date or time between FIRST_DAY and LAST_DAY; without a zone it is Beijing time."""
    try:
        value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InputError(name, f"{name} must be an ISO 8601 date or time, got {raw[:40]!r}", 400) from None
    _in_range(name, value.date(), raw)
    return value if value.tzinfo else value.replace(tzinfo=BEIJING)


def check_period(start: date, end: date) -> tuple[date, date]:
    """[start, end) must be a forward period of at most three years."""
    if end <= start:
        raise InputError("to", f"to ({end}) must be after from ({start})")
    if (end - start).days > MAX_PERIOD_DAYS:
        raise InputError("to", "a period may span at most three years")
    return start, end


def number(args: Args, name: str, default: float, low: float, high: float,
           cast: Callable[[str], float] = float) -> float:
    """A numeric query parameter within [low, high]."""
    raw = args.get(name)
    if raw in (None, ""):
        return default
    try:
        value = cast(raw)
    except ValueError:
        raise InputError(name, f"{name} must be a number", 400) from None
    if not math.isfinite(value) or not low <= value <= high:
        raise InputError(name, f"{name} must be between {low:g} and {high:g}")
    return value


def whole(args: Args, name: str, default: int, low: int, high: int) -> int:
    """A whole-number query parameter (digits only) within [low, high]."""
    raw = args.get(name)
    if raw in (None, ""):
        return default
    if not _WHOLE.match(raw):
        raise InputError(name, f"{name} must be a whole number, got {raw[:40]!r}", 400)
    value = int(raw)
    if not low <= value <= high:
        raise InputError(name, f"{name} must be between {low} and {high}, got {value}")
    return value


def bbox(raw: str | None) -> BBox | None:
    """minlon,minlat,maxlon,maxlat in CRS84 (or the 6-number form with heights, which are ignored); None
    when absent."""
    if raw is None or raw == "":
        return None
    try:
        values = [float(v) for v in raw.split(",")]
    except ValueError:
        raise InputError("bbox", "bbox must be 4 numbers: minlon,minlat,maxlon,maxlat", 400) from None
    if len(values) == 6:
        values = [values[0], values[1], values[3], values[4]]
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise InputError("bbox", "bbox must be 4 numbers: minlon,minlat,maxlon,maxlat", 400)
    minx, miny, maxx, maxy = values
    if not (-180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise InputError("bbox", "bbox must be in CRS84: longitudes -180..180, latitudes -90..90, minlat <= maxlat",
                         400)
    if minx > maxx:
        raise InputError("bbox", "a bbox across the antimeridian is not supported here", 400)
    return minx, miny, maxx, maxy


def flag(args: Args, name: str) -> bool:
    """A yes/no query parameter: 1, true or yes."""
    return (args.get(name) or "").lower() in ("1", "true", "yes")


def body_number(payload: Mapping, name: str, default: float, low: float, high: float,
                kind: Callable[[float], float] = float) -> float:
    """A number in a JSON body (not a string, not a boolean) within [low, high], as `kind`."""
    value = payload.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(name, f"{name} must be a number", 400)
    if not math.isfinite(value) or not low <= value <= high:
        raise InputError(name, f"{name} must be between {low} and {high}")
    return kind(value)
