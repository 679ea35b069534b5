"""What every process stands on, with no domain knowledge: Postgres connections (`postgres`) and
the web's pool (`pool`), Redis clients, the LISTEN thread, bounded calls, fatal reports,
migrations, the preflight and startup, the RQ queue names, the engine's pass loop and
heartbeat, tokens, request limits, the outbound address policy and the error envelope."""
