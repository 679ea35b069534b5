"""/api/v1/schedules: who is on call when — rules, overrides, temporary schedules, shifts, feeds.

A schedule's rules put a user or a rotation on call on chosen local weekdays between local
times (end before start wraps past midnight; equal means all day). Overrides add, remove or
replace a user for a span; overlapping overrides are allowed and apply in order of start (ties:
in the order they were made), each acting on the result of those before it (app.oncall.compute).
Temporary schedules replace the rules entirely during their span; of two starting together, the
newer wins.

One module per sub-resource: `schedule` (the schedule itself), `schedule_rules`, `overrides`,
`temporary_schedules`, `on_call` (shifts and who is on call), `calendar_feeds` (calendar
subscriptions and the public `.ics` feed outside /api/v1) and `shift_swaps` (cover asked for
and taken). Their schemas are in
app.http.api.schemas.
"""

from __future__ import annotations

# Importing a module registers its routes. They are imported in the order the routes were
# declared before the split, so the url_map and ROUTES keep their order (hence no sorting here).
# isort: off
from app.http.api.schedules import schedule  # noqa: F401
from app.http.api.schedules import schedule_rules  # noqa: F401
from app.http.api.schedules import overrides  # noqa: F401
from app.http.api.schedules import temporary_schedules  # noqa: F401
from app.http.api.schedules import on_call  # noqa: F401
from app.http.api.schedules import calendar_feeds  # noqa: F401
from app.http.api.schedules import shift_swaps  # noqa: F401
# isort: on
