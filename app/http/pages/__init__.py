"""The web app: server-rendered pages (Jinja2 templates under app/http/templates/pages) made
interactive with htmx, vendored under app/http/static/vendor (README, Web app).

One module per page group: `signin_page` (/login, /logout), `alert_list` (/alerts and its
live fragment and bulk actions), `alert_detail` (/alerts/<id> and its actions), `profile` with
`profile_contacts` and `profile_access` (/profile and its forms, sharing `profile_forms`).
`policy_list`, `policies` and `policy_steps` (/escalation-policies, a policy's page, its step
editor and target picker); `rotations` and `rotation_changes` (/rotations, a rotation's page
and its forms); `schedules` (/schedules, /schedules/<id>) with `schedule_edits` (its forms),
`schedule_calendar` (the calendar's layout by local days) and `schedule_blocks` (a shift's
block); `swaps` and `swap_forms` (/swaps and a schedule's shift swaps). The
administration pages (/admin/..., admins only) are `admin_people`, `admin_teams`,
`admin_keys`, `admin_audit` and `admin_system`, sharing `admin_base`; `one_showing` shows a new
secret once across a redirect. `base` holds what every page shares: the blueprint, who is
signed in, the CSRF token, the security headers. Pages call the same domain functions and
permission rules as /api/v1; none has its own.
"""

from __future__ import annotations

from flask import Flask


def register_pages(app: Flask) -> None:
    """Mount the web app's pages and static files on `app`."""
    from app.http.pages import (  # noqa: F401 (their routes)
        admin_audit,
        admin_keys,
        admin_people,
        admin_system,
        admin_teams,
        alert_detail,
        alert_list,
        on_call,
        policies,
        policy_list,
        policy_steps,
        profile,
        profile_access,
        profile_contacts,
        rotation_changes,
        rotations,
        schedule_edits,
        schedules,
        services,
        signin_page,
        swap_forms,
        swaps,
    )
    from app.http.pages.base import pages_blueprint

    app.register_blueprint(pages_blueprint)
