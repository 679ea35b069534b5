"""Audit: the log of every change to configuration (audit_events), who declared it, how it is
read and how long it is kept. The rows are written by the database's own triggers
(migrations/versions/0009_audit_log.py; docs/architecture.md, Audit log)."""
