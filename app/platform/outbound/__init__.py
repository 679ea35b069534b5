"""Where Klaxon's outbound requests to user-supplied URLs may go (webhooks), and the bounded
client for services the operator configured (the identity provider)."""
