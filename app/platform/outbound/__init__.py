"""Where Klaxon's outbound requests to user-supplied URLs may go (webhooks)."""
