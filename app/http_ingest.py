"""Ingest endpoints under /api/v2 (GoAlert-compatible); filled in by the ingest work."""

from __future__ import annotations

from flask import Blueprint

ingest_blueprint = Blueprint("ingest", __name__, url_prefix="/api/v2")
