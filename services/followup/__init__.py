"""The follow-up service: call-backs after resolution and proactive retention calls."""
