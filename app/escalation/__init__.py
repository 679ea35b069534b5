"""Escalation: policies as they stand, which step fires when, who a step engages.

`policies` is the policies' store (steps, targets, what a change does to escalating alerts);
`policy_snapshot` loads them as plain values in one query per engine pass; `steps` is a pure
decision (no I/O) the engine passes apply with set-based SQL; `targets` resolves a step's
targets to users at the instant the step fires. The passes: `escalation_pass` fires due steps,
`notification_pass` pages engaged users through their notification rules
(`app.contacts.notification_plan` decides which are due), `status_update_pass` tells those
already paged that an alert was acknowledged or closed. The per-alert state they write
(escalation state, engagements, log entries) is owned by app.alerts.
"""
