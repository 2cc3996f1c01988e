"""Intake's domain rules, pure functions of a submission and the configured policy."""
