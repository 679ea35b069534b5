"""Prometheus Alertmanager's webhook (payload version 4): one event per entry of `alerts[]`.

Each entry is deduplicated by its own `fingerprint` (`am:<fingerprint>`), so a resolved entry
closes exactly the alert that fired, however the group's membership changed in between —
unlike GoAlert, which keys one alert on the group's summary. Summary from
`annotations.summary`, else `annotations.description`, else `labels.alertname` + `instance`.

Any payload version is read as version 4: Alertmanager drops a notification answered with a
4xx, so an unknown version number alone must not cost a page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.ingest import details, fields, text
from app.ingest.errors import BadRequest
from app.ingest.events import Event
from app.ingest.prometheus_alerts import read_alert

DEDUP_PREFIX = "am:"
NEVER = "0001-01-01T00:00:00Z"  # Go's zero time: how Alertmanager writes "no end yet"


def parse(payload: dict[str, Any]) -> list[Event]:
    """The events of an Alertmanager webhook body, or a 400 naming what is wrong."""
    if payload.get("alerts") is None:
        raise BadRequest.field("alerts", "is required")
    alerts = fields.objects(payload, "alerts")
    fields.string(payload, "status")  # type-checked; each alert carries its own
    group = _Group(
        external_url=fields.string(payload, "externalURL"),
        receiver=text.sanitize(fields.string(payload, "receiver")),
    )
    return [_event(alert, f"alerts[{i}]", group) for i, alert in enumerate(alerts)]


@dataclass(frozen=True)
class _Group:
    """What the notification says about all of its alerts."""

    external_url: str
    receiver: str


def _event(alert: dict[str, Any], path: str, group: _Group) -> Event:
    shared = read_alert(alert, path)
    labels, annotations, fingerprint = shared.labels, shared.annotations, shared.fingerprint
    summary_from, summary = _summary(labels, annotations, fingerprint)
    body = details.compose(
        "" if summary_from == "description" else text.sanitize(annotations.get("description", "")),
        _times(alert, path),
        details.links(
            [
                ("Source", fields.string(alert, "generatorURL", path)),
                ("Alertmanager", group.external_url),
            ]
        ),
        details.key_values("Labels", labels),
        details.key_values("Annotations", annotations, skip=("summary", "description")),
        f"Receiver: {group.receiver}" if group.receiver else "",
    )
    return Event(shared.action, summary, body, dedup=DEDUP_PREFIX + fingerprint)


def _summary(
    labels: dict[str, str], annotations: dict[str, str], fingerprint: str
) -> tuple[str, str]:
    """(where it came from, the summary)."""
    for name in ("summary", "description"):
        value = text.sanitize(annotations.get(name, ""))
        if value:
            return name, value
    named = " ".join(
        text.sanitize(labels.get(k, "")) for k in ("alertname", "instance") if labels.get(k)
    ).strip()
    return "labels", named or f"Alertmanager alert {fingerprint}"


def _times(alert: dict[str, Any], path: str) -> str:
    starts = fields.string(alert, "startsAt", path)
    ends = fields.string(alert, "endsAt", path)
    lines = [f"Started: {starts}"] if starts and starts != NEVER else []
    if ends and ends != NEVER and alert.get("status") == "resolved":
        lines.append(f"Ended: {ends}")
    return "\n".join(text.clean(line) for line in lines)
