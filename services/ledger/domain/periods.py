"""Calendar arithmetic in the site's time zone: months, weeks (Monday first), quarters and
half-years; when each schedule falls due next. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from shared.events.ledger import SummaryPeriod


def month_label(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def parse_month(label: str) -> date:
    """``YYYY-MM`` to the month's first day; ValueError otherwise."""
    try:
        year, month = label.split("-")
        if len(year) != 4 or len(month) != 2:
            raise ValueError
        return date(int(year), int(month), 1)
    except ValueError:
        raise ValueError("a month is written YYYY-MM") from None


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def start_of(period: SummaryPeriod, day: date) -> date:
    """The first day of the period containing ``day``."""
    match period:
        case SummaryPeriod.WEEK:
            return day - timedelta(days=day.weekday())
        case SummaryPeriod.MONTH:
            return day.replace(day=1)
        case SummaryPeriod.QUARTER:
            return date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
        case SummaryPeriod.HALF_YEAR:
            return date(day.year, 1 if day.month <= 6 else 7, 1)
    raise ValueError(period)


def end_of(period: SummaryPeriod, start: date) -> date:
    """The day after the period starting at ``start`` (exclusive end)."""
    match period:
        case SummaryPeriod.WEEK:
            return start + timedelta(days=7)
        case SummaryPeriod.MONTH:
            return add_months(start, 1)
        case SummaryPeriod.QUARTER:
            return add_months(start, 3)
        case SummaryPeriod.HALF_YEAR:
            return add_months(start, 6)
    raise ValueError(period)


def is_start(period: SummaryPeriod, day: date) -> bool:
    return start_of(period, day) == day


def midnight(day: date, zone: ZoneInfo) -> datetime:
    """The instant ``day`` begins in ``zone``, in UTC."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def local_day(at: datetime, zone: ZoneInfo) -> date:
    return at.astimezone(zone).date()


@dataclass(frozen=True)
class Due:
    """A schedule's next run: the period that ends at ``at`` (its start, exclusive end)."""

    period: SummaryPeriod
    start: date
    end: date
    at: datetime


def next_due(period: SummaryPeriod, now: datetime, zone: ZoneInfo) -> Due:
    """The first period end after ``now``: the run that summarises the period in progress."""
    start = start_of(period, local_day(now, zone))
    end = end_of(period, start)
    return Due(period, start, end, midnight(end, zone))


def following(due: Due, zone: ZoneInfo) -> Due:
    """The run after ``due``: each run schedules the next."""
    end = end_of(due.period, due.end)
    return Due(due.period, due.end, end, midnight(end, zone))


@dataclass(frozen=True)
class SiteClock:
    """What time it is for the ledger's calendar. Normally the wall clock; tests and demos
    may anchor it elsewhere and run it faster (``LEDGER_CLOCK_ANCHOR``, ``LEDGER_CLOCK_WALL_
    START``, ``LEDGER_CLOCK_SCALE``): a month of calendar in seconds, no sleeping on wall
    time. Timers are armed at the wall time ``to_wall`` gives for a calendar instant."""

    anchor: datetime | None = None  # the calendar instant at ``wall_start``
    wall_start: datetime | None = None
    scale: float = 1.0

    def now(self, wall: datetime | None = None) -> datetime:
        wall = wall or datetime.now(UTC)
        if self.anchor is None or self.wall_start is None:
            return wall
        return self.anchor + (wall - self.wall_start) * self.scale

    def to_wall(self, at: datetime) -> datetime:
        if self.anchor is None or self.wall_start is None:
            return at
        return self.wall_start + (at - self.anchor) / self.scale
