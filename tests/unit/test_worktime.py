"""Working time against a calendar: weekends, holidays, make-up days, clock hours."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from app.cases.worktime import BEIJING, WorkCalendar, light

# 2026: 国庆 1-7 October are holidays, Sunday 27 September and Saturday 10 October are make-up days.
CAL = WorkCalendar(
    holidays=frozenset(date(2026, 10, d) for d in range(1, 8)),
    makeup_days=frozenset({date(2026, 9, 27), date(2026, 10, 10)}),
)


def bj(*args) -> datetime:
    return datetime(*args, tzinfo=BEIJING)


def test_a_working_day_has_seven_and_a_half_hours():
    assert CAL.day_hours == 7.5
    assert CAL.elapsed(bj(2026, 11, 23, 0, 0), bj(2026, 11, 24, 0, 0)) == 7.5  # Monday


def test_hours_skip_lunch_and_nights():
    assert CAL.add(bj(2026, 11, 23, 11, 0), 1.0) == bj(2026, 11, 23, 13, 30)
    assert CAL.add(bj(2026, 11, 23, 17, 0), 1.0) == bj(2026, 11, 24, 9, 0)
    assert CAL.add(bj(2026, 11, 23, 20, 0), 0.5) == bj(2026, 11, 24, 9, 0)


def test_weekends_are_skipped():
    friday = bj(2026, 11, 27, 16, 30)
    assert CAL.add(friday, 2.0) == bj(2026, 11, 30, 9, 30)  # Monday
    assert CAL.elapsed(friday, bj(2026, 11, 30, 9, 30)) == pytest.approx(2.0)


def test_a_holiday_week_and_the_make_up_days():
    # Tuesday 29 September 17:00 + 4 working days: Wednesday 30 Sept, then the holiday until
    # Wednesday 7 October, then Thursday 8, Friday 9 and the make-up Saturday 10 October.
    start = bj(2026, 9, 29, 17, 0)
    due = CAL.add(start, CAL.to_hours(4, "working_days"))
    assert due == bj(2026, 10, 10, 17, 0)
    assert CAL.is_working_day(date(2026, 9, 27)) and not CAL.is_working_day(date(2026, 10, 5))
    assert CAL.elapsed(start, due) == pytest.approx(30.0)


def test_clock_hours_run_day_and_night():
    assert CAL.add(bj(2026, 10, 3, 23, 0), 2.0, "hours") == bj(2026, 10, 4, 1, 0)
    assert CAL.elapsed(bj(2026, 10, 3, 23, 0), bj(2026, 10, 4, 1, 0), "hours") == 2.0


def test_add_and_elapsed_agree():
    start = bj(2026, 9, 25, 10, 17)
    for hours in (0.25, 3.0, 7.5, 11.0, 40.0, 100.0):
        assert CAL.elapsed(start, CAL.add(start, hours)) == pytest.approx(hours)


def test_lights():
    assert [light(s) for s in (0.0, 0.79, 0.8, 1.0, 1.01)] == ["green", "green", "yellow", "yellow", "red"]


def test_unknown_unit():
    with pytest.raises(ValueError, match="unknown time unit"):
        CAL.to_hours(3, "fortnights")
