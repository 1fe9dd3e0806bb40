"""Schedules: weekly hours, exceptions, Polish holidays, time zones and DST changes."""

from __future__ import annotations

import textwrap
from datetime import UTC, date, datetime

import holidays
import pytest
from dateutil.easter import easter as dateutil_easter

from ivrdsl.schedule import ScheduleSpec, easter, parse_hours, polish_holidays
from ivrdsl.validator import load_text


def spec(hours: str, extra: str = "") -> ScheduleSpec:
    extra = "\n".join("    " + line.strip() if not line.lstrip().startswith("-")
                       else "      " + line.strip() for line in extra.splitlines())
    text = textwrap.dedent("""
        start: s
        nodes:
          s:
            type: schedule
            hours: HOURS
        EXTRA
            open: o
            closed: c
          o: {type: hangup}
          c: {type: hangup}
    """).replace("HOURS", hours).replace("EXTRA", extra)
    value = load_text(text, "s.yaml").nodes["s"].get("schedule")
    assert isinstance(value, ScheduleSpec)
    return value


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def test_polish_holidays_2026() -> None:
    assert list(polish_holidays(2026)) == [
        date(2026, 1, 1), date(2026, 1, 6),
        date(2026, 4, 5), date(2026, 4, 6),  # Easter Sunday and Monday
        date(2026, 5, 1), date(2026, 5, 3),
        date(2026, 5, 24),  # Pentecost Sunday (Easter + 49)
        date(2026, 6, 4),  # Corpus Christi (Easter + 60)
        date(2026, 8, 15), date(2026, 11, 1), date(2026, 11, 11),
        date(2026, 12, 24), date(2026, 12, 25), date(2026, 12, 26),
    ]


def test_movable_feasts_2027() -> None:
    days = polish_holidays(2027)
    assert days[date(2027, 3, 29)] == "Poniedziałek Wielkanocny"
    assert days[date(2027, 5, 16)] == "Zielone Świątki"
    assert days[date(2027, 5, 27)] == "Boże Ciało"


@pytest.mark.parametrize("year", range(2012, 2041))
def test_polish_holidays_agree_with_the_holidays_package(year: int) -> None:
    assert set(polish_holidays(year)) == set(holidays.Poland(years=year))


def test_easter_agrees_with_dateutil() -> None:
    assert all(easter(y) == dateutil_easter(y) for y in range(1900, 2400))


@pytest.mark.parametrize(("text", "expected"), [
    ("8:00-17:00", (480, 1020)), ("08:30 – 12:15", (510, 735)),
    ("0:00-23:59", (0, 1440)), ("0:00-24:00", (0, 1440)), ("0:00-0:00", None),
])
def test_parse_hours(text: str, expected: tuple[int, int] | None) -> None:
    assert parse_hours(text) == expected


@pytest.mark.parametrize("text", ["8-17", "17:00-8:00", "8:00-8:00", "24:00-24:00",
                                  "7:60-8:00", "8:00-24:01", "x"])
def test_parse_hours_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_hours(text)


def test_all_day_and_closed_day() -> None:
    s = spec('{mon: "0:00-23:59", tue: "0:00-0:00"}')
    # Monday 2026-01-05; Warsaw is UTC+1 in January.
    assert s.is_open(utc(2026, 1, 4, 23, 0))  # Mon 00:00 local
    assert s.is_open(utc(2026, 1, 5, 22, 59, 59))  # Mon 23:59:59 local
    assert not s.is_open(utc(2026, 1, 5, 23, 0))  # Tue 00:00 local
    assert not s.is_open(utc(2026, 1, 6, 12, 0))


def test_day_groups_and_split_hours() -> None:
    s = spec('{workdays: ["8:00-12:00", "13:00-17:00"], fri: "8:00-14:00", '
             'weekend: "10:00-12:00", daily: "0:00-0:00"}', "holidays: none")
    assert s.is_open(utc(2026, 1, 7, 7, 0))  # Wed 8:00
    assert not s.is_open(utc(2026, 1, 7, 11, 30))  # Wed 12:30, lunch
    assert s.is_open(utc(2026, 1, 9, 12, 30))  # Fri 13:30, Friday's own hours
    assert not s.is_open(utc(2026, 1, 9, 13, 0))  # Fri 14:00
    assert s.is_open(utc(2026, 1, 10, 9, 0))  # Sat 10:00
    assert not s.is_open(utc(2026, 1, 10, 11, 0))  # Sat 12:00


def test_dst_spring_forward_keeps_local_hours() -> None:
    s = spec('{daily: "8:00-17:00"}', "holidays: none")
    assert s.is_open(utc(2026, 3, 28, 7, 0))  # Sat 08:00 CET (UTC+1)
    assert s.is_open(utc(2026, 3, 29, 6, 0))  # Sun 08:00 CEST (UTC+2)
    assert not s.is_open(utc(2026, 3, 29, 5, 59))  # Sun 07:59 CEST
    assert not s.is_open(utc(2026, 3, 29, 15, 0))  # Sun 17:00 CEST


def test_dst_missing_and_repeated_hours() -> None:
    s = spec('{daily: "2:00-3:00"}', "holidays: none")
    # 29 March 2026: 02:00 CET jumps to 03:00 CEST; the hour 2:00-3:00 never happens.
    assert not s.is_open(utc(2026, 3, 29, 0, 59))  # 01:59 CET
    assert not s.is_open(utc(2026, 3, 29, 1, 0))  # 03:00 CEST
    # 25 October 2026: 03:00 CEST falls back to 02:00 CET; 2:00-3:00 happens twice.
    assert s.is_open(utc(2026, 10, 25, 0, 30))  # 02:30 CEST
    assert s.is_open(utc(2026, 10, 25, 1, 30))  # 02:30 CET
    assert not s.is_open(utc(2026, 10, 25, 2, 0))  # 03:00 CET


def test_dst_fall_back_workday() -> None:
    s = spec('{workdays: "8:00-17:00"}')
    assert s.is_open(utc(2026, 10, 23, 6, 0))  # Fri 08:00 CEST
    assert not s.is_open(utc(2026, 10, 26, 6, 30))  # Mon 07:30 CET
    assert s.is_open(utc(2026, 10, 26, 7, 0))  # Mon 08:00 CET
    assert not s.is_open(utc(2026, 10, 26, 16, 0))  # Mon 17:00 CET


def test_other_time_zone() -> None:
    s = spec('{daily: "9:00-10:00"}', "timezone: America/New_York\nholidays: none")
    assert s.is_open(utc(2026, 1, 7, 14, 30))  # 09:30 EST
    assert not s.is_open(utc(2026, 1, 7, 9, 30))  # 09:30 UTC is 04:30 in New York


@pytest.mark.parametrize(("day", "open_"), [
    (date(2026, 4, 6), False),  # Easter Monday
    (date(2026, 6, 4), False),  # Corpus Christi (Thursday)
    (date(2026, 11, 11), False),  # Independence Day (Wednesday)
    (date(2026, 12, 24), False),  # Christmas Eve, a holiday since 2025
    (date(2024, 12, 24), True),  # ... but not in 2024 (a Tuesday)
    (date(2026, 6, 5), True),  # an ordinary Friday
])
def test_holidays_close_workdays(day: date, open_: bool) -> None:
    s = spec('{workdays: "8:00-17:00"}')
    assert s.is_open(datetime(day.year, day.month, day.day, 10, tzinfo=UTC)) is open_


def test_holiday_hours_and_holidays_none() -> None:
    s = spec('{workdays: "8:00-17:00"}', 'holiday_hours: "10:00-12:00"')
    assert s.is_open(utc(2026, 4, 6, 9, 0))  # Easter Monday 11:00 local
    assert not s.is_open(utc(2026, 4, 6, 7, 0))  # 09:00 local
    s = spec('{workdays: "8:00-17:00"}', "holidays: none")
    assert s.is_open(utc(2026, 4, 6, 7, 0))


def test_exceptions_win_over_holidays_and_weekly_hours() -> None:
    s = spec('{workdays: "8:00-17:00"}', """exceptions:
        - {date: 2026-04-06, hours: "9:00-11:00"}
        - {date: 2026-07-01, until: 2026-07-03, hours: "0:00-0:00"}
        - {date: "12-28", until: "01-02", hours: "10:00-12:00"}
        - {date: 2026-08-01, hours: "0:00-23:59"}
    """)
    assert s.is_open(utc(2026, 4, 6, 8, 0))  # Easter Monday, opened by an exception
    assert not s.is_open(utc(2026, 7, 2, 8, 0))  # a closed range
    assert s.is_open(utc(2026, 7, 6, 8, 0))  # after the range
    assert s.is_open(utc(2026, 12, 30, 9, 30))  # yearly range across New Year: 10:30
    assert not s.is_open(utc(2026, 12, 30, 8, 0))  # 09:00 local
    assert s.is_open(utc(2027, 1, 1, 9, 30))  # New Year's Day, exception wins
    assert s.is_open(utc(2026, 8, 1, 21, 0))  # a Saturday opened all day (23:00 local)


def test_naive_clock_is_rejected() -> None:
    s = spec('{daily: "8:00-17:00"}')
    with pytest.raises(ValueError, match="timezone-aware"):
        s.is_open(datetime(2026, 1, 1, 10))
