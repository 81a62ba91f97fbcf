"""Working time: deadlines in working hours or working days from a calendar kept as data.

A working day is Monday to Friday unless the calendar marks it a holiday, plus the make-up
working days (调休) the calendar lists on weekends. Working hours are the day's periods (default
08:30-11:30 and 13:00-17:30, 7.5 hours). Limits in `working_days` count whole working days of
that length; limits in `hours` are plain clock hours (24x7 duty). All times are aware datetimes;
days and periods are read in Beijing time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

BEIJING = ZoneInfo("Asia/Shanghai")
DEFAULT_PERIODS = ((time(8, 30), time(11, 30)), (time(13, 0), time(17, 30)))
UNITS = ("working_hours", "working_days", "hours")
_MAX_DAYS = 3660  # never loop beyond ten years


@dataclass(frozen=True)
class WorkCalendar:
    """Holidays and make-up working days (exceptions to Monday-Friday) and the daily working periods."""

    holidays: frozenset[date] = frozenset()
    makeup_days: frozenset[date] = frozenset()
    periods: tuple[tuple[time, time], ...] = DEFAULT_PERIODS
    tz: ZoneInfo = BEIJING
    _day_hours: float = field(init=False, repr=False, default=0.0)

    def __post_init__(self) -> None:
        hours = sum((_seconds(b) - _seconds(a)) / 3600 for a, b in self.periods)
        object.__setattr__(self, "_day_hours", hours)

    @property
    def day_hours(self) -> float:
        """Working hours in one working day."""
        return self._day_hours

    def is_working_day(self, day: date) -> bool:
        """True on Monday-Friday that are not holidays, and on make-up days."""
        if day in self.makeup_days:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def to_hours(self, amount: float, unit: str) -> float:
        """A limit in hours of its own kind: working hours for working units, clock hours for `hours`."""
        if unit == "working_days":
            return amount * self.day_hours
        if unit in ("working_hours", "hours"):
            return float(amount)
        raise ValueError(f"unknown time unit {unit!r}; units: {', '.join(UNITS)}")

    def add(self, start: datetime, hours: float, unit: str = "working_hours") -> datetime:
        """The moment `hours` of working time (or clock time for unit `hours`) after `start`."""
        if unit == "hours":
            return start + timedelta(hours=hours)
        left = timedelta(hours=hours)
        for a, b in self._windows_from(start):
            span = b - a
            if left <= span:
                return a + left
            left -= span
        raise ValueError("the working calendar has no working time in the next ten years")

    def elapsed(self, start: datetime, end: datetime, unit: str = "working_hours") -> float:
        """Working hours (or clock hours for unit `hours`) between two moments; 0 when end <= start."""
        if end <= start:
            return 0.0
        if unit == "hours":
            return (end - start).total_seconds() / 3600
        total = timedelta()
        for a, b in self._windows_from(start):
            if a >= end:
                break
            total += min(b, end) - a
        return total.total_seconds() / 3600

    def _windows_from(self, start: datetime):
        """Working periods as (from, to) datetimes, clipped to begin at `start`, in order."""
        local = start.astimezone(self.tz)
        day = local.date()
        for _ in range(_MAX_DAYS):
            if self.is_working_day(day):
                for a, b in self.periods:
                    wa = datetime.combine(day, a, self.tz)
                    wb = datetime.combine(day, b, self.tz)
                    if wb <= local:
                        continue
                    yield max(wa, local), wb
            day += timedelta(days=1)


def _seconds(t: time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


NEAR_DUE_SHARE = 0.8  # the default of the setting near_due_share


def light(share: float, near: float = NEAR_DUE_SHARE) -> str:
    """The traffic light of an elapsed share of the limit: green < near <= yellow <= 1.0 < red."""
    if share < near:
        return "green"
    return "yellow" if share <= 1.0 else "red"
