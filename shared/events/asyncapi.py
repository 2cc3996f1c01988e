"""The AsyncAPI 3.0 document of every topic, generated from the event registry (the same one
the JSON Schemas come from), so a new event type or topic appears without edits here.

One channel per topic and one per dead-letter companion; one message per event type (its
payload: the CloudEvent envelope with the type's ``data``; its Kafka key: the record key),
and a dead-lettered twin of each carrying the error headers the consumer runner adds."""

from __future__ import annotations

import inspect
from functools import cache
from typing import Any

from pydantic.json_schema import models_json_schema

from shared.events.common import EventData
from shared.events.envelope import CONTENT_TYPE, Envelope, schema_uri
from shared.events.registry import EVENT_TOPICS, EVENT_TYPES
from shared.events.topics import Topics, dead_letter

ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING_VERSION = "0.5.0"
_REF = "#/components/schemas/{model}"

# Topics other systems publish and the platform reads; every other topic the platform sends.
INPUT_TOPICS = frozenset({"activity"})
# The record key is the event's subject: the complaint id, except where named here.
KEY_OF_TOPIC = {"activity": "the customer id"}
DEFAULT_KEY = "the complaint id (the event's subject), so a complaint's events stay in order"

# Headers the consumer runner adds when it parks a record (shared/messaging/consumer.py).
DEAD_LETTER_HEADERS = {
    "dlq-original-topic": "Topic the record was read from",
    "dlq-original-partition": "Its partition",
    "dlq-original-offset": "Its offset",
    "dlq-consumer-group": "Consumer group that failed to process it",
    "dlq-error-type": "Exception type",
    "dlq-error-message": "Exception message (truncated)",
    "dlq-error-trace": "End of the traceback",
    "dlq-attempts": "Attempts made",
    "dlq-failed-at": "When it was parked (ISO 8601)",
}

_DESCRIPTION = (
    "Events of the complaint platform: CloudEvents 1.0 in structured JSON mode (the whole event "
    "is the Kafka record value). The record key is the event's subject, so one complaint's "
    "events stay in order on one partition. `KAFKA_TOPIC_PREFIX` prefixes every address in an "
    "environment that shares a cluster. Readers ignore fields they do not know; a published "
    "schema version only evolves compatibly (see schemas/published/); an incompatible change is "
    "a new version."
)


def _docs(model: type[EventData]) -> tuple[str, str]:
    doc = inspect.cleandoc(model.__doc__ or model.event_type)
    return doc.split("\n\n")[0].replace("\n", " "), doc


def _message_id(event_type: str, version: int) -> str:
    return f"{event_type}.v{version}"


def _channel_topics() -> list[str]:
    """Topic attribute names of ``Topics`` that carry events, in registry order."""
    return list(dict.fromkeys(EVENT_TOPICS.values()))


@cache
def asyncapi_document() -> dict[str, Any]:
    topics = Topics()
    models: list[type[Any]] = [Envelope, *(EVENT_TYPES[t] for t in sorted(EVENT_TYPES))]
    refs, defs = models_json_schema([(m, "validation") for m in models], ref_template=_REF)
    envelope_ref = refs[(Envelope, "validation")]

    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for attr in _channel_topics():
        address = getattr(topics, attr)
        key = KEY_OF_TOPIC.get(attr, DEFAULT_KEY)
        main: dict[str, Any] = {}
        parked: dict[str, Any] = {}
        for event_type in sorted(t for t, a in EVENT_TOPICS.items() if a == attr):
            model = EVENT_TYPES[event_type]
            version = model.schema_version
            message_id = _message_id(event_type, version)
            summary, description = _docs(model)
            payload = {
                "allOf": [
                    envelope_ref,
                    {
                        "type": "object",
                        "required": ["type", "data"],
                        "properties": {
                            "type": {"const": event_type},
                            "dataschema": {"const": schema_uri(event_type, version)},
                            "data": refs[(model, "validation")],
                        },
                    },
                ]
            }
            messages[message_id] = {
                "name": event_type,
                "title": f"{event_type} v{version}",
                "summary": summary,
                "description": description,
                "contentType": CONTENT_TYPE,
                "payload": payload,
                "correlationId": {
                    "description": "The subject: " + key.split(",")[0],
                    "location": "$message.payload#/subject",
                },
                "bindings": {
                    "kafka": {
                        "key": {"type": "string", "description": key},
                        "bindingVersion": KAFKA_BINDING_VERSION,
                    }
                },
                "x-json-schema": f"{message_id}.json",
            }
            messages[f"{message_id}.dead-lettered"] = {
                **messages[message_id],
                "title": f"{event_type} v{version}, dead-lettered",
                "summary": f"A {event_type} record a consumer could not process, as it was read.",
                "headers": {"$ref": "#/components/schemas/DeadLetterHeaders"},
            }
            main[message_id] = {"$ref": f"#/components/messages/{message_id}"}
            parked[message_id] = {"$ref": f"#/components/messages/{message_id}.dead-lettered"}

        channels[attr] = {
            "address": address,
            "title": address,
            "description": f"Record key: {key}.",
            "messages": main,
        }
        channels[f"{attr}.dlq"] = {
            "address": dead_letter(address),
            "title": dead_letter(address),
            "description": (
                f"Dead-letter companion of {address}: records a consumer parked after its "
                "retries, unchanged (same key and value), with the error in their headers."
            ),
            "messages": parked,
        }
        action = "receive" if attr in INPUT_TOPICS else "send"
        operations[f"{attr}.{action}"] = {
            "action": action,
            "channel": {"$ref": f"#/channels/{attr}"},
            "summary": (
                f"Other systems publish on {address}; the platform reads it."
                if action == "receive"
                else f"The platform publishes on {address} (outbox relay, acks=all)."
            ),
            "messages": [{"$ref": f"#/channels/{attr}/messages/{m}"} for m in main],
        }
        operations[f"{attr}.dlq.send"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{attr}.dlq"},
            "summary": f"Consumers of {address} park what they cannot process.",
            "messages": [{"$ref": f"#/channels/{attr}.dlq/messages/{m}"} for m in parked],
        }

    schemas = dict(sorted(defs["$defs"].items()))
    schemas["DeadLetterHeaders"] = {
        "type": "object",
        "properties": {
            h: {"type": "string", "description": d} for h, d in DEAD_LETTER_HEADERS.items()
        },
    }
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Complaint platform events",
            "version": "1.0.0",
            "description": _DESCRIPTION,
        },
        "defaultContentType": CONTENT_TYPE,
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
    }
