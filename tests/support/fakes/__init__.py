"""Local stand-ins for the outside world (webhook receivers, SMTP, Twilio, Slack), for tests.

Each is a real server on 127.0.0.1 with a port of its own, owned by a fixture that stops it.
"""
