"""The escalation service: every complaint's case on durable, tiered SLA timers and the ladder."""
