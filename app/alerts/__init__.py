"""Alerts and the state each one carries: `store` (the alert: raise, dedup, status), `log` (what
happened to it), `escalation_state` (where it is in its policy), `engagements` (who is paged).
Each module owns its table (docs/architecture.md, Domain map); the passes that act on this
state live with their domains and call these modules or compose their SQL fragments.
"""
