"""A lived-in Klaxon to look at: teams, people who can sign in, services with escalation
policies, rotations and schedules, and alerts in every status with their logs and the messages
sent about them. `klaxon dev` seeds it (size DEMO) into an empty system; the screenshots
(`make screenshots`) and the benchmarks (bench/, size BENCH) seed it too.

Everything is written through the domains' own functions (their tables' one writer each), as
the API would. Every demo person shares one password (DEMO_PASSWORD, hashed once): this is
sample data for a machine of your own, never for a shared system. Seeding is skipped when the
first demo person exists already, so a restart of `klaxon dev` keeps what you changed.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

import psycopg
import structlog

from app.alerts import store as alerts
from app.contacts import contact_methods, notification_rules
from app.directory import passwords, services, teams, users
from app.escalation import policies
from app.messages import create as messages
from app.messages import store as message_store
from app.oncall import (
    overrides,
    rotations,
    schedule_rules,
    schedules,
    swaps,
    temporary_schedules,
)
from app.platform.errors import ApiError

log = structlog.get_logger(__name__)

DEMO_EMAIL = "ada@demo.klaxon.test"  # the admin to sign in as
DEMO_PASSWORD = "klaxon-demo-password"
DEMO_DOMAIN = "demo.klaxon.test"
_FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Margaret", "Ken", "Radia",
          "Linus", "Frances", "John", "Hedy", "Dennis", "Sophie", "Tim"]  # fmt: skip
_LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Hamilton",
         "Thompson", "Perlman", "Torvalds", "Allen", "Backus", "Lamarr", "Ritchie", "Wilson",
         "Lee"]  # fmt: skip
_TEAMS = ["Payments", "Platform", "Storefront", "Data", "Identity", "Search", "Mobile", "Edge"]
_SYSTEMS = ["API", "Checkout", "Database", "Queue", "Web", "Search index", "Auth", "CDN",
            "Billing", "Reports", "Mail", "Object store"]  # fmt: skip
_PROBLEMS = [
    ("High error rate on {s}", "5xx responses above **2%** for 5 minutes.\n\n- region: eu-west-1"),
    ("{s} latency p99 above 2 s", "p99 latency is `2.4 s` (threshold 2 s)."),
    ("{s} disk 91% full", "Volume `/var/lib/data` is filling up: about 6 hours left."),
    ("{s} heartbeat missed", "No heartbeat for 10 minutes."),
    ("Certificate for {s} expires in 7 days", "Renew it before it expires."),
    ("{s} replica lag 45 s", "Streaming replication lag above 30 s."),
]


@dataclass(frozen=True)
class DemoSize:
    teams: int
    users: int
    services: int
    schedules: int
    alerts: int


DEMO = DemoSize(teams=3, users=12, services=8, schedules=4, alerts=60)
BENCH = DemoSize(teams=8, users=200, services=100, schedules=50, alerts=10_000)


@dataclass(frozen=True)
class Seeded:
    created: bool  # False: the demo was there already, nothing was written
    email: str
    password: str


def seed(conn: psycopg.Connection[Any], size: DemoSize = DEMO, seed_value: int = 14) -> Seeded:
    """Write the demo dataset in one transaction of `conn` (dict rows), unless it is there."""
    if users.credentials_by_email(conn, DEMO_EMAIL) is not None:
        return Seeded(False, DEMO_EMAIL, DEMO_PASSWORD)
    rng = random.Random(seed_value)
    now = datetime.now(UTC).replace(microsecond=0)
    try:
        with conn.transaction():
            people, methods = _people(conn, size)
            _notification_rules(conn, methods)
            groups = _teams(conn, size, people)
            targets = _on_call(conn, size, people, groups, now)
            _schedule_changes(conn, targets[0][1], people, now)
            _swaps(conn, people, targets, now)
            service_ids = _services(conn, size, groups, targets, rng)
            _alerts(conn, size, service_ids, people, list(methods.values())[:20], rng)
    except psycopg.errors.UniqueViolation as exc:  # a system with its own "API" team, say
        log.warning("demo_data_skipped", reason=str(exc).splitlines()[0])
        return Seeded(False, DEMO_EMAIL, DEMO_PASSWORD)
    log.info("demo_data_seeded", users=size.users, services=size.services, alerts=size.alerts)
    return Seeded(True, DEMO_EMAIL, DEMO_PASSWORD)


def _people(conn: psycopg.Connection[Any], size: DemoSize) -> tuple[list[str], dict[str, str]]:
    """The demo people (the first an admin) and each one's email contact method."""
    hashed = passwords.hash_password(DEMO_PASSWORD)  # once: hashing is slow on purpose
    zones = ["Europe/London", "America/New_York", "Europe/Berlin", "Asia/Tokyo", "UTC"]
    ids, methods = [], {}
    for i in range(size.users):
        first, last = _FIRST[i % len(_FIRST)], _LAST[(i // len(_FIRST) + i) % len(_LAST)]
        name = f"{first} {last}" + (f" {i // len(_FIRST) + 1}" if i >= len(_FIRST) else "")
        email = DEMO_EMAIL if i == 0 else f"{first.lower()}.{i}@{DEMO_DOMAIN}"
        user = users.create_user(conn, name, email, "admin" if i == 0 else "user", zones[i % 5])
        users.set_password_hash(conn, user["id"], hashed)
        method = contact_methods.create_contact_method(
            conn, user["id"], "Work email", "email", email, True
        )
        ids.append(str(user["id"]))
        methods[str(user["id"])] = str(method["id"])
    return ids, methods


def _notification_rules(conn: psycopg.Connection[Any], methods: dict[str, str]) -> None:
    """Most people's email is verified and pages them at once, so a policy's preview shows
    whom it reaches and how; every fourth person (the admin's first colleague among them)
    has none, so it also shows a person nobody can reach."""
    for n, (user_id, method_id) in enumerate(methods.items()):
        if n % 4 == 1:
            continue
        contact_methods.mark_verified(conn, method_id)
        notification_rules.create_rule(conn, user_id, method_id, 0)


def _teams(conn: psycopg.Connection[Any], size: DemoSize, people: list[str]) -> list[str]:
    ids = []
    for t in range(size.teams):
        name = _TEAMS[t % len(_TEAMS)] + (f" {t // len(_TEAMS) + 1}" if t >= len(_TEAMS) else "")
        team = teams.create_team(conn, name, f"The {name} team.")
        members = people[t :: size.teams] or people[:1]
        for n, user_id in enumerate(members):
            teams.add_member(conn, team["id"], user_id, "manager" if n == 0 else "member")
        ids.append(str(team["id"]))
    return ids


def _on_call(
    conn: psycopg.Connection[Any], size: DemoSize, people: list[str], groups: list[str],
    now: datetime,
) -> list[tuple[str, str]]:  # fmt: skip
    """Per schedule a weekly rotation (handoffs Monday 09:00) and a business-hours cover rule;
    answers the (type, id) targets the policies can page. The first rotation's first
    participant, the demo admin, is on call this week."""
    found: list[tuple[str, str]] = []
    start = (now - timedelta(days=now.weekday())).replace(hour=9, minute=0, second=0)
    if start > now:  # Monday before 09:00: the handoff that started this shift was last week
        start -= timedelta(days=7)
    for s in range(size.schedules):
        team = groups[s % len(groups)]
        crew = [people[(s * 3 + k) % len(people)] for k in range(4)]
        label = f"{_SYSTEMS[s % len(_SYSTEMS)]}" + (
            f" {s // len(_SYSTEMS) + 1}" if s >= len(_SYSTEMS) else ""
        )
        rotation = rotations.create_rotation(
            conn,
            {"name": f"{label} primary", "description": "", "type": "weekly", "shift_length": 1,
             "start": start, "start_index": 0, "time_zone": "Europe/London", "team_id": team},
            crew,
        )  # fmt: skip
        schedule = schedules.create_schedule(conn, f"{label} on call", "Europe/London", "", team)
        schedule_rules.create_schedule_rule(
            conn, schedule["id"], {"target_type": "rotation", "target_id": rotation["id"]}
        )
        schedule_rules.create_schedule_rule(
            conn,
            schedule["id"],
            {"target_type": "user", "target_id": crew[-1], "weekdays": [0, 1, 2, 3, 4],
             "start_time": time(9), "end_time": time(17)},
        )  # fmt: skip
        found += [("schedule", str(schedule["id"])), ("rotation", str(rotation["id"]))]
    return found


def _schedule_changes(
    conn: psycopg.Connection[Any], schedule_id: str, people: list[str], now: datetime
) -> None:
    """The first schedule's overrides (replace, add, remove) and a temporary schedule this week
    and next, so its calendar shows every kind of shift (its crew: people 0..3)."""
    day = now.replace(hour=0, minute=0, second=0)
    for kind, add, remove, offset, hours in (
        ("replace", people[5], people[0], 1, 12), ("add", people[6], None, 2, 8),
        ("remove", None, people[3], 3, 8),
    ):  # fmt: skip
        start = day + timedelta(days=offset, hours=8)
        overrides.create_override(
            conn, schedule_id, {"kind": kind, "add_user_id": add, "remove_user_id": remove,
                                "start": start, "end": start + timedelta(hours=hours)},
        )  # fmt: skip
    begin = day + timedelta(days=5)
    temporary_schedules.create_temporary_schedule(
        conn, schedule_id, begin, begin + timedelta(days=1),
        [{"user_id": people[7], "start": begin, "end": begin + timedelta(hours=12)},
         {"user_id": people[8], "start": begin + timedelta(hours=12),
          "end": begin + timedelta(days=1)}],
    )  # fmt: skip


def _services(
    conn: psycopg.Connection[Any], size: DemoSize, groups: list[str],
    targets: list[tuple[str, str]], rng: random.Random,
) -> list[str]:  # fmt: skip
    ids = []
    for i in range(size.services):
        team = groups[i % len(groups)]
        label = _SYSTEMS[i % len(_SYSTEMS)] + (
            f" {i // len(_SYSTEMS) + 1}" if i >= len(_SYSTEMS) else ""
        )
        service = services.create_service(conn, label, f"The {label} service.", team)
        if i % 7 == 6:  # a few services page nobody: the on-call page says so
            ids.append(str(service["id"]))
            continue
        first = targets[(2 * i) % len(targets)] if targets else None
        backup = targets[(2 * i + 3) % len(targets)] if targets else None
        steps: list[dict[str, Any]] = [
            {"delay_minutes": 10, "targets": [{"type": first[0], "id": first[1]}]}
        ] if first else []  # fmt: skip
        if backup:
            steps.append({"delay_minutes": 15, "targets": [{"type": backup[0], "id": backup[1]}]})
        policy = policies.create_policy(
            conn,
            {"name": f"{label} escalation", "description": "", "repeat_count": 1, "team_id": team},
            steps,
        )
        services.update_service(conn, service["id"], {"escalation_policy_id": policy["id"]})
        ids.append(str(service["id"]))
    return ids


def _alerts(
    conn: psycopg.Connection[Any], size: DemoSize, service_ids: Sequence[str],
    people: list[str], cms: list[str], rng: random.Random,
) -> None:  # fmt: skip
    """Alerts in every status: a third still triggered, some acknowledged, most closed; some
    escalated by hand; one in three with an email about it."""
    service_names = [(services.get_service(conn, s) or {"name": "?"})["name"] for s in service_ids]
    for n in range(size.alerts):
        service_id = service_ids[n % len(service_ids)]
        summary, details = rng.choice(_PROBLEMS)
        system = service_names[n % len(service_ids)]
        raised = alerts.raise_alert(
            conn, service_id, summary.format(s=system), details, dedup=f"demo-{n}",
            source=rng.choice(["api", "generic", "grafana", "email"]),
        )  # fmt: skip
        who = alerts.Actor("user", rng.choice(people))
        roll = rng.random()
        if roll < 0.08:
            alerts.request_escalation(conn, raised.alert_id, who, {"via": "web"})
        if 0.33 <= roll < 0.55:
            alerts.set_status(conn, raised.alert_id, "acknowledged", who, {"via": "sms"})
        elif roll >= 0.55:
            alerts.set_status(conn, raised.alert_id, "acknowledged", who, {"via": "web"})
            alerts.set_status(conn, raised.alert_id, "closed", who, {"via": "slack"})
        if n % 3 == 0 and cms:
            _message(conn, raised.alert_id, rng.choice(cms), n)


def _message(conn: psycopg.Connection[Any], alert_id: int, cm_id: str, n: int) -> None:
    """An alert email, as the engine queues it: delivered, sent, failed or still pending."""
    message_id = messages.to_contact_method(
        conn, "alert", cm_id, f"demo-alert-{alert_id}", max_attempts=3, alert_id=alert_id
    )
    if message_id is None or n % 4 == 3:
        return  # left pending
    (claimed,) = message_store.claim(conn, [message_id], "demo-seed", 60)
    owner = message_store.Claim(message_id, "demo-seed", int(claimed["attempts"]))
    if n % 4 in (0, 1):  # accepted; the provider confirmed delivery of every other one
        accepted = message_store.Accepted(owner, n % 4 == 0, f"demo-{message_id}", "email sent")
        message_store.record_sent(conn, [accepted])
    else:
        message_store.record_failure(
            conn, owner, error="550 mailbox unavailable (demo)", permanent=True, delay=0
        )


def _swaps(
    conn: psycopg.Connection[Any], people: list[str], targets: list[tuple[str, str]],
    now: datetime,
) -> None:  # fmt: skip
    """Shift swaps for the swap pages: in each of the first two schedules, whoever its rotation
    has on call this week (the demo admin in the first) asks for cover in a few hours, and the
    first one also has a withdrawn request. A span the person is not on call for is skipped."""
    schedule_ids = [target_id for kind, target_id in targets if kind == "schedule"][:2]
    start = now.replace(minute=0, second=0) + timedelta(hours=2)
    asks = [(0, people[0], 3, "Flight home: can someone take the evening?"),
            (1, people[3 % len(people)], 4, ""), (0, people[0], 6, "")]  # fmt: skip
    for n, (index, user_id, hours, note) in enumerate(asks):
        if index >= len(schedule_ids):
            continue
        span = (start + timedelta(hours=n * 6), start + timedelta(hours=n * 6 + hours))
        try:
            swap = swaps.request_swap(conn, schedule_ids[index], user_id, span, note, now)
        except ApiError:  # not on call then (a handoff falls inside): nothing to show
            continue
        if n == 2:
            swaps.withdraw_swap(conn, schedule_ids[index], swap["id"], now)
