"""Quiet hours: a nightly window (local time) in which customers get no text messages; a
message that falls due inside it waits until the window ends."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def _clock_time(text: str) -> time:
    try:
        hours, minutes = text.strip().split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        raise ValueError(f"{text!r} is not a time of day like 22:00") from None


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not a known time zone (like Asia/Shanghai)") from None


@dataclass(frozen=True)
class QuietHours:
    start: time | None  # None: no quiet hours
    end: time | None
    zone: ZoneInfo

    @classmethod
    def parse(cls, spec: str, time_zone: str) -> QuietHours:
        """``"22:00-08:00"`` (may wrap midnight) or ``""`` for none."""
        tz = zone(time_zone)
        if not spec.strip():
            return cls(None, None, tz)
        start, sep, end = spec.partition("-")
        if not sep:
            raise ValueError(f"{spec!r} is not a window like 22:00-08:00")
        found = cls(_clock_time(start), _clock_time(end), tz)
        if found.start == found.end:
            raise ValueError(f"{spec!r} is an empty window")
        return found

    def _inside(self, local: time) -> bool:
        assert self.start is not None and self.end is not None
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end  # wraps midnight

    def release(self, at: datetime) -> datetime:
        """``at`` itself outside the window, else the moment the window ends."""
        if self.start is None or self.end is None:
            return at
        local = at.astimezone(self.zone)
        if not self._inside(local.time()):
            return at
        day = local.date()
        if local.time() >= self.end:  # evening part of a window that wraps midnight
            day += timedelta(days=1)
        ends = datetime.combine(day, self.end, tzinfo=self.zone)
        return ends.astimezone(at.tzinfo)
