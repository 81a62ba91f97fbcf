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
