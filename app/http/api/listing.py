"""What every `GET` of a collection does, once: decode the cursor, read `limit + 1` rows oldest
first in one transaction (after checking the parent exists, for a sub-resource), cut the page and
encode the next cursor (docs/architecture.md, Layout; README, REST API conventions)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import psycopg

from app.http.api import pagination
from app.http.api.routing import transaction
from app.http.api.schemas.base import PageQuery

Conn = psycopg.Connection[Any]
Row = dict[str, Any]
After = tuple[str, str] | None
Item = TypeVar("Item")


class PageOf(Protocol):
    """A page model: its items and the cursor of the next page."""

    def __init__(self, *, items: list[Any], next_cursor: str | None) -> None: ...


Page = TypeVar("Page", bound=PageOf)


def oldest_first(
    query: PageQuery,
    fetch: Callable[[Conn, After, int], list[Row]],
    item: Callable[[Row], Item],
    page_type: type[Page],
    parent: Callable[[Conn], object] | None = None,
) -> Page:
    """One page of a collection ordered by (created_at, id); `parent` raises NotFound first when
    the collection's owner (a service, a user, a schedule) does not exist."""
    after = pagination.decode_time_cursor(query.cursor)
    with transaction() as conn:
        if parent is not None:
            parent(conn)
        rows = fetch(conn, after, query.limit + 1)
    items, next_cursor = pagination.page(rows, query.limit, pagination.time_cursor, item)
    return page_type(items=items, next_cursor=next_cursor)
