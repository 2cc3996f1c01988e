"""Escalation's ops API."""
