"""Signing in with OpenID Connect (README, Signing in with OpenID Connect): the identity
provider's discovery document and keys (provider), one sign-in attempt from the authorization
request to a verified ID token (flow), the accounts an identity provider signs in as
(identities, accounts) and the groups claim's rule for teams and the admin role (groups)."""
