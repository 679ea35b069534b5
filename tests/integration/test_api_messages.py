"""/api/v1/messages: the message log, newest first, filtered; one message with its history;
never the payload (a verification message carries its code there)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from app.alerts import store as alerts
from app.contacts import channels, contact_methods
from app.directory import users
from app.messages import create
from tests.support.api import Api


@pytest.fixture
def api(client: Any, make_api_key: Callable[[str], str]) -> Api:
    return Api(client, make_api_key("read"))


@pytest.fixture
def world(db_conn: psycopg.Connection[Any], make_service: Callable[..., Any]) -> dict[str, Any]:
    """Messages of several kinds to a contact method and a channel."""
    tag = uuid.uuid4().hex[:6]
    user = users.create_user(db_conn, "Ada", f"ada-{tag}@example.com")["id"]
    cm = contact_methods.create_contact_method(
        db_conn, user, "hook", "webhook", f"https://a.example.com/{tag}", False
    )["id"]
    channel = channels.create_channel(
        db_conn,
        {"name": f"ch-{tag}", "type": "webhook", "address": "https://192.0.2.14/",
         "status_updates": True},
    )["id"]  # fmt: skip
    alert = alerts.raise_alert(db_conn, make_service()["id"], "disk full").alert_id
    ids = {
        "verification": create.to_contact_method(
            db_conn, "verification", cm, f"v:{tag}", max_attempts=3, payload={"code": "424242"}
        ),
        "alert": create.to_contact_method(
            db_conn, "alert", cm, f"a:{tag}", max_attempts=5, alert_id=alert
        ),
        "channel": create.to_channel(
            db_conn, "alert", channel, f"c:{tag}", max_attempts=5, alert_id=alert
        ),
    }
    return {"user": user, "cm": cm, "channel": channel, "alert": alert, "ids": ids}


def ids_of(items: list[dict[str, Any]]) -> list[int]:
    return [int(item["id"]) for item in items]


def test_lists_newest_first_in_pages(api: Api, world: dict[str, Any]) -> None:
    listed = api.walk("/messages", limit=2)
    expected = sorted(world["ids"].values(), reverse=True)
    assert ids_of(listed) == expected
    first = listed[-1]
    assert first["kind"] == "verification" and first["status"] == "pending"
    assert first["dest_type"] == "webhook" and first["provider"] == "webhook"
    assert first["contact_method_id"] == world["cm"] and first["user_id"] == world["user"]
    assert first["max_attempts"] == 3 and first["attempts"] == 0
    assert "payload" not in first and "424242" not in repr(listed)


@pytest.mark.parametrize(
    ("params", "expect"),
    [
        ({"kind": "verification"}, ["verification"]),
        ({"kind": "alert"}, ["alert", "channel"]),
        ({"status": "pending"}, ["verification", "alert", "channel"]),
        ({"status": "failed"}, []),
        ({"alert_id": "ALERT"}, ["alert", "channel"]),
        ({"user_id": "USER"}, ["verification", "alert"]),
        ({"contact_method_id": "CM"}, ["verification", "alert"]),
        ({"channel_id": "CHANNEL"}, ["channel"]),
        ({"since": "2000-01-01T00:00:00Z"}, ["verification", "alert", "channel"]),
        ({"until": "2000-01-01T00:00:00Z"}, []),
    ],
)
def test_filters(
    api: Api, world: dict[str, Any], params: dict[str, str], expect: list[str]
) -> None:
    values = {"ALERT": world["alert"], "USER": world["user"], "CM": world["cm"],
              "CHANNEL": world["channel"]}  # fmt: skip
    query = {key: values.get(value, value) for key, value in params.items()}
    response = api.get("/messages", query_string=query)
    assert response.status_code == 200, response.get_json()
    wanted = sorted((world["ids"][name] for name in expect), reverse=True)
    assert ids_of(response.get_json()["items"]) == wanted


@pytest.mark.parametrize(
    "params",
    [
        {"status": "lost"},
        {"kind": "fax"},
        {"alert_id": "0"},
        {"user_id": "nope"},
        {"since": "yesterday"},
        {"cursor": "%%%"},
        {"limit": "0"},
        {"payload": "x"},
    ],
)
def test_bad_queries_are_refused(api: Api, params: dict[str, str]) -> None:
    response = api.get("/messages", query_string=params)
    assert response.status_code in (400, 422), response.get_json()


def test_one_message_with_its_history(
    api: Api, world: dict[str, Any], db_conn: psycopg.Connection[Any]
) -> None:
    message_id = world["ids"]["alert"]
    for step in (
        "UPDATE outgoing_messages SET status = 'sending', attempts = 1 WHERE id = %s",
        "UPDATE outgoing_messages SET status = 'pending', last_error = 'timed out' WHERE id = %s",
        "UPDATE outgoing_messages SET status = 'sending', attempts = 2 WHERE id = %s",
        "UPDATE outgoing_messages SET status = 'sent', provider_message_id = 'p-1', "
        "sent_at = now() WHERE id = %s",
    ):
        db_conn.execute(step, (message_id,))
    response = api.get(f"/messages/{message_id}")
    assert response.status_code == 200, response.get_json()
    message = response.get_json()
    assert message["status"] == "sent" and message["provider_message_id"] == "p-1"
    assert message["alert_id"] == str(world["alert"]) and message["sent_at"]
    history = [(h["status"], h["attempt"], h["error"]) for h in message["history"]]
    assert history == [
        ("pending", 0, None),
        ("sending", 1, None),
        ("pending", 1, "timed out"),
        ("sending", 2, None),
        ("sent", 2, None),
    ]
    assert message["history"][-1]["provider_message_id"] == "p-1"
    shown = api.get(f"/messages/{world['ids']['verification']}")
    assert "424242" not in shown.get_data(as_text=True)
    assert "payload" not in shown.get_json()


def test_unknown_message_is_404(api: Api) -> None:
    assert api.get("/messages/999999999").status_code == 404
    assert api.get("/messages/0").status_code == 404
