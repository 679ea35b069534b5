"""Every HTTP entry point, and nothing else: the Flask app factory (`web`), the REST API
(`api/`), ingest, acknowledge links (`actions`), Twilio and Slack callbacks, health, metrics
and the admin pages. Views parse, authenticate and answer; the SQL they need lives in the
domain packages (docs/architecture.md, Layout)."""
