"""Event contracts: the CloudEvents envelope, the topics and one pydantic model per event
type. These models are the contract with downstream consumers (exported as JSON Schema)."""

from shared.events.envelope import CONTENT_TYPE, Envelope, new_event
from shared.events.registry import EVENT_TYPES, data_model, parse_data
from shared.events.topics import Topics

__all__ = [
    "CONTENT_TYPE",
    "EVENT_TYPES",
    "Envelope",
    "Topics",
    "data_model",
    "new_event",
    "parse_data",
]
