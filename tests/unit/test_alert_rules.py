"""The alert rules under deploy/prometheus name metrics the services really export."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from prometheus_client import REGISTRY

import shared.messaging.consumer
import shared.messaging.outbox
import shared.timers  # noqa: F401  (registers the metrics)

RULES = Path(__file__).parents[2] / "deploy" / "prometheus" / "alerts.yaml"


def exported_names() -> set[str]:
    names = set()
    for metric in REGISTRY.collect():
        names.update(sample.name for sample in metric.samples)
        names.add(metric.name)
        if metric.type == "counter":  # a labelled counter has no sample until first used
            names.add(metric.name + "_total")
    return names


def test_every_alert_expression_uses_exported_metrics():
    rules = [
        rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]
    ]
    assert {r["alert"] for r in rules} >= {"OutboxRowsParked", "TimersParkedAsFailed"}
    exported = exported_names()
    for rule in rules:
        metrics = set(re.findall(r"\b((?:outbox|timers|consumer|kafka)_[a-z_]+)\b", rule["expr"]))
        assert metrics and metrics <= exported, (rule["alert"], metrics - exported)
