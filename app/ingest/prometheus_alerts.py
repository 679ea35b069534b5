"""The alert shape Alertmanager and Grafana's unified alerting share: a firing/resolved status,
labels, annotations and a fingerprint (a hash of the labels when the sender gave none)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from app.ingest import fields, text
from app.ingest.errors import BadRequest
from app.ingest.events import Action

STATUS: dict[str, Action] = {"firing": "trigger", "resolved": "close"}


@dataclass(frozen=True)
class PrometheusAlert:
    action: Action
    labels: dict[str, str]
    annotations: dict[str, str]
    fingerprint: str


def read_alert(alert: dict[str, Any], path: str) -> PrometheusAlert:
    """The shared fields of one alert at `path`; a 400 naming the field when one is wrong."""
    status = fields.string(alert, "status", path)
    action = STATUS.get(status)
    if action is None:
        raise BadRequest.field(
            f"{path}.status", f"must be firing or resolved, not {text.quoted(status)}"
        )
    labels = fields.strings(alert, "labels", path)
    annotations = fields.strings(alert, "annotations", path)
    fingerprint = text.sanitize(fields.string(alert, "fingerprint", path))
    return PrometheusAlert(action, labels, annotations, fingerprint or label_fingerprint(labels))


def label_fingerprint(labels: dict[str, str]) -> str:
    """A stable stand-in for a missing fingerprint: a hash of the sorted label set."""
    canonical = json.dumps(sorted(labels.items()), separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
