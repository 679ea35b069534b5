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

TAG = "messages"
ONE = "/messages/<int(min=1, max=9223372036854775807):message_id>"  # a Postgres bigint

COLUMNS = """
    id, kind, status, dest_type, provider, contact_method_id::text AS contact_method_id,
    channel_id::text AS channel_id, user_id::text AS user_id, alert_id,
    schedule_id::text AS schedule_id, attempts, max_attempts, provider_message_id, last_error,
    not_before, created_at, updated_at, sent_at, delivered_at, failed_at
"""
# query field -> its condition (values come from the validated query, never from SQL text)
FILTERS = {
    "status": "status = %(status)s",
    "kind": "kind = %(kind)s",
    "alert_id": "alert_id = %(alert_id)s",
    "user_id": "user_id = %(user_id)s",
    "contact_method_id": "contact_method_id = %(contact_method_id)s",
    "channel_id": "channel_id = %(channel_id)s",
    "since": "created_at >= %(since)s",
    "until": "created_at < %(until)s",
    "before_id": "id < %(before_id)s",
}


def list_messages(conn: psycopg.Connection[Any], query: MessageQuery) -> list[dict[str, Any]]:
    """At most query.limit + 1 messages, newest first."""
    params: dict[str, Any] = query.model_dump(exclude={"cursor", "limit"})
    params["before_id"] = pagination.decode_id_cursor(query.cursor)
    clauses = ["TRUE"] + [FILTERS[key] for key, value in params.items() if value is not None]
    return conn.execute(
        f"SELECT {COLUMNS} FROM outgoing_messages WHERE {' AND '.join(clauses)} "
        "ORDER BY id DESC LIMIT %(limit)s",
        {**params, "limit": query.limit + 1},
    ).fetchall()


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
        row = conn.execute(
            f"SELECT {COLUMNS} FROM outgoing_messages WHERE id = %s", (message_id,)
        ).fetchone()
        if row is None:
            raise NotFound(f"no message with id {message_id}")
        history = conn.execute(
            "SELECT status, attempt, error, provider_message_id, at FROM message_events "
            "WHERE message_id = %s ORDER BY id",
            (message_id,),
        ).fetchall()
    return MessageWithHistory.model_validate({**row, "history": history})
