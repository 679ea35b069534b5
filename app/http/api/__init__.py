"""The management REST API under /api/v1 (README, REST API: `/api/v1`).

Every route authenticates with an API key (`Authorization: Bearer klx_…`) or a sign-in session
cookie (app.http.auth): a missing, malformed, unknown or revoked key, or an ended session, is
401, a key whose scope is too small is 403. Scopes nest: read < write < admin; a signed-in admin
user acts with admin, any other user with write, a personal key with the smaller of its scope
and its user's. Beyond the scope, each route states who may use it (app.http.permissions: team
managers change what their team owns, users their own things, admins everything; 403 otherwise);
tests/integration/test_permission_matrix.py holds the whole map.

| route                                              | method                     | scope |
|----------------------------------------------------|----------------------------|-------|
| /openapi.json                                      | GET                        | none  |
| /users, /users/<id>                                | GET                        | read  |
| /users, /users/<id>                                | POST, PATCH, DELETE        | write |
| /services, /services/<id>                          | GET                        | read  |
| /services, /services/<id>                          | POST, PATCH, DELETE        | write |
| /services/<id>/integration-keys[/<key_id>]         | GET                        | read  |
| /services/<id>/integration-keys[/<key_id>]         | POST, DELETE (revokes)     | write |
| /services/<id>/heartbeat-monitors[/<monitor_id>]   | GET                        | read  |
| /services/<id>/heartbeat-monitors[/<monitor_id>]   | POST, PATCH, DELETE        | write |
| /services/<id>/alerts/acknowledge, …/close (bulk)  | POST                       | write |
| /alerts, /alerts/<id>                              | GET                        | read  |
| /alerts/<id>/acknowledge, …/close, …/escalate      | POST                       | write |
| /rotations, /rotations/<id>, …/on-call             | GET                        | read  |
| /rotations, /rotations/<id>                        | POST, PATCH, DELETE        | write |
| /rotations/<id>/advance, …/active                  | POST                       | write |
| /schedules, /schedules/<id>, …/shifts, …/on-call   | GET                        | read  |
| /schedules, /schedules/<id>                        | POST, PATCH, DELETE        | write |
| /schedules/<id>/rules[/<rule_id>]                  | GET                        | read  |
| /schedules/<id>/rules[/<rule_id>]                  | POST, PATCH, DELETE        | write |
| /schedules/<id>/overrides[/<override_id>]          | GET                        | read  |
| /schedules/<id>/overrides[/<override_id>]          | POST, PATCH, DELETE        | write |
| /schedules/<id>/temporary-schedules[/<temp_id>]    | GET                        | read  |
| /schedules/<id>/temporary-schedules[/<temp_id>]    | POST, PATCH, DELETE        | write |
| /schedules/<id>/calendar-subscriptions             | GET                        | read  |
| /schedules/<id>/calendar-subscriptions[/<sub_id>]  | POST, DELETE (revokes)     | write |
| /users/<id>/calendar-subscriptions                 | GET                        | read  |
| /users/<id>/calendar-subscriptions[/<sub_id>]      | POST, DELETE (revokes)     | write |
| /users/<id>/on-call-next                           | GET                        | read  |
| /users/<id>/contact-methods[/<cm_id>]              | GET                        | read  |
| /users/<id>/contact-methods[/<cm_id>]              | POST, PATCH, DELETE        | write |
| /users/<id>/contact-methods/<cm_id>/send-verification, …/verify, …/test | POST  | write |
| /users/<id>/notification-rules[/<rule_id>]         | GET                        | read  |
| /users/<id>/notification-rules[/<rule_id>]         | POST, DELETE               | write |
| /notification-channels, /notification-channels/<id> | GET                       | read  |
| /notification-channels, /notification-channels/<id> | POST, PATCH, DELETE       | write |
| /notification-channels/<id>/test                   | POST                       | write |
| /escalation-policies, /escalation-policies/<id>    | GET                        | read  |
| /escalation-policies, /escalation-policies/<id>    | POST, PATCH, DELETE        | write |
| /services/<id>/on-call                             | GET                        | read  |
| /messages, /messages/<id>                          | GET                        | read  |
| /api-keys, /api-keys/<id>                          | GET                        | read  |
| /api-keys, /api-keys/<id>                          | POST, DELETE (revokes)     | write |
| /teams, /teams/<id>, …/members[/<user_id>]         | GET                        | read  |
| /teams, /teams/<id>, …/members[/<user_id>]         | POST, PATCH, DELETE        | write |
| /me, /me/sessions                                  | GET                        | read  |
| /me/sessions/<id>, /me/password                    | DELETE (revokes), POST     | write |
| /users/<id>/sessions, …/sessions/revoke            | GET, POST                  | admin |
| /audit (the audit log of configuration changes)    | GET                        | admin |
| /invitations, /invitations/<id>                    | GET, POST, DELETE (revokes)| admin |

The OpenAPI document is public: it describes shapes, holds no data, and tooling fetches it
without a key. tests/integration/test_api_auth.py walks the url_map and holds every other
route to this table. Calendar feeds are served outside /api/v1, at `/calendar/<token>.ics`:
calendar clients send no API key, so the subscription token in the URL is the credential
(stored hashed, revocable; see app.http.api.schedules.calendar_feeds).

Conventions: ids are strings; times are RFC 3339 UTC; lists answer
`{"items": [...], "next_cursor": str | null}` (pass `cursor=<next_cursor>`, `limit` 1..200,
default 50). Errors use the JSON envelope of app.platform.errors: bad JSON 400, wrong content
type 415, schema violations 422 naming each field, unknown ids (and malformed ids in paths)
404, unique names/emails 409.

Alert actions move status forward only (triggered → acknowledged → closed). Repeating an action
that already happened (acknowledging an acknowledged alert, closing a closed one) is a 200 no-op
that logs nothing; acknowledging or escalating a closed alert is a 409 `invalid_transition`.
Bulk actions are `POST /services/<id>/alerts/acknowledge` and `…/close`: they act on every open
alert of that service and answer with the ids they changed.
"""

from __future__ import annotations

# Route modules register themselves on the blueprint when imported.
from app.http.api import (  # noqa: F401
    alerts,
    api_keys,
    audit,
    channels,
    contact_methods,
    escalation_policies,
    heartbeat_monitors,
    integration_keys,
    invitations,
    me,
    messages,
    notification_rules,
    openapi,
    rotations,
    schedules,
    services,
    teams,
    user_sessions,
    users,
)
from app.http.api.routing import api_blueprint

__all__ = ["api_blueprint"]
