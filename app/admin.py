"""Admin pages (rq-dashboard at /admin/rq), for admin API keys only."""

from __future__ import annotations

from flask import Flask


def register_admin(app: Flask) -> None:
    """Mount the admin pages on `app`."""
