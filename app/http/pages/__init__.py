"""The web app: server-rendered pages (Jinja2 templates under app/http/templates/pages) made
interactive with htmx, vendored under app/http/static/vendor (README, Web app).

Schedules: `schedules` (/schedules, /schedules/<id>) with `schedule_edits` (its forms) and
`schedule_calendar` (the calendar's layout by local days).

One module per page group: `signin_page` (/login, /logout), `alert_list` (/alerts and its
live fragment and bulk actions), `alert_detail` (/alerts/<id> and its actions), `profile` with
`profile_contacts` and `profile_access` (/profile and its forms, sharing `profile_forms`).
`base` holds what every page shares: the blueprint, who is signed in, the CSRF token, the
security headers. Pages call the same domain functions and permission rules as /api/v1; none
has its own.
"""

from __future__ import annotations

from flask import Flask


def register_pages(app: Flask) -> None:
    """Mount the web app's pages and static files on `app`."""
    from app.http.pages import (  # noqa: F401 (their routes)
        alert_detail,
        alert_list,
        on_call,
        profile,
        profile_access,
        profile_contacts,
        schedule_edits,
        schedules,
        services,
        signin_page,
    )
    from app.http.pages.base import pages_blueprint

    app.register_blueprint(pages_blueprint)
