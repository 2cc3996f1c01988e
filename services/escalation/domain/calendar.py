"""Clock calendars: a clock counts either around the clock or only in business hours (a time
zone, weekly opening hours, holidays, and make-up working days: China moves weekends to
working days around public holidays). Deadlines are "start + so much counted time"."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# A deadline further than this many days away means the calendar has (almost) no hours.
_MAX_DAYS = 3 * 366

Interval = tuple[time, time | None]  # end None means midnight (24:00)


@dataclass(frozen=True)
class Calendar:
    """``hours`` maps a weekday (0 = Monday) to its opening intervals, local time, sorted and
    non-overlapping. A calendar without ``time_zone`` counts around the clock. A date in
    ``workdays`` (a make-up working day) is open for ``workday_hours`` whatever its weekday;
    a date in ``holidays`` is closed."""

    name: str = "always"
    time_zone: str | None = None
    hours: dict[int, tuple[Interval, ...]] = field(default_factory=dict)
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    workday_hours: tuple[Interval, ...] = ()

    @property
    def around_the_clock(self) -> bool:
        return self.time_zone is None

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The moment when ``duration`` of counted time has passed since ``start``."""
        if self.around_the_clock:
            return start + duration
        remaining = duration
        for opens, closes in self._open_spans(start):
            span = closes - opens
            if remaining <= span:
                return opens + remaining
            remaining -= span
        raise ValueError(f"calendar {self.name!r} has no opening hours within {_MAX_DAYS} days")

    def between(self, a: datetime, b: datetime) -> timedelta:
        """Counted time from ``a`` to ``b`` (zero when ``b`` is not after ``a``)."""
        if b <= a:
            return timedelta(0)
        if self.around_the_clock:
            return b - a
        total = timedelta(0)
        for opens, closes in self._open_spans(a):
            if opens >= b:
                break
            total += min(closes, b) - opens
        return total

    def _open_spans(self, start: datetime):
        """Open spans (aware datetimes) from ``start`` on, clipped to begin at ``start``."""
        tz = ZoneInfo(self.time_zone or "UTC")
        local = start.astimezone(tz)
        day = local.date()
        for _ in range(_MAX_DAYS):
            for opens_at, closes_at in self._intervals(day):
                opens = datetime.combine(day, opens_at, tz)
                closes = (
                    datetime.combine(day + timedelta(days=1), time(0), tz)
                    if closes_at is None
                    else datetime.combine(day, closes_at, tz)
                )
                if closes <= start:
                    continue
                # In UTC: aware arithmetic within one zone is wall-clock time (DST).
                yield max(opens, start).astimezone(UTC), closes.astimezone(UTC)
            day += timedelta(days=1)

    def _intervals(self, day: date) -> tuple[Interval, ...]:
        if day in self.workdays:
            return self.workday_hours
        if day in self.holidays:
            return ()
        return self.hours.get(day.weekday(), ())


ALWAYS = Calendar()
