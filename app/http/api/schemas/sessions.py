"""Sign-in sessions, as /api/v1/me/sessions and an admin's /api/v1/users/<id>/sessions show them."""

from __future__ import annotations

from pydantic import Field

from app.http.api.schemas.base import Output, OutTime


class Session(Output):
    """A sign-in session (a browser or a script holding its cookie)."""

    id: str
    created_at: OutTime
    last_seen_at: OutTime = Field(description="to within a minute")
    idle_expires_at: OutTime = Field(description="ends unless used before then")
    expires_at: OutTime = Field(description="ends then however busy (KLAXON_SESSION_MAX)")
    user_agent: str
    address: str
    revoked_at: OutTime | None


class SessionPage(Output):
    items: list[Session]
    next_cursor: str | None


class SessionsRevoked(Output):
    revoked: int
