"""/api/v1/notification-channels: CRUD, address checks, unique names, signing secrets, tests."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from tests.support.api import Api, created


@pytest.fixture
def api(client: Any, make_api_key: Callable[[str], str]) -> Api:
    return Api(client, make_api_key("write"))


def new_channel(api: Api, **fields: Any) -> dict[str, Any]:
    body = {"name": "ops", "type": "webhook", "address": "https://192.0.2.10/ops", **fields}
    return created(api.post("/notification-channels", json=body))


def test_create_get_list_patch_delete(api: Api, db_conn: psycopg.Connection[Any]) -> None:
    channel = new_channel(api)
    assert channel["status_updates"] is True and channel["type"] == "webhook"
    assert isinstance(channel["signing_secret"], str) and len(channel["signing_secret"]) >= 40
    stored = db_conn.execute(
        "SELECT signing_secret FROM notification_channels WHERE id = %s", (channel["id"],)
    ).fetchone()
    assert stored == {"signing_secret": channel["signing_secret"]}
    path = f"/notification-channels/{channel['id']}"
    shown = api.get(path).get_json()
    assert shown == {k: v for k, v in channel.items() if k != "signing_secret"}
    other = new_channel(api, name="db", address="http://127.0.0.1:9/db", status_updates=False)
    assert [c["id"] for c in api.walk("/notification-channels", limit=1)] == [
        channel["id"],
        other["id"],
    ]
    patched = api.patch(path, json={"name": "ops-2", "address": "https://192.0.2.11/h"})
    assert patched.status_code == 200, patched.get_json()
    assert patched.get_json()["name"] == "ops-2"
    assert patched.get_json()["address"] == "https://192.0.2.11/h"
    assert api.delete(path).status_code == 204
    assert api.get(path).status_code == 404
    assert api.delete(path).status_code == 404
    assert api.patch(path, json={"name": "x"}).status_code == 404
    assert api.post(f"{path}/test").status_code == 404


def test_names_are_unique_case_insensitively(api: Api) -> None:
    new_channel(api, name="Ops")
    again = api.post(
        "/notification-channels",
        json={"name": "ops", "type": "webhook", "address": "https://192.0.2.12/"},
    )
    assert again.status_code == 409, again.get_json()
    assert again.get_json()["details"]["field"] == "name"
    other = new_channel(api, name="other")
    renamed = api.patch(f"/notification-channels/{other['id']}", json={"name": "OPS"})
    assert renamed.status_code == 409


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"address": "mailto:ops@example.com"}, "address"),
        ({"type": "email", "address": "ops@example.com"}, "type"),
        ({"name": ""}, "name"),
        ({"status_updates": "yes"}, "status_updates"),
    ],
)
def test_invalid_bodies_name_the_field(api: Api, body: dict[str, Any], field: str) -> None:
    full = {"name": "ops", "type": "webhook", "address": "https://192.0.2.12/", **body}
    response = api.post("/notification-channels", json=full)
    assert response.status_code == 422, response.get_json()
    assert field in [e["field"] for e in response.get_json()["details"]["errors"]]


def test_a_patched_address_is_checked_against_the_type(api: Api) -> None:
    channel = new_channel(api)
    response = api.patch(f"/notification-channels/{channel['id']}", json={"address": "C0123"})
    assert response.status_code == 422
    assert response.get_json()["details"]["errors"][0]["field"] == "address"


def test_slack_channels_need_slack_configured(api: Api) -> None:
    body = {"name": "ops", "type": "slack", "address": "C012AB3CD"}
    response = api.post("/notification-channels", json=body)
    assert response.status_code == 422, response.get_json()
    assert "SLACK_BOT_TOKEN" in response.get_json()["error"]
    assert response.get_json()["details"]["errors"][0]["field"] == "type"


def test_slack_channel_addresses(
    settings_for: Callable[..., Any], make_api_key: Callable[[str], str]
) -> None:
    from app import create_app

    app = create_app(settings_for(SLACK_BOT_TOKEN="xoxb-test"))
    try:
        api = Api(app.test_client(), make_api_key("write"))
        for n, address in enumerate(("C012AB3CD", "#ops-alerts")):
            channel = new_channel(api, name=f"s{n}", type="slack", address=address)
            assert channel["signing_secret"] is None
        bad = api.post(
            "/notification-channels",
            json={"name": "bad", "type": "slack", "address": "https://slack.com"},
        )
        assert bad.status_code == 422
    finally:
        app.extensions["klaxon"].stop()


def test_test_queues_a_message(api: Api, db_conn: psycopg.Connection[Any]) -> None:
    channel = new_channel(api)
    response = api.post(f"/notification-channels/{channel['id']}/test")
    assert response.status_code == 202, response.get_json()
    row = db_conn.execute(
        "SELECT kind, status, channel_id::text AS channel_id, provider FROM outgoing_messages "
        "WHERE id = %s",
        (int(response.get_json()["message_id"]),),
    ).fetchone()
    assert row == {
        "kind": "test",
        "status": "pending",
        "channel_id": channel["id"],
        "provider": "webhook",
    }
    second = api.post(f"/notification-channels/{channel['id']}/test")
    assert second.get_json()["message_id"] != response.get_json()["message_id"]


def test_unknown_ids_are_404(api: Api) -> None:
    assert api.get(f"/notification-channels/{uuid.uuid4()}").status_code == 404
