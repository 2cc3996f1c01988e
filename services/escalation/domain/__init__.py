"""Escalation's domain, pure: policy arithmetic, calendars, the ladder, the case state machine."""
