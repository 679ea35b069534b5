"""Klaxon's RQ queues, and what the dispatcher (which enqueues) and the worker (which runs the
jobs) must agree on.

Queue names are prefixed `klaxon-`, so rq-dashboard shows them apart from other applications'
(README, Operations).
"""

NOTIFY_QUEUE = "klaxon-notify"  # outgoing notifications: the queue that must always have a worker
DEFAULT_QUEUE = "klaxon-default"  # other background jobs
ALL_QUEUES = (NOTIFY_QUEUE, DEFAULT_QUEUE)

# The delivery job that sends a batch of messages (enqueued by name: a worker imports it).
DELIVERY_JOB = "workers.delivery.deliver"
MAX_THREADS = 16  # concurrent sends per job: enough for a batch, few enough for a small dyno
# Emails a sign-in link (an invitation) by the link's id.
SIGNIN_LINK_JOB = "workers.signin_mail.send_signin_link"
# Makes and emails a password-reset link for an email address, if an account has it.
PASSWORD_RESET_JOB = "workers.signin_mail.send_password_reset"
