"""Intake: the HTTP front door for customer channels (port 8001)."""
