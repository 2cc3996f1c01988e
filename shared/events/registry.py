"""Every event type the platform publishes, by CloudEvents ``type``."""

from __future__ import annotations

from typing import Any

from shared.events import (
    activity,
    followup,
    handling,
    intake,
    ledger,
    notify,
    privacy,
    satisfaction,
)
from shared.events.common import EventData

# Each contract module and the topic (an attribute of ``Topics``) its events travel on.
_MODULES = {
    intake: "intake",
    handling: "handling",
    followup: "followup",
    satisfaction: "satisfaction",
    notify: "notify",
    activity: "activity",
    privacy: "intake",  # customer.erased names its own topics (published_on)
    ledger: "ledger",
}

EVENT_TYPES: dict[str, type[EventData]] = {}
EVENT_TOPICS: dict[str, str] = {}
for _module, _topic in _MODULES.items():
    for _cls in vars(_module).values():
        if isinstance(_cls, type) and issubclass(_cls, EventData) and _cls is not EventData:
            EVENT_TYPES[_cls.event_type] = _cls
            EVENT_TOPICS[_cls.event_type] = getattr(_cls, "published_on", (_topic,))[0]


def data_model(event_type: str) -> type[EventData]:
    try:
        return EVENT_TYPES[event_type]
    except KeyError:
        raise ValueError(f"unknown event type {event_type!r}") from None


def parse_data(event_type: str, data: dict[str, Any]) -> EventData:
    return data_model(event_type).model_validate(data)
