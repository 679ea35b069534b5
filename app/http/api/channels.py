"""/api/v1/notification-channels: shared destinations that are not a person — a team's webhook
or Slack channel. Escalation steps may target them, schedules may post on-call notices to them.

A webhook channel gets a signing secret (the HMAC key of its signature header), shown only in
the response that creates it. The type cannot change; delete and re-create instead. A webhook
URL that resolves inside the network is refused (app.http.api.webhook_urls).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import psycopg

from app.contacts import channels
from app.http.api import listing
from app.http.api.routing import CONSTRAINT_FIELDS, endpoint, settings, transaction
from app.http.api.schemas.addresses import check_address
from app.http.api.schemas.base import PageQuery
from app.http.api.schemas.channels import (
    Channel,
    ChannelCreate,
    ChannelCreated,
    ChannelPage,
    ChannelPatch,
)
from app.http.api.schemas.messages import MessageQueued
from app.http.api.webhook_urls import check_webhook_url
from app.http.permissions import TEAM, TEAM_CREATE, TEAM_MOVE
from app.messages import create
from app.platform.errors import NotFound, invalid
from config.settings import PROVIDER_ENV

TAG = "notification channels"
ONE = "/notification-channels/<uuid:channel_id>"

CONSTRAINT_FIELDS["notification_channels_name_key"] = "name"


def _check_address(kind: str, address: str) -> None:
    check_address("slack_channel" if kind == "slack" else kind, address)
    if kind == "webhook":
        check_webhook_url(address)


def require_channel(
    conn: psycopg.Connection[Any], channel_id: UUID, lock: bool = False
) -> dict[str, Any]:
    row = channels.get_channel(conn, str(channel_id), lock)
    if row is None:
        raise NotFound(f"no notification channel with id {channel_id}")
    return row


@endpoint("/notification-channels", "GET", "read", TAG, HTTP_200=ChannelPage)
def list_notification_channels(query: PageQuery) -> ChannelPage:
    """List notification channels, oldest first."""
    return listing.oldest_first(query, channels.list_channels, Channel.model_validate, ChannelPage)


@endpoint(
    "/notification-channels", "POST", "write", TAG, HTTP_201=ChannelCreated, allow=TEAM_CREATE
)
def create_notification_channel(json: ChannelCreate) -> tuple[ChannelCreated, int]:
    """Create a channel; its name must be unique (case-insensitively). Slack channels need
    SLACK_BOT_TOKEN configured."""
    _check_address(json.type, json.address)
    if not settings().delivery.configured(json.type):
        problem = f"the {json.type} provider is not configured: set {PROVIDER_ENV[json.type]}"
        raise invalid("type", problem)
    with transaction() as conn:
        row = channels.create_channel(conn, json.model_dump())
    return ChannelCreated.model_validate(row), 201


@endpoint(ONE, "GET", "read", TAG, HTTP_200=Channel)
def get_notification_channel(channel_id: UUID) -> Channel:
    """Get one channel."""
    with transaction() as conn:
        return Channel.model_validate(require_channel(conn, channel_id))


@endpoint(ONE, "PATCH", "write", TAG, HTTP_200=Channel, allow=TEAM_MOVE)
def update_notification_channel(channel_id: UUID, json: ChannelPatch) -> Channel:
    """Rename a channel, change its address, or opt in/out of status updates."""
    changes = json.changes()
    if "address" in changes:
        # Checked outside the transaction: a webhook URL's check waits on DNS, and no
        # connection is held meanwhile. The type never changes, so it can be read first.
        with transaction() as conn:
            kind = require_channel(conn, channel_id)["type"]
        _check_address(kind, changes["address"])
    with transaction() as conn:
        require_channel(conn, channel_id, lock=True)
        row = channels.update_channel(conn, str(channel_id), changes)
    assert row is not None  # locked above
    return Channel.model_validate(row)


@endpoint(ONE, "DELETE", "write", TAG, HTTP_204=None, allow=TEAM)
def delete_notification_channel(channel_id: UUID) -> tuple[str, int]:
    """Delete a channel; escalation steps stop targeting it, schedules stop posting to it."""
    with transaction() as conn:
        if not channels.delete_channel(conn, str(channel_id)):
            raise NotFound(f"no notification channel with id {channel_id}")
    return "", 204


@endpoint(ONE + "/test", "POST", "write", TAG, HTTP_202=MessageQueued, allow=TEAM)
def test_notification_channel(channel_id: UUID) -> tuple[MessageQueued, int]:
    """Queue a test message to the channel; follow it at GET /messages/<message_id>."""
    with transaction() as conn:
        require_channel(conn, channel_id)
        message_id = create.to_channel(
            conn,
            "test",
            str(channel_id),
            dedup_key=f"test:{channel_id}:{uuid4().hex}",
            max_attempts=settings().delivery.max_attempts,
        )
    assert message_id is not None  # a fresh dedup key
    return MessageQueued(message_id=str(message_id)), 202
