"""Fridays: the unit of every FINRA week, parsing and ranges."""

from __future__ import annotations

from datetime import date, timedelta

FRIDAY = 4  # date.weekday()


def parse_date(text: str) -> date:
    """Parse an ISO date (YYYY-MM-DD), raising ValueError with the offending text."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not a date (expected YYYY-MM-DD)") from None


def is_friday(day: date) -> bool:
    return day.weekday() == FRIDAY


def friday_on_or_before(day: date) -> date:
    return day - timedelta(days=(day.weekday() - FRIDAY) % 7)


def friday_after(day: date) -> date:
    return friday_on_or_before(day) + timedelta(days=7)


def friday_before(day: date) -> date:
    """The last Friday strictly before `day` (DOMAIN.md §1.3): the publication-delay rule
    counts back from it, and the previous-Friday rule is it. The dbt macro
    `week_ending_from_last_update` is its SQL twin: a capture whose rows the SQL placed in
    another week would accept none of them. tests/python/test_parity.py holds the two together
    (the macro run in DuckDB over every day of 2018-2028, and stg_finra__rows_validated over
    every week rule and tier)."""
    return friday_on_or_before(day - timedelta(days=1))


def require_friday(day: date, what: str) -> date:
    """Return `day` if it is a Friday, else raise ValueError naming the Fridays around it."""
    if is_friday(day):
        return day
    before = friday_on_or_before(day)
    after = before + timedelta(days=7)
    raise ValueError(
        f"{what} {day.isoformat()} is a {day.strftime('%A')}, not a Friday; "
        f"the Fridays around it are {before.isoformat()} and {after.isoformat()}"
    )


def fridays(start: date, end: date) -> list[date]:
    """Every Friday from start to end inclusive (both must be Fridays)."""
    count = (end - start).days // 7 + 1
    return [start + timedelta(days=7 * i) for i in range(max(count, 0))]


def fridays_ending(end: date, count: int) -> list[date]:
    """The `count` Fridays ending at `end`, oldest first."""
    return [end - timedelta(days=7 * i) for i in reversed(range(count))]


def weeks_back_range(weeks_back: int, end: date | None, today: date) -> tuple[date, date]:
    """The `weeks_back` Fridays ending at `end`, or at the last Friday on or before today."""
    last = end if end is not None else friday_on_or_before(today)
    return fridays_ending(last, weeks_back)[0], last
