"""What the profile's forms share: validating a form with the API's own schema, going back to
the profile with a notice, and the page that shows a secret once (app.http.pages.profile)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar
from uuid import UUID

from flask import Response, redirect, request
from pydantic import BaseModel, ValidationError

from app.http.api.validation import validation_failed
from app.http.pages.base import page
from app.platform.errors import invalid

PROFILE = "/profile"
Model = TypeVar("Model", bound=BaseModel)

# The notices an action may leave (a fixed word in the URL, never text from the request).
NOTICES = {
    "details": "Your details are saved.",
    "method-added": "Contact method added: a verification code is on its way to it.",
    "verified": "Contact method verified.",
    "code-sent": "A new verification code is on its way.",
    "test-sent": "Test message queued.",
    "disabled": "Contact method disabled: nothing is sent to it.",
    "enabled": "Contact method enabled.",
    "method-deleted": "Contact method deleted, with its notification rules.",
    "rule-added": "Notification rule added.",
    "rule-deleted": "Notification rule deleted.",
    "feed-revoked": "Calendar feed revoked: its URL stops working.",
    "session-revoked": "Session signed out.",
    "others-revoked": "Signed out everywhere else.",
    "key-revoked": "API key revoked.",
}


def form_model(model: type[Model], data: Mapping[str, Any]) -> Model:
    """A form validated by the API's own schema (422 naming the field, as the API answers)."""
    try:
        return model.model_validate(dict(data))
    except ValidationError as error:
        raise validation_failed(model, error) from None


def form_id(name: str) -> UUID:
    """A form field holding an id (422 when it does not)."""
    try:
        return UUID(request.form.get(name, "")[:64])
    except ValueError:
        raise invalid(name, "must be an id") from None


def done(notice: str) -> Response:
    """Back to the profile with a notice (a reload repeats nothing)."""
    return redirect(f"{PROFILE}?done={notice}", code=303)  # type: ignore[return-value]


def shown_once(title: str, label: str, secret: str, note: str, back: str = PROFILE) -> Response:
    """A page showing a secret this once (never cached, never in a URL), with a link `back`
    (the profile, or the admin page that made it)."""
    return page(
        "pages/shown_once.html", title=title, label=label, secret=secret, note=note, back=back
    )
