"""Checking request parameters shared by several endpoints: dates, periods, numbers, bounding boxes.

Each failure is an InputError naming the parameter, so every endpoint refuses the same mistake the
same way.
"""

from __future__ import annotations

from datetime import date

from app.services.errors import InputError

MAX_PERIOD_DAYS = 366 * 3


def day(name: str, raw: str) -> date:
    """A YYYY-MM-DD date (a longer ISO time is cut to its date)."""
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        raise InputError(name, f"{name} must be a date YYYY-MM-DD, got {raw!r}", 400) from None


def check_period(start: date, end: date) -> tuple[date, date]:
    """[start, end) must be a forward period of at most three years."""
    if end <= start:
        raise InputError("to", f"to ({end}) must be after from ({start})")
    if (end - start).days > MAX_PERIOD_DAYS:
        raise InputError("to", "a period may span at most three years")
    return start, end


def number(args, name: str, default: float, low: float, high: float, cast=float):
    """A numeric query parameter within [low, high]."""
    raw = args.get(name)
    if raw in (None, ""):
        return default
    try:
        value = cast(raw)
    except ValueError:
        raise InputError(name, f"{name} must be a number", 400) from None
    if not low <= value <= high:
        raise InputError(name, f"{name} must be between {low:g} and {high:g}")
    return value


def bbox(raw: str | None) -> tuple[float, float, float, float] | None:
    """minlon,minlat,maxlon,maxlat with min < max, or None when absent."""
    if not raw:
        return None
    try:
        values = tuple(float(v) for v in raw.split(","))
    except ValueError:
        raise InputError("bbox", "bbox must be minlon,minlat,maxlon,maxlat", 400) from None
    if len(values) != 4 or not (values[0] < values[2] and values[1] < values[3]):
        raise InputError("bbox", "bbox must be minlon,minlat,maxlon,maxlat with min < max", 400)
    return values


def whole(args, name: str, default: int, low: int, high: int) -> int:
    """A whole-number query parameter within [low, high]."""
    raw = args.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InputError(name, f"{name} must be a whole number, got {raw!r}", 400) from None
    if not low <= value <= high:
        raise InputError(name, f"{name} must be between {low} and {high}, got {value}")
    return value


def body_number(payload: dict, name: str, default, low, high, kind=float):
    """A number in a JSON body (not a string, not a boolean) within [low, high], as `kind`."""
    value = payload.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(name, f"{name} must be a number", 400)
    if not low <= value <= high:
        raise InputError(name, f"{name} must be between {low} and {high}")
    return kind(value)
