"""/api/v1/messages: the message log — every outgoing notification with its status history.

Newest first, filtered by status, kind, alert, user, contact method, channel and creation time.
A message's payload is never shown: a verification message's payload holds the code.
"""

from __future__ import annotations

from typing import Any

import psycopg

from app.http.api import pagination
from app.http.api.delivery_schemas import Message, MessagePage, MessageQuery, MessageWithHistory
from app.http.api.routing import NotFound, endpoint, transaction
from app.messages import store

TAG = "messages"
ONE = "/messages/<int(min=1, max=9223372036854775807):message_id>"  # a Postgres bigint


def list_messages(conn: psycopg.Connection[Any], query: MessageQuery) -> list[dict[str, Any]]:
    """At most query.limit + 1 messages, newest first."""
    filters: dict[str, Any] = query.model_dump(exclude={"cursor", "limit"})
    filters["before_id"] = pagination.decode_id_cursor(query.cursor)
    return store.list_messages(conn, filters, query.limit + 1)


@endpoint("/messages", "GET", "read", TAG, HTTP_200=MessagePage)
def list_outgoing_messages(query: MessageQuery) -> MessagePage:
    """List outgoing messages, newest first."""
    with transaction() as conn:
        rows = list_messages(conn, query)
    items, next_cursor = pagination.page(
        rows, query.limit, pagination.id_cursor, Message.model_validate
    )
    return MessagePage(items=items, next_cursor=next_cursor)


@endpoint(ONE, "GET", "read", TAG, HTTP_200=MessageWithHistory)
def get_outgoing_message(message_id: int) -> MessageWithHistory:
    """Get one message with every status it passed through, oldest first."""
    with transaction() as conn:
        message = store.get_message(conn, message_id)
    if message is None:
        raise NotFound(f"no message with id {message_id}")
    return MessageWithHistory.model_validate(message)
