"""Alerts: raising (deduplicated per service), acknowledging and closing them, their log, and
the status update pass that tells those already paged when an alert changes."""
