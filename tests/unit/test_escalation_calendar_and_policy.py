"""Escalation's policy arithmetic: business-hours calendars, targets by tier and severity, the
ladder, and the policy file's validation."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.escalation.domain.calendar import ALWAYS, Calendar
from services.escalation.policy_file import (
    DEFAULT_POLICY,
    PolicyError,
    load_policy,
    parse_policy,
)
from shared.durations import parse_duration
from shared.events.common import Mode, Severity, Tier

SH = ZoneInfo("Asia/Shanghai")
WEEKDAYS = ((time(9), time(12)), (time(13), time(18)))
BUSINESS = Calendar(
    name="business",
    time_zone="Asia/Shanghai",
    hours={d: WEEKDAYS for d in range(5)},
    holidays=frozenset({date(2026, 10, 1), date(2026, 10, 2)}),
)


def sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


# ---- calendars ----------------------------------------------------------------------------


def test_around_the_clock_adds_plain_time():
    start = datetime(2026, 11, 20, 23, 0, tzinfo=UTC)
    assert ALWAYS.add(start, timedelta(hours=2)) == datetime(2026, 11, 21, 1, 0, tzinfo=UTC)
    assert ALWAYS.between(start, start + timedelta(minutes=5)) == timedelta(minutes=5)


def test_business_hours_skip_lunch_and_the_night():
    # Thursday 11:00 + 2 h: one hour before lunch, one after.
    assert BUSINESS.add(sh(2026, 11, 19, 11), timedelta(hours=2)) == sh(2026, 11, 19, 14)
    # Thursday 17:30 + 1 h: half an hour tonight, half an hour on Friday morning.
    assert BUSINESS.add(sh(2026, 11, 19, 17, 30), timedelta(hours=1)) == sh(2026, 11, 20, 9, 30)


def test_business_hours_skip_the_weekend():
    # Friday 17:00 + 2 h: one hour on Friday, the next on Monday.
    assert BUSINESS.add(sh(2026, 11, 20, 17), timedelta(hours=2)) == sh(2026, 11, 23, 10)
    # Starting on Saturday counts from Monday's opening.
    assert BUSINESS.add(sh(2026, 11, 21, 12), timedelta(minutes=30)) == sh(2026, 11, 23, 9, 30)


def test_business_hours_skip_holidays():
    # Wednesday 30 Sept 17:00 + 2 h: Thu 1 and Fri 2 Oct are holidays, then a weekend.
    assert BUSINESS.add(sh(2026, 9, 30, 17), timedelta(hours=2)) == sh(2026, 10, 5, 10)


def test_a_make_up_saturday_counts_as_a_working_day():
    # Saturday 14 Feb 2026 was worked in China to bridge the Spring Festival.
    made_up = Calendar(
        name="business",
        time_zone="Asia/Shanghai",
        hours={d: WEEKDAYS for d in range(5)},
        workdays=frozenset({date(2026, 2, 14)}),
        workday_hours=WEEKDAYS,
    )
    # Friday 13 Feb 17:00 + 2 h: one hour on Friday, the next on Saturday morning...
    assert made_up.add(sh(2026, 2, 13, 17), timedelta(hours=2)) == sh(2026, 2, 14, 10)
    # ...where the plain weekday calendar waits for Monday.
    assert BUSINESS.add(sh(2026, 2, 13, 17), timedelta(hours=2)) == sh(2026, 2, 16, 10)
    assert made_up.between(sh(2026, 2, 14, 0), sh(2026, 2, 15, 0)) == timedelta(hours=8)


def test_business_time_between_counts_only_open_hours():
    assert BUSINESS.between(sh(2026, 11, 20, 17), sh(2026, 11, 23, 10)) == timedelta(hours=2)
    assert BUSINESS.between(sh(2026, 11, 21, 8), sh(2026, 11, 22, 20)) == timedelta(0)
    assert BUSINESS.between(sh(2026, 11, 23, 10), sh(2026, 11, 20, 17)) == timedelta(0)


def test_a_deadline_at_closing_time_is_that_evening_not_the_next_morning():
    assert BUSINESS.add(sh(2026, 11, 19, 17), timedelta(hours=1)) == sh(2026, 11, 19, 18)


def test_calendar_works_in_utc_whatever_the_zone_of_the_start():
    start = sh(2026, 11, 19, 11).astimezone(UTC)
    assert BUSINESS.add(start, timedelta(hours=2)) == sh(2026, 11, 19, 14)


def test_daylight_saving_change_counts_real_hours():
    # Berlin, Sunday 29 March 2026: 02:00 -> 03:00. Open around the clock on Sundays.
    berlin = Calendar(name="b", time_zone="Europe/Berlin", hours={6: ((time(0), None),)})
    start = datetime(2026, 3, 29, 1, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    end = berlin.add(start, timedelta(hours=2))
    assert end - start == timedelta(hours=2)
    assert end.astimezone(ZoneInfo("Europe/Berlin")).hour == 4


def test_a_calendar_without_hours_fails_instead_of_looping():
    closed = Calendar(name="closed", time_zone="UTC", hours={})
    with pytest.raises(ValueError, match="no opening hours"):
        closed.add(datetime(2026, 1, 1, tzinfo=UTC), timedelta(hours=1))


# ---- the default policy -------------------------------------------------------------------


@pytest.fixture(scope="module")
def policy():
    return load_policy(DEFAULT_POLICY)


def test_default_policy_implements_the_on_site_ladder(policy):
    assert policy.levels == (
        "frontline", "team_lead", "supervisor", "customer_relations",
        "department_manager", "executive_office",
    )  # fmt: skip
    climb = [
        policy.climb_time(Mode.ON_SITE, level, Tier.C, Severity.GENERAL) for level in policy.levels
    ]
    minutes = [None if c is None else c.total_seconds() / 60 for c in climb]
    # At once to the team lead, 15 min, a further 30, a further hour; the department manager
    # is the top for general complaints.
    assert minutes == [0, 15, 30, 60, None, None]


def test_major_complaints_start_higher_and_reach_the_executive_office(policy):
    assert policy.start_level(Mode.ON_SITE, Severity.GENERAL) == "frontline"
    assert policy.start_level(Mode.ON_SITE, Severity.MAJOR) == "supervisor"
    assert policy.start_level(Mode.REMOTE, Severity.MAJOR) == "customer_relations"
    assert policy.next_level("department_manager", Severity.GENERAL) is None
    assert policy.next_level("department_manager", Severity.MAJOR) == "executive_office"
    assert policy.next_level("department_manager", Severity.GENERAL, by_hand=True) == (
        "executive_office"
    )
    assert policy.next_level("executive_office", Severity.MAJOR, by_hand=True) is None


def test_remote_clocks_and_tighter_targets_for_vip_a_and_major(policy):
    clocks = {c.name: c for c in policy.modes[Mode.REMOTE].clocks}
    assert {n: c.within for n, c in clocks.items()} == {
        "acknowledge": timedelta(hours=2),
        "investigate": timedelta(hours=24),
        "plan": timedelta(hours=48),
    }
    ack = clocks["acknowledge"].within
    assert policy.target(ack, Tier.C, Severity.GENERAL) == timedelta(hours=2)
    assert policy.target(ack, Tier.VIP, Severity.GENERAL) == timedelta(hours=1)
    assert policy.target(ack, Tier.A, Severity.GENERAL) == timedelta(hours=1)
    assert policy.target(ack, Tier.B, Severity.MAJOR) == timedelta(hours=1)
    assert policy.target(ack, Tier.VIP, Severity.MAJOR) == timedelta(minutes=30)
    assert policy.climb_time(Mode.ON_SITE, "team_lead", Tier.VIP, Severity.GENERAL) == (
        timedelta(minutes=7.5)
    )


def test_deadline_by_a_business_calendar(policy):
    from services.escalation.domain.policy import ClockRule

    clock = ClockRule("plan", timedelta(hours=2), "plan", calendar="business")
    # Friday 17:00 Shanghai: one hour on Friday, then Saturday 10:00-11:00.
    due = policy.deadline(clock, sh(2026, 11, 20, 17), Tier.C, Severity.GENERAL)
    assert due == sh(2026, 11, 21, 11)


def test_the_bundled_china_calendar_comes_from_the_holidays_library(policy):
    business = policy.calendars["business"]
    # Spring Festival 2026 (17 Feb) is a holiday; Saturday 14 and 28 Feb are worked.
    assert date(2026, 2, 17) in business.holidays
    assert {date(2026, 2, 14), date(2026, 2, 28)} <= business.workdays
    assert business.workday_hours == ((time(9), time(12)), (time(13), time(18)))
    # Saturday 28 Feb keeps Monday's hours, not the Saturday 10:00-16:00 of the store.
    assert business.add(sh(2026, 2, 28, 8), timedelta(hours=1)) == sh(2026, 2, 28, 10)
    # Sunday 4 Jan 2026 is worked (New Year's bridge): a Sunday otherwise closed.
    assert business.add(sh(2026, 1, 4, 9), timedelta(minutes=30)) == sh(2026, 1, 4, 9, 30)


def test_a_calendar_lists_its_own_workdays_and_holidays():
    text = DEFAULT_TEXT.replace(
        "    country: CN\n", "    workdays: [2026-11-28]\n    holidays: [2026-11-27]\n"
    )
    business = parse_policy(text).calendars["business"]
    assert business.workdays == {date(2026, 11, 28)}
    assert business.holidays == {date(2026, 11, 27)}
    # Friday 27 is off, Saturday 28 worked with Monday's hours.
    assert business.add(sh(2026, 11, 26, 17, 30), timedelta(hours=1)) == sh(2026, 11, 28, 9, 30)


# ---- the policy file ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(90, 90), ("15m", 900), ("2h", 7200), ("1h30m", 5400), ("2.5s", 2.5), ("2d", 172800)],
)
def test_durations(value, seconds):
    assert parse_duration(value).total_seconds() == seconds


@pytest.mark.parametrize("value", ["15x", "m", "-5s", True, "15m foo"])
def test_bad_durations(value):
    with pytest.raises(ValueError):
        parse_duration(value)


DEFAULT_TEXT = DEFAULT_POLICY.read_text()


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize(
    ("old", "new", "where", "problem"),
    [
        ("within: 24h", "within: 24x", "modes.remote.clocks.investigate.within", "not a duration"),
        ("major: supervisor", "major: boss", "modes.on_site.start.major", "unknown level 'boss'"),
        ("Asia/Shanghai", "Mars/Base", "calendars.business.time_zone", "unknown time zone"),
        ("met_by: plan}", "met_by: fix}", "modes.remote.clocks.plan.met_by", "unknown action"),
        ("warn_at: [0.8]", "warn_at: [1.5]", "warn_at", "between 0 and 1"),
        ("country: CN", "country: XX", "calendars.business.country", "no public holidays"),
        (
            "workday_hours: mon",
            "workday_hours: sun",
            "calendars.business.workday_hours",
            "sun has no opening",
        ),
        ("tier: {VIP: 0.5", "tier: {VIP: -1", "factors.tier", "above 0"),
        (
            "severity: {major: 0.5}",
            "severity: {huge: 0.5}",
            "factors.severity.huge",
            "not a valid key",
        ),
    ],
)
def test_a_bad_policy_names_the_line_and_the_problem(old, new, where, problem):
    text = DEFAULT_TEXT.replace(old, new)
    if not where:
        parse_policy(text)
        return
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, "my.yaml")
    message = str(caught.value)
    assert message.startswith(f"my.yaml line {line_of(text, new)}: {where}: "), message
    assert problem in message


def test_unknown_settings_and_broken_yaml_are_named_with_their_line():
    text = DEFAULT_TEXT.replace("warn_at:", "warn_after:")
    with pytest.raises(PolicyError, match=rf"line {line_of(text, 'warn_after')}: warn_after: "):
        parse_policy(text)
    with pytest.raises(PolicyError, match=r"line \d+: not valid YAML"):
        parse_policy("version: 1\nlevels: [a, b\n")
    with pytest.raises(PolicyError, match="line 1: the policy must be a mapping"):
        parse_policy("- just a list")


def test_cross_references_are_checked():
    text = DEFAULT_TEXT.replace("general: department_manager", "general: nobody")
    with pytest.raises(PolicyError, match=r"ceiling.general: unknown level 'nobody'"):
        parse_policy(text)
    text = DEFAULT_TEXT.replace("      team_lead: 15m", "      team_leader: 15m")
    with pytest.raises(PolicyError, match=r"modes.on_site.climb.team_leader: unknown level"):
        parse_policy(text)


def test_an_unreadable_policy_file_is_reported(tmp_path):
    with pytest.raises(PolicyError, match="cannot read the policy file"):
        load_policy(tmp_path / "missing.yaml")
