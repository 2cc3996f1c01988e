"""One log line when the Kafka broker is lost, one when it is back, a gauge in between.

aiokafka logs every failed connection attempt and metadata refresh of every client at ERROR:
an outage of a minute is thousands of lines per service. ``KafkaLogFilter`` sits on
aiokafka's loggers: the first connection error flips the state to lost (one line, gauge
``kafka_connected`` 0) and aiokafka's connection chatter is dropped. Whoever
next talks to Kafka successfully (the consumer runner checks it) calls ``restored()``: one
line, gauge 1."""

from __future__ import annotations

import logging
import re
import threading

from prometheus_client import Counter, Gauge

log = logging.getLogger("shared.kafka")

CONNECTED = Gauge(
    "kafka_connected", "1 while this process reaches the Kafka broker, 0 after it lost it"
)
SUPPRESSED = Counter(
    "kafka_client_log_lines_suppressed_total", "aiokafka log lines dropped while Kafka was lost"
)
CONNECTED.set(1)

# What aiokafka says when it cannot reach a broker: connections failing or closed, metadata
# unreachable. Not a coordinator still being elected (a broker starting up says that).
_CONNECTION_TROUBLE = re.compile(
    r"unable (to )?connect|connection (at|to|refused|reset|error)|KafkaConnectionError|"
    r"closed|unable to (update|request) metadata|NodeNotReady|unreachable|refused",
    re.IGNORECASE,
)


class _State:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.lost = False

    def mark_lost(self, reason: str) -> bool:
        """True for the call that changed the state."""
        with self._lock:
            if self.lost:
                return False
            self.lost = True
        CONNECTED.set(0)
        log.error("kafka: connection to the broker lost", extra={"reason": reason[:200]})
        return True

    def mark_restored(self) -> bool:
        with self._lock:
            if not self.lost:
                return False
            self.lost = False
        CONNECTED.set(1)
        log.warning("kafka: connection to the broker is back")
        return True


STATE = _State()


def lost(reason: str) -> bool:
    return STATE.mark_lost(reason)


def restored() -> bool:
    return STATE.mark_restored()


def is_lost() -> bool:
    return STATE.lost


class KafkaLogFilter(logging.Filter):
    """On the log handler (``install``): every aiokafka logger's records pass through it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("aiokafka") or record.levelno < logging.WARNING:
            return True
        if not STATE.lost:
            try:
                message = record.getMessage()
            except Exception:  # a malformed aiokafka record: keep it
                return True
            if not _CONNECTION_TROUBLE.search(message):
                return True
            STATE.mark_lost(message)
        # While the broker is lost, whatever aiokafka says is a consequence of it.
        SUPPRESSED.inc()
        return False


def install(handler: logging.Handler) -> None:
    """Filter aiokafka's connection chatter reaching ``handler`` (idempotent)."""
    if not any(isinstance(f, KafkaLogFilter) for f in handler.filters):
        handler.addFilter(KafkaLogFilter())
