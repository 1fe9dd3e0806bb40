"""Opening hours: weekly hours, dated exceptions and Polish public holidays, per time zone.

A schedule answers one question, "is it open at this instant?", from the wall time in
its own zone (``zoneinfo``), so a DST change moves nothing: 8:00 stays 8:00 local.
Precedence, most specific first: a dated exception, then a public holiday, then the
weekly hours.  A day's hours are a union of ``[start, end)`` minute ranges; as the
source documents say, ``0:00-23:59`` means the whole day (23:59 is read as midnight)
and ``0:00-0:00`` means closed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

__all__ = [
    "DAY_KEYS",
    "DateException",
    "DayHours",
    "easter",
    "ScheduleSpec",
    "parse_hours",
    "polish_holidays",
]

DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Group keys and the weekdays they cover; a specific day overrides its group.
DAY_GROUPS = {"workdays": DAY_KEYS[:5], "weekend": DAY_KEYS[5:], "daily": DAY_KEYS}

_RANGE = re.compile(
    r"\s*(?P<h1>[0-9]{1,2}):(?P<m1>[0-9]{2})\s*[-–]\s*(?P<h2>[0-9]{1,2}):(?P<m2>[0-9]{2})\s*"
)


@dataclass(frozen=True, slots=True)
class DayHours:
    """Open minute ranges of one day, ``[start, end)`` in minutes after local midnight."""

    ranges: tuple[tuple[int, int], ...] = ()

    def is_open(self, minute: int) -> bool:
        return any(start <= minute < end for start, end in self.ranges)


CLOSED = DayHours()


def parse_hours(text: str) -> tuple[int, int] | None:
    """Parse ``H:MM-H:MM``: a minute range, or None for ``0:00-0:00`` (closed).

    Raises ValueError with the reason for anything else that is not a valid range.
    """
    match = _RANGE.fullmatch(text)
    if match is None:
        raise ValueError(f"expected hours like '8:00-17:00', got {text!r}")
    h1, m1, h2, m2 = (int(match[k]) for k in ("h1", "m1", "h2", "m2"))
    for hour, minute, label in ((h1, m1, "start"), (h2, m2, "end")):
        if minute > 59 or hour > 24 or (hour == 24 and minute != 0):
            raise ValueError(f"{label} time {hour}:{minute:02d} is not a time of day")
    if h1 == 24:
        raise ValueError("start time 24:00 is not a time of day")
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if start == 0 and end == 0:
        return None  # "0:00-0:00": closed that day
    if end == 23 * 60 + 59:
        end = 24 * 60  # "…-23:59": to the end of the day
    if end <= start:
        raise ValueError(
            f"{text.strip()!r} ends before it starts; split a range past midnight "
            "into two days"
        )
    return (start, end)


def day_hours(ranges: Iterable[tuple[int, int] | None]) -> DayHours:
    return DayHours(tuple(sorted(r for r in ranges if r is not None)))


@dataclass(frozen=True, slots=True)
class DateException:
    """Hours for one date, a date range, or (``year`` None) the same day every year."""

    start: date
    end: date  # inclusive; equals start for a single day
    hours: DayHours
    yearly: bool = False

    def covers(self, day: date) -> bool:
        if not self.yearly:
            return self.start <= day <= self.end
        key = (day.month, day.day)
        first, last = (self.start.month, self.start.day), (self.end.month, self.end.day)
        if first <= last:
            return first <= key <= last
        return key >= first or key <= last  # e.g. 12-24 .. 01-06 across New Year


def easter(year: int) -> date:
    """Western (Gregorian) Easter Sunday: the anonymous Gregorian computus (Meeus)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 19 * el) // 433
    month, day = divmod(h + el - 7 * m + 90, 25)
    return date(year, month, (h + el - 7 * m + 33 * month + 19) % 32)


@lru_cache(maxsize=64)
def polish_holidays(year: int) -> dict[date, str]:
    """Statutory non-working days in Poland (ustawa o dniach wolnych od pracy).

    Movable feasts hang off Western Easter: Easter Monday (+1), Pentecost Sunday (+49)
    and Corpus Christi (+60).  Christmas Eve became a public holiday in 2025.
    """
    sunday = easter(year)
    days = {
        date(year, 1, 1): "Nowy Rok",
        sunday: "Wielkanoc",
        sunday + timedelta(days=1): "Poniedziałek Wielkanocny",
        date(year, 5, 1): "Święto Pracy",
        date(year, 5, 3): "Święto Konstytucji 3 Maja",
        sunday + timedelta(days=49): "Zielone Świątki",
        sunday + timedelta(days=60): "Boże Ciało",
        date(year, 8, 15): "Wniebowzięcie NMP",
        date(year, 11, 1): "Wszystkich Świętych",
        date(year, 11, 11): "Narodowe Święto Niepodległości",
        date(year, 12, 25): "Boże Narodzenie (pierwszy dzień)",
        date(year, 12, 26): "Boże Narodzenie (drugi dzień)",
    }
    if year >= 2011:
        days[date(year, 1, 6)] = "Święto Trzech Króli"
    if year == 2018:  # one-off: the centenary of independence (act of 2018-11-07)
        days[date(2018, 11, 12)] = "Narodowe Święto Niepodległości (stulecie)"
    if year >= 2025:
        days[date(year, 12, 24)] = "Wigilia Bożego Narodzenia"
    return dict(sorted(days.items()))


HOLIDAY_CALENDARS = {"pl": polish_holidays}


@dataclass(frozen=True, slots=True)
class ScheduleSpec:
    timezone: str
    weekly: tuple[DayHours, ...]  # Monday first, seven entries
    exceptions: tuple[DateException, ...] = ()
    holidays: str | None = "pl"
    holiday_hours: DayHours = CLOSED

    def hours_on(self, day: date) -> DayHours:
        for exception in self.exceptions:
            if exception.covers(day):
                return exception.hours
        if self.holidays is not None and day in HOLIDAY_CALENDARS[self.holidays](day.year):
            return self.holiday_hours
        return self.weekly[day.weekday()]

    def is_open(self, instant: datetime) -> bool:
        """Whether ``instant`` (timezone-aware) falls in opening hours, in local time."""
        if instant.tzinfo is None:
            raise ValueError("the clock must return a timezone-aware datetime")
        local = instant.astimezone(ZoneInfo(self.timezone))
        return self.hours_on(local.date()).is_open(local.hour * 60 + local.minute)
