"""Grafana webhooks: unified alerting (`version: "1"`) and the legacy (pre-8) alerting format.

Unified: one event per entry of `alerts[]`, deduplicated by the entry's `fingerprint` (a hash
of its labels, rule included), so `resolved` closes exactly the alert that fired. Summary from
`annotations.summary`, else `labels.alertname`.

Legacy: one event per notification, keyed by the rule (`ruleId`, or `ruleName` without one) —
or by a `dedup` query field, as GoAlert honours. `alerting` opens, `ok` closes; `no_data`,
`paused` and `pending` change nothing (GoAlert ignores no_data the same way).
"""

from __future__ import annotations

from typing import Any

from app.ingest import details, fields, text
from app.ingest.errors import BadRequest
from app.ingest.events import Action, Event
from app.ingest.prometheus_alerts import read_alert

LEGACY_STATE: dict[str, Action | None] = {
    "alerting": "trigger",
    "ok": "close",
    "no_data": None,
    "paused": None,
    "pending": None,
}
DEDUP_PREFIX = "grafana:"
LEGACY_DEDUP_PREFIX = "grafana-rule:"
# Grafana-internal annotations that carry no information for a person.
HIDDEN_ANNOTATIONS = ("summary", "description", "__dashboardUid__", "__panelId__", "__orgId__")


def parse(payload: dict[str, Any], dedup_override: str = "") -> list[Event]:
    """The events of a Grafana webhook body, or a 400 naming what is wrong."""
    version = payload.get("version")
    if version in (None, ""):
        return _legacy(payload, dedup_override)
    if version == "1":
        return [_unified_alert(a, f"alerts[{i}]") for i, a in enumerate(_alerts(payload))]
    raise BadRequest.field(
        "version", f'must be "1" (unified alerting) or absent (legacy), not {text.quoted(version)}'
    )


def _alerts(payload: dict[str, Any]) -> list[dict[str, Any]]:
    if "alerts" not in payload or payload["alerts"] is None:
        raise BadRequest.field("alerts", "is required for a version 1 payload")
    return fields.objects(payload, "alerts")


def _unified_alert(alert: dict[str, Any], path: str) -> Event:
    shared = read_alert(alert, path)
    labels, annotations, fingerprint = shared.labels, shared.annotations, shared.fingerprint
    summary = (
        text.sanitize(annotations.get("summary", ""))
        or text.sanitize(labels.get("alertname", ""))
        or f"Grafana alert {fingerprint}"
    )
    return Event(
        shared.action,
        summary,
        _unified_details(alert, path, labels, annotations),
        dedup=DEDUP_PREFIX + fingerprint,
    )


def _unified_details(
    alert: dict[str, Any], path: str, labels: dict[str, str], annotations: dict[str, str]
) -> str:
    link_names = (
        ("Source", "generatorURL"),
        ("Silence", "silenceURL"),
        ("Dashboard", "dashboardURL"),
        ("Panel", "panelURL"),
        ("Image", "imageURL"),
    )
    return details.compose(
        text.sanitize(annotations.get("description", "")),
        _values(alert, path),
        details.links((name, fields.string(alert, key, path)) for name, key in link_names),
        details.key_values("Labels", labels),
        details.key_values("Annotations", annotations, skip=HIDDEN_ANNOTATIONS),
    )


def _values(alert: dict[str, Any], path: str) -> str:
    """`Values: B=44.2, C=1` from `values`, else Grafana 8/9's `valueString`."""
    values = alert.get("values")
    if isinstance(values, dict) and values:
        shown = ", ".join(f"{k}={_number(v)}" for k, v in sorted(values.items()))
        return f"Values: {shown}"
    value_string = text.sanitize(fields.string(alert, "valueString", path))
    return f"Values: {value_string}" if value_string else ""


def _number(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:g}" if isinstance(value, float) else text.clean(str(value))


def _legacy(payload: dict[str, Any], dedup_override: str) -> list[Event]:
    state = fields.string(payload, "state")
    if state not in LEGACY_STATE:
        raise BadRequest.field(
            "state", f"must be one of {', '.join(LEGACY_STATE)}, not {text.quoted(state)}"
        )
    action = LEGACY_STATE[state]
    rule_id = fields.optional_int(payload, "ruleId")
    rule_name = text.sanitize(fields.string(payload, "ruleName"))
    title = text.sanitize(fields.string(payload, "title"))
    if not (rule_name or title or rule_id is not None):
        raise BadRequest.field("ruleName", "is required (or ruleId, or title)")
    if action is None:
        return []
    summary = rule_name or title or f"Grafana alert rule {rule_id}"
    rule = str(rule_id) if rule_id is not None else rule_name or title
    dedup = text.sanitize(dedup_override) or LEGACY_DEDUP_PREFIX + rule
    return [Event(action, summary, _legacy_details(payload), dedup=dedup)]


def _legacy_details(payload: dict[str, Any]) -> str:
    matches = [
        f"- {fields.string(m, 'metric', f'evalMatches[{i}]')}: {_number(m.get('value'))}"
        for i, m in enumerate(fields.objects(payload, "evalMatches"))
    ]
    return details.compose(
        text.sanitize(fields.string(payload, "message")),
        "Matches:\n" + "\n".join(matches) if matches else "",
        details.links(
            [
                ("Rule", fields.string(payload, "ruleUrl")),
                ("Image", fields.string(payload, "imageUrl")),
            ]
        ),
        details.key_values("Tags", fields.strings(payload, "tags")),
    )
