"""Intake's HTTP API."""
