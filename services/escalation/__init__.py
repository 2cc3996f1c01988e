"""The escalation service: every complaint's case on durable, tiered SLA timers and the ladder.

Consumes ``complaint.received`` / ``complaint.completed`` (intake) and ``complaint.reopened``,
``followup.completed`` / ``followup.unreachable`` (follow-up); publishes ``case.*`` on
``complaints.handling.v1`` through the outbox; serves the ops API on port 8002. The rules are
in the policy file (``policies/default.yaml``, or ``ESCALATION_POLICY_FILE``)."""
