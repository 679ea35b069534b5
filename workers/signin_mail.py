"""The job that emails a sign-in link (app.directory.signin_mail says how)."""

from __future__ import annotations

from app.directory import signin_mail
from config.settings import load_settings


def send_signin_link(link_id: str) -> str:
    """RQ job: email the invitation or password-reset link `link_id`, if it is still live."""
    return signin_mail.send(load_settings(), link_id)
