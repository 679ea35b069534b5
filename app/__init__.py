"""Klaxon: the Flask app factory lives in app.http.web; this keeps `app:create_app()` (Procfile)
working without importing Flask into every CLI command."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def create_app(*args: Any, **kwargs: Any) -> Flask:
    """Build the Flask app (see app.http.web.create_app)."""
    from app.http.web import create_app as build

    return build(*args, **kwargs)
