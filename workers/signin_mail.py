"""The jobs that email sign-in links (app.directory.signin_mail says how)."""

from __future__ import annotations

from app.directory import signin_mail
from config.settings import load_settings


def send_signin_link(link_id: str) -> str:
    """RQ job: email the invitation or password-reset link `link_id`, if it is still live."""
    return signin_mail.send(load_settings(), link_id)


def send_password_reset(email: str) -> str:
    """RQ job: make and email a password-reset link for the account with `email`, if any."""
    return signin_mail.reset(load_settings(), email)
