"""Escalation: policies as they stand, which step fires when, who a step engages.

`policy` loads policies (steps and targets) in one query per engine pass; `steps` and
`notification_rules` are pure decisions (no I/O) the engine passes apply with set-based SQL;
`targets` resolves a step's targets to users at the instant the step fires. The passes:
`escalation_pass` fires due steps, `notification_pass` pages engaged users through their rules.
"""
