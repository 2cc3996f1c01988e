"""Escalation's database: tables and the queries over them."""
