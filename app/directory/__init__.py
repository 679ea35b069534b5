"""Directory: who and what Klaxon knows — users, services, their integration keys and heartbeat
monitors, and API keys. Each module owns its table (docs/architecture.md, Domain map)."""
