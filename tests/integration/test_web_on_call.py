"""The on-call page (`/on-call`) through Flask's test client on real Postgres and Redis, on the
demo dataset (app.commands.demo_data): every service with who each step has on call now (the
same answer as /api/v1/services/<id>/on-call), the viewer's current and next shift (the same
as /api/v1/users/<id>/on-call-next), a bounded number of queries, and the sign-in redirect."""

from __future__ import annotations

import re
from typing import Any

import psycopg
import pytest

from app.commands import demo_data
from app.directory import services, users
from tests.integration.test_web_pages import csrf_of


@pytest.fixture
def demo(db_conn: psycopg.Connection[Any]) -> demo_data.Seeded:
    return demo_data.seed(db_conn)


def sign_in(client: Any, email: str = demo_data.DEMO_EMAIL) -> str:
    response = client.post("/login", data={"email": email, "password": demo_data.DEMO_PASSWORD})
    assert response.status_code == 303, response.get_data(as_text=True)[:300]
    return csrf_of(client.get("/alerts").get_data(as_text=True))


def test_the_demo_dataset_has_every_status_logs_and_messages(
    db_conn: psycopg.Connection[Any], demo: demo_data.Seeded
) -> None:
    assert demo.created
    rows = db_conn.execute("SELECT status, count(*) AS n FROM alerts GROUP BY status").fetchall()
    counts = {r["status"]: r["n"] for r in rows}
    assert set(counts) == {"triggered", "acknowledged", "closed"}
    assert sum(counts.values()) == demo_data.DEMO.alerts
    sent = {r["status"] for r in db_conn.execute("SELECT status FROM outgoing_messages")}
    assert {"delivered", "sent", "failed", "pending"} <= sent
    events = {r["event"] for r in db_conn.execute("SELECT DISTINCT event FROM alert_logs")}
    assert {"created", "acknowledged", "closed", "escalation_requested"} <= events
    assert db_conn.execute("SELECT count(*) AS n FROM teams").fetchone()["n"] == 3  # type: ignore[index]
    assert not demo_data.seed(db_conn).created  # a second start keeps what is there


def test_on_call_page_matches_the_api_for_every_service(
    client: Any, db_conn: psycopg.Connection[Any], demo: demo_data.Seeded
) -> None:
    sign_in(client)
    html = client.get("/on-call").get_data(as_text=True)
    service_ids = re.findall(r'data-service-id="([^"]+)"', html)
    assert len(service_ids) == demo_data.DEMO.services
    for service_id in service_ids:
        api = client.get(f"/api/v1/services/{service_id}/on-call").get_json()
        block = html.split(f'data-service-id="{service_id}"', 1)[1].split('class="service"')[0]
        if not api["steps"]:
            assert "nobody is paged" in block
        for step in api["steps"]:
            for target in step["targets"]:
                for user in target["users"]:
                    assert user["name"] in block, (service_id, user)
                if target["type"] in ("schedule", "rotation") and not target["users"]:
                    assert "nobody on call" in block


def test_on_call_page_shows_my_current_and_next_shift_as_the_api_does(
    client: Any, db_conn: psycopg.Connection[Any], demo: demo_data.Seeded
) -> None:
    sign_in(client)
    me = users.credentials_by_email(db_conn, demo_data.DEMO_EMAIL)
    assert me is not None
    nxt = client.get(f"/api/v1/users/{me['id']}/on-call-next").get_json()["shift"]
    html = client.get("/on-call").get_data(as_text=True)
    mine = html.split('id="mine-title"', 1)[1].split("</section>", 1)[0]
    assert nxt is not None  # the demo puts its admin in the first rotation
    assert "You are on call now" in mine or "Next:" in mine
    start = nxt["start"].replace("Z", "+00:00")
    end = nxt["end"].replace("Z", "+00:00")
    assert f'datetime="{end}"' in mine or f'datetime="{start}"' in mine


def test_someone_with_no_shifts_is_told_so(
    client: Any, db_conn: psycopg.Connection[Any], demo: demo_data.Seeded
) -> None:
    from tests.support.signin import PASSWORD, make_user

    loner = make_user(db_conn)
    assert (
        client.post("/login", data={"email": loner["email"], "password": PASSWORD}).status_code
        == 303
    )
    mine = client.get("/on-call").get_data(as_text=True).split('id="mine-title"', 1)[1]
    assert "You are not on call now." in mine
    assert "No shift of yours starts in the next 90 days." in mine


def test_on_call_page_queries_do_not_grow_with_services(
    client: Any, db_conn: psycopg.Connection[Any], demo: demo_data.Seeded,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """Statements per page are bounded by distinct policies, schedules and rotations, not by
    services: 30 more services on an existing policy add no statement. (Counted at psycopg's
    cursor: every statement the app sends goes through Cursor.execute.)"""
    sign_in(client)
    sent = [0]
    original = psycopg.Cursor.execute

    def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        sent[0] += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", counting)

    def statements() -> int:
        before = sent[0]
        assert client.get("/on-call").status_code == 200
        return sent[0] - before

    first = statements()
    policy = db_conn.execute(
        "SELECT escalation_policy_id::text AS p FROM services "
        "WHERE escalation_policy_id IS NOT NULL LIMIT 1"
    ).fetchone()["p"]  # type: ignore[index]
    for n in range(30):
        created = services.create_service(db_conn, f"extra {n}")
        services.update_service(db_conn, created["id"], {"escalation_policy_id": policy})
    db_conn.commit()
    assert first > 5
    assert statements() == first


def test_on_call_page_needs_a_session(client: Any) -> None:
    response = client.get("/on-call")
    assert response.status_code == 303
    assert response.headers["Location"] == "/login?next=%2Fon-call"


def test_bulk_resolution_agrees_with_one_target_at_a_time(
    db_conn: psycopg.Connection[Any], demo: demo_data.Seeded
) -> None:
    """The page's (and the API's) bulk path answers what the engine's per-target path does,
    now and at other instants (shift boundaries, weekends, an override)."""
    from datetime import UTC, datetime, timedelta

    from app.oncall import overrides, resolve

    targets = {
        (r["t"], r["id"])
        for r in db_conn.execute(
            "SELECT target_type AS t, coalesce(user_id, schedule_id, rotation_id, channel_id)::text"
            " AS id FROM escalation_step_targets"
        )
    }
    schedule_id = next(i for t, i in targets if t == "schedule")
    someone = users.credentials_by_email(db_conn, demo_data.DEMO_EMAIL)
    assert someone is not None
    now = datetime.now(UTC)
    overrides.create_override(
        db_conn, schedule_id,
        {"kind": "add", "start": now + timedelta(days=2), "end": now + timedelta(days=3),
         "add_user_id": someone["id"], "remove_user_id": None},
    )  # fmt: skip
    assert {t for t, _ in targets} >= {"schedule", "rotation"}
    for at in [now + timedelta(hours=h) for h in range(0, 24 * 9, 7)]:
        bulk = resolve.targets_on_call(db_conn, targets, at)
        for target_type, target_id in targets:
            one = resolve.target_on_call(db_conn, target_type, target_id, at)
            assert sorted(bulk[(target_type, target_id)]) == sorted(one), (target_type, at)
