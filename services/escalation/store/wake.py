"""A case's one timer: a wake-up at its earliest pending step (``Case.next_wakeup``). Woken,
the case takes every step due by then (``Case.tick``), whatever the wake-up was for, so one
row per case is enough; each save re-arms it when that time changed.

Before, a case armed one row per pending step (a warning, a breach per clock, the climb, a
pause reminder: those kinds). Rows of those kinds still pending after an upgrade fire as the
new one does (the case ticks), and that save replaces them all with the one row."""

from __future__ import annotations

KIND = "case.wake"
EARLIER_KINDS = ("case.warn", "case.breach", "case.climb", "case.pause_reminder")
# Every kind the scheduler must fire: all of them wake the case.
TIMER_KINDS = (KIND, *EARLIER_KINDS)
