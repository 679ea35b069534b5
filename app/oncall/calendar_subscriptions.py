"""The `calendar_subscriptions` table: a user's or a schedule's calendar feed, whose token (shown
once, stored hashed) is the credential."""

from __future__ import annotations

from app.oncall.rows import After, Conn, Row, one
from app.platform import tokens
from app.platform.sql_fragments import keyset_page

CALENDAR_PREFIX = "klc"  # calendar subscription tokens: klc_<id hex>_<secret>

SUBSCRIPTION_COLUMNS = (
    "id::text AS id, user_id::text AS user_id, schedule_id::text AS schedule_id, created_at, "
    "revoked_at"
)


def create_subscription(
    conn: Conn, *, user_id: str | None = None, schedule_id: str | None = None
) -> Row:
    """A calendar subscription for a user or a schedule; `token` is returned only here."""
    new = tokens.new_token(CALENDAR_PREFIX)
    row = one(
        conn.execute(
            "INSERT INTO calendar_subscriptions (id, user_id, schedule_id, secret_hash) "
            f"VALUES (%s, %s, %s, %s) RETURNING {SUBSCRIPTION_COLUMNS}",
            (new.id, user_id, schedule_id, new.secret_hash),
        )
    )
    assert row is not None
    return {**row, "token": new.token}


def revoke_subscription(conn: Conn, subscription_id: str, owner_column: str, owner_id: str) -> bool:
    """Revoke a subscription of this owner (`user_id` or `schedule_id`); False if none."""
    assert owner_column in ("user_id", "schedule_id")
    return (
        conn.execute(
            "UPDATE calendar_subscriptions SET revoked_at = coalesce(revoked_at, now()) "
            f"WHERE id = %s AND {owner_column} = %s",
            (subscription_id, owner_id),
        ).rowcount
        > 0
    )


def list_subscriptions(
    conn: Conn, owner_column: str, owner_id: str, after: After = None, limit: int = 50
) -> list[Row]:
    """This owner's (`user_id` or `schedule_id`) subscriptions, revoked ones too; no secrets."""
    assert owner_column in ("user_id", "schedule_id")
    return keyset_page(
        conn,
        SUBSCRIPTION_COLUMNS,
        "calendar_subscriptions",
        after,
        limit,
        f"{owner_column} = %(owner_id)s",
        owner_id=owner_id,
    )


def verify_subscription(conn: Conn, token: str) -> Row | None:
    """The live subscription this token proves, else None."""
    parsed = tokens.parse_token(CALENDAR_PREFIX, token)
    if parsed is None:
        return None
    subscription_id, secret = parsed
    row = one(
        conn.execute(
            f"SELECT {SUBSCRIPTION_COLUMNS}, secret_hash FROM calendar_subscriptions "
            "WHERE id = %s AND revoked_at IS NULL",
            (subscription_id,),
        )
    )
    if row is None or not tokens.secret_matches(row.pop("secret_hash"), secret):
        return None
    return row
