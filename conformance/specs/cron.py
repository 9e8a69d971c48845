"""Five-field cron expressions, as the ``app_meta`` spec reads them (in UTC).

``minute hour day-of-month month day-of-week``; each field is ``*`` or a
comma-separated list of ``N``, ``A-B``, ``*/S``, ``A-B/S`` or ``N/S`` (from N
to the field's end in steps of S).  Ranges: minute 0-59, hour 0-23, day of
month 1-31, month 1-12, day of week 0-7 where both 0 and 7 are Sunday.
Names (``JAN``, ``MON``), ``?``, ``L``, ``W``, ``#`` and six-field forms are
refused.  As in Vixie cron, when both day fields are restricted (neither
starts with ``*``) a day matches if *either* matches; otherwise both must.

:func:`next_fire` is the first whole minute strictly after an instant at
which the expression fires.  An expression that never fires (``0 0 30 2 *``)
is refused by :func:`parse`, which looks four years ahead of a leap day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12),
          ("day of week", 0, 7))
SEARCH_DAYS = 366 * 8 + 2
"""Every (month, day, weekday) combination recurs within 28 years, but every day of the
month and weekday pair that can fire within one leap cycle shows up in eight years."""


class CronError(ValueError):
    """The expression is not one this spec accepts; the message says which field."""


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    """0 is Sunday (a 7 in the expression is stored as 0)."""
    days_restricted: bool
    weekdays_restricted: bool

    def day_matches(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        in_month = day.day in self.days
        in_week = (day.isoweekday() % 7) in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return in_month or in_week
        return in_month and in_week


def _field(text: str, name: str, low: int, high: int) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronError(f"{name}: step {step_text!r} must be a positive number")
            step = int(step_text)
        if base == "*":
            first, last = low, high
        elif "-" in base:
            start, _, end = base.partition("-")
            if not (start.isdigit() and end.isdigit()):
                raise CronError(f"{name}: {base!r} is not a range of numbers")
            first, last = int(start), int(end)
            if first > last:
                raise CronError(f"{name}: range {base!r} runs backwards")
        elif base.isdigit():
            first = int(base)
            last = high if step_text else first
        else:
            raise CronError(f"{name}: {part!r} is not a number, range, step or *")
        if not (low <= first <= high and low <= last <= high):
            raise CronError(f"{name}: {part!r} is outside {low}-{high}")
        values.update(range(first, last + 1, step))
    return frozenset(values)


def parse(expression: str) -> Cron:
    """The expression's fields, or :class:`CronError`."""
    if not isinstance(expression, str) or not expression.isascii():
        raise CronError("a cron expression is ASCII text")
    parts = expression.split()
    if len(parts) != len(FIELDS):
        raise CronError(f"a cron expression has {len(FIELDS)} fields, not {len(parts)}")
    minutes, hours, days, months, weekdays = (
        _field(part, name, low, high) for part, (name, low, high) in zip(parts, FIELDS, strict=True))
    cron = Cron(minutes, hours, days, months, frozenset(d % 7 for d in weekdays),
                not parts[2].startswith("*"), not parts[4].startswith("*"))
    leap_day = datetime(2000, 2, 29, tzinfo=UTC)
    if next_fire(cron, leap_day) is None:
        raise CronError(f"{expression!r} never fires")
    return cron


def next_fire(cron: Cron, after: datetime) -> datetime | None:
    """The first minute strictly after ``after`` (UTC) at which ``cron`` fires, or None
    past :data:`SEARCH_DAYS` days or the year 9999."""
    try:
        start = after.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    except OverflowError:  # ``after`` is in the last minute of the year 9999
        return None
    day = start.date()
    for _ in range(SEARCH_DAYS):
        if cron.day_matches(day):
            first_hour = start.hour if day == start.date() else 0
            for hour in sorted(h for h in cron.hours if h >= first_hour):
                first_minute = start.minute if (day, hour) == (start.date(), start.hour) else 0
                minute = min((m for m in cron.minutes if m >= first_minute), default=None)
                if minute is not None:
                    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)
        if day == date.max:
            return None
        day += timedelta(days=1)
    return None
