"""Outgoing messages: the durable Postgres state machine every notification goes through."""
