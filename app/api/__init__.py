"""The management REST API under /api/v1."""

from __future__ import annotations

from flask import Blueprint

api_blueprint = Blueprint("api", __name__, url_prefix="/api/v1")
