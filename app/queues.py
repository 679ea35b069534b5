"""Klaxon's RQ queue names (DESIGN §3.2: prefixed `klaxon-`, so rq-dashboard shows them)."""

NOTIFY_QUEUE = "klaxon-notify"  # outgoing notifications: the queue that must always have a worker
DEFAULT_QUEUE = "klaxon-default"  # other background jobs
ALL_QUEUES = (NOTIFY_QUEUE, DEFAULT_QUEUE)
