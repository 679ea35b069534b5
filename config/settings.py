"""Klaxon's settings: every environment variable is parsed and validated here, once.

Nothing else in Klaxon reads the environment. A bad value raises `ConfigError`, which names the
variable, what is wrong with the value and the expected form; processes turn it into exit 2.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

import limits

T = TypeVar("T")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Defaults, each with its unit and reason.
DEFAULT_PORT = 5000  # honcho's base port for the first Procfile entry
# Heroku and containers route to $PORT on every interface; `klaxon dev` passes 127.0.0.1.
DEFAULT_BIND_HOST = "0.0.0.0"
DEV_BIND_HOST = "127.0.0.1"  # a laptop's dev system is not for the café's network
DEV_ENV_FILE = "dev.env"  # under the dev data folder: the running dev system's variables
# What `klaxon dev` supplies itself; a command missing one is pointed at its dev.env.
DEV_SUPPLIED = ("DATABASE_URL", "REDIS_URL", "KLAXON_SECRET_KEY")
DEFAULT_PREFLIGHT_TIMEOUT = 20.0  # seconds; well inside Heroku's 60 s port-bind limit
DEFAULT_CHECK_TIMEOUT = 5.0  # seconds; one check, also the health-check budget
DEFAULT_ENGINE_CYCLE = 5.0  # seconds between engine cycles when nothing wakes it
DEFAULT_FATAL_TTL = 24 * 3600  # seconds a klaxon:fatal:* report lives if never cleared
# Days the audit log keeps an event (0: forever): a year and a month covers a yearly review.
DEFAULT_AUDIT_RETENTION_DAYS = 400
MAX_AUDIT_RETENTION_DAYS = 36500
DEFAULT_WORKER_TTL = 30  # seconds; RQ heartbeat budget, so /healthz sees a dead worker fast
DEFAULT_QUEUE_WARN_AGE = 60.0  # seconds; /healthz warns when a queued job waits longer
DEFAULT_BOOT_TIMEOUT = 30.0  # seconds a gunicorn worker may take to load the app
DEFAULT_WEB_CONCURRENCY = 2  # gunicorn worker processes: one per core on a 2-core dyno
DEFAULT_MINUTE_SECONDS = 60.0  # a policy's or rule's "minute"; tests and demos shorten it
DEFAULT_SEND_TIMEOUT = 10.0  # seconds one provider call may take (connect + answer)
DEFAULT_MAX_ATTEMPTS = 5  # sends of one message before it is failed for good
DEFAULT_MESSAGE_GRACE = 15.0  # seconds a queued message may wait before its job is checked
DEFAULT_DELIVERY_BATCH = 20  # messages per delivery job: amortises RQ's per-job cost
DEFAULT_LINK_TTL = 3 * 86400  # seconds an acknowledge/close link stays valid
# Per contact method: at most N messages per W seconds (SMS and voice cost money and annoy).
DEFAULT_THROTTLES = "sms=6/60,voice=3/300,email=30/60,slack=30/60,webhook=600/60"
# Per provider: messages per second at most (0: unlimited). Twilio's default account allows ~1
# SMS/s per number; Slack's chat.postMessage allows ~1/s per channel.
DEFAULT_PROVIDER_RATES = "webhook=0,smtp=50,twilio=10,slack=20"
# Abuse limits (limits' notation, COUNT/PERIOD): generous for people, tight for scripts.
DEFAULT_LIMIT_VERIFY_PER_ADDRESS = "5/hour"  # codes to one address, whoever asks
DEFAULT_LIMIT_VERIFY_PER_USER = "10/hour"  # codes for one user's methods, whatever address
DEFAULT_LIMIT_FAILED_AUTH = "30/minute"  # refused credentials from one client address
DEFAULT_LIMIT_TEST_SENDS = "5/hour"  # test messages to one address (SMS and voice cost money)
# Sign-in attempts, right or wrong: a person retyping a password stays far below these.
DEFAULT_LIMIT_SIGNIN_PER_ADDRESS = "20/minute"  # from one client address, whichever account
DEFAULT_LIMIT_SIGNIN_PER_ACCOUNT = "10/15 minutes"  # for one email address, from anywhere
# Password-reset requests, whether or not the account exists: each one may send an email.
DEFAULT_LIMIT_RESET_PER_ADDRESS = "10/hour"  # from one client address, whichever account
DEFAULT_LIMIT_RESET_PER_ACCOUNT = "3/hour"  # for one email address: a mailbox is not flooded
# Sign-in links (seconds): an invitation waits over a weekend; a reset is used at once.
DEFAULT_INVITATION_TTL = 72 * 3600
DEFAULT_PASSWORD_RESET_TTL = 3600
MAX_SIGNIN_LINK_TTL = 30 * 86400
# Sessions (seconds): idle expiry moves forward with use; the absolute one never does.
DEFAULT_SESSION_IDLE = 12 * 3600  # a night away from the keyboard ends a session
DEFAULT_SESSION_MAX = 7 * 86400  # a week, however busy: then sign in again
MAX_SESSION_SECONDS = 90 * 86400
DEFAULT_PROXY_HOPS = 0  # reverse proxies in front of gunicorn whose X-Forwarded-For we trust
# OpenID Connect sign-in: the whole exchange with the identity provider in one request (discovery,
# token, keys) must end within this many seconds, so an IdP that hangs costs a sign-in, not a
# gunicorn thread for good (gunicorn's own timeout is 30 s).
DEFAULT_OIDC_TIMEOUT = 10.0
DEFAULT_OIDC_SCOPES = "openid email profile"
OIDC_TEAM_ROLES = ("member", "manager")
DEFAULT_TWILIO_API_URL = "https://api.twilio.com"
DEFAULT_SLACK_API_URL = "https://slack.com/api"
DEST_TYPES = ("email", "sms", "voice", "webhook", "slack")
PROVIDERS = ("webhook", "smtp", "twilio", "slack")
# Which provider carries each destination type, and what configures each provider.
PROVIDER_FOR = {
    "email": "smtp",
    "sms": "twilio",
    "voice": "twilio",
    "webhook": "webhook",
    "slack": "slack",
}
PROVIDER_ENV = {
    "smtp": "SMTP_URL and SMTP_FROM",
    "twilio": "TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM_NUMBER",
    "slack": "SLACK_BOT_TOKEN",
}

MIGRATE_MODES = ("auto", "check")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
LOG_FORMATS = ("json", "console")
POSTGRES_SCHEMES = ("postgres", "postgresql")
REDIS_SCHEMES = ("redis", "rediss", "unix")
# How a rediss:// client treats the server's certificate: `required` verifies it (against the
# system's CAs, or KLAXON_REDIS_TLS_CA_FILE); `none` accepts any certificate, for managed Redis
# that serves a self-signed one (Heroku Data for Redis). Off only by an explicit choice.
REDIS_TLS_VERIFY_MODES = ("required", "none")


@dataclass(frozen=True)
class Throttle:
    """At most `count` messages per `window` seconds."""

    count: int
    window: float


@dataclass(frozen=True)
class SmtpSettings:
    url: str = field(repr=False)  # smtp://[user:pass@]host[:port][?starttls=true] or smtps://
    sender: str  # SMTP_FROM


@dataclass(frozen=True)
class TwilioSettings:
    account_sid: str
    auth_token: str = field(repr=False)
    from_number: str  # E.164
    api_url: str


@dataclass(frozen=True)
class SlackSettings:
    bot_token: str = field(repr=False)
    api_url: str
    signing_secret: str | None = field(default=None, repr=False)  # interactive buttons


@dataclass(frozen=True)
class DeliverySettings:
    """How notifications are timed, retried, throttled and sent."""

    minute_seconds: float = DEFAULT_MINUTE_SECONDS
    send_timeout: float = DEFAULT_SEND_TIMEOUT
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    message_grace: float = DEFAULT_MESSAGE_GRACE
    batch: int = DEFAULT_DELIVERY_BATCH
    link_ttl: int = DEFAULT_LINK_TTL
    throttles: Mapping[str, Throttle] = field(default_factory=dict)  # by dest type
    provider_rates: Mapping[str, float] = field(default_factory=dict)  # by provider; 0: none
    smtp: SmtpSettings | None = None
    twilio: TwilioSettings | None = None
    slack: SlackSettings | None = None
    # Internal networks webhook URLs may reach anyway (KLAXON_WEBHOOK_ALLOW_CIDRS).
    webhook_allow: tuple[Network, ...] = ()

    def configured(self, provider: str) -> bool:
        """Whether `provider` can send: webhooks always can, the others need credentials."""
        return provider == "webhook" or getattr(self, provider) is not None


@dataclass(frozen=True)
class RedisTls:
    """Certificate checks of `rediss://` connections (ignored for redis:// and unix://)."""

    verify: str = "required"  # KLAXON_REDIS_TLS_VERIFY: required or none
    ca_file: str | None = None  # KLAXON_REDIS_TLS_CA_FILE: PEM bundle to verify against


@dataclass(frozen=True)
class LimitSettings:
    """Abuse limits, each in limits' notation (e.g. `5/hour`), validated at startup."""

    verify_per_address: str = DEFAULT_LIMIT_VERIFY_PER_ADDRESS
    verify_per_user: str = DEFAULT_LIMIT_VERIFY_PER_USER
    failed_auth: str = DEFAULT_LIMIT_FAILED_AUTH
    test_sends: str = DEFAULT_LIMIT_TEST_SENDS
    signin_per_address: str = DEFAULT_LIMIT_SIGNIN_PER_ADDRESS
    signin_per_account: str = DEFAULT_LIMIT_SIGNIN_PER_ACCOUNT
    reset_per_address: str = DEFAULT_LIMIT_RESET_PER_ADDRESS
    reset_per_account: str = DEFAULT_LIMIT_RESET_PER_ACCOUNT
    proxy_hops: int = DEFAULT_PROXY_HOPS


@dataclass(frozen=True)
class SessionSettings:
    """How long a sign-in lasts, in seconds (KLAXON_SESSION_IDLE, KLAXON_SESSION_MAX)."""

    idle: int = DEFAULT_SESSION_IDLE
    max: int = DEFAULT_SESSION_MAX
    # How long an emailed sign-in link lives (KLAXON_INVITATION_TTL, KLAXON_PASSWORD_RESET_TTL).
    invitation_ttl: int = DEFAULT_INVITATION_TTL
    password_reset_ttl: int = DEFAULT_PASSWORD_RESET_TTL


@dataclass(frozen=True)
class OidcTeamGroup:
    """Members of IdP group `group` are `role` (member or manager) of the team named `team`."""

    group: str
    team: str
    role: str


@dataclass(frozen=True)
class OidcSettings:
    """OpenID Connect sign-in (KLAXON_OIDC_*); absent from Settings when not configured."""

    issuer: str  # exactly as the IdP's tokens name it (`iss`)
    client_id: str
    client_secret: str | None = field(repr=False)  # None: a public client (PKCE only)
    name: str  # shown as "Sign in with <name>"
    scopes: str  # space-separated, always with `openid`
    allowed_domains: tuple[str, ...]  # lowercased; first sign-in creates users only from these
    groups_claim: str | None  # a claim name; dots walk into objects (realm_access.roles)
    admin_groups: tuple[str, ...]
    team_groups: tuple[OidcTeamGroup, ...]
    timeout: float  # seconds for every IdP call of one request together


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable and expected form."""

    def __init__(self, variable: str, problem: str, expected: str) -> None:
        self.variable = variable
        self.expected = expected
        super().__init__(f"{variable}: {problem}; expected {expected}")


@dataclass(frozen=True)
class Settings:
    """Validated configuration of one Klaxon process."""

    database_url: str
    database_listen_url: str
    redis_url: str
    port: int
    bind_host: str
    preflight_timeout: float
    check_timeout: float
    migrate: str
    secret_key: str = field(repr=False)
    public_url: str
    log_level: str
    log_format: str
    engine_cycle: float
    fatal_ttl: int
    worker_ttl: int
    queue_warn_age: float
    boot_timeout: float
    web_concurrency: int
    instance: str
    dev: bool = False
    delivery: DeliverySettings = field(default_factory=DeliverySettings)
    redis_tls: RedisTls = field(default_factory=RedisTls)
    limits: LimitSettings = field(default_factory=LimitSettings)
    sessions: SessionSettings = field(default_factory=SessionSettings)
    audit_retention_days: int = DEFAULT_AUDIT_RETENTION_DAYS
    oidc: OidcSettings | None = None

    def redacted(self) -> dict[str, object]:
        """The settings with credentials removed, safe to log."""
        return {
            "database_url": redact_url(self.database_url),
            "database_listen_url": redact_url(self.database_listen_url),
            "redis_url": redact_url(self.redis_url),
            "redis_tls_verify": self.redis_tls.verify,
            "port": self.port,
            "bind_host": self.bind_host,
            "preflight_timeout": self.preflight_timeout,
            "check_timeout": self.check_timeout,
            "migrate": self.migrate,
            "public_url": self.public_url,
            "engine_cycle": self.engine_cycle,
            "instance": self.instance,
            "minute_seconds": self.delivery.minute_seconds,
            "providers": [p for p in PROVIDERS if self.delivery.configured(p)],
            "webhook_allow_cidrs": [str(network) for network in self.delivery.webhook_allow],
            "oidc_issuer": self.oidc.issuer if self.oidc else None,
        }


def redact_url(url: str) -> str:
    """Return `url` with any password replaced by `***`."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def load_settings(env: Mapping[str, str] | None = None, *, dev: bool = False) -> Settings:
    """Parse and validate settings from `env` (default: the process environment)."""
    env = os.environ if env is None else env
    try:
        return _load_settings(env, dev)
    except ConfigError as exc:
        hint = dev_env_hint(env) if exc.variable in DEV_SUPPLIED else None
        if hint is None or "is not set" not in str(exc):
            raise
        raise ConfigError(exc.variable, "is not set", f"{exc.expected}; {hint}") from None


def _load_settings(env: Mapping[str, str], dev: bool) -> Settings:
    reader = _Reader(env)
    database_url = reader.url("DATABASE_URL", POSTGRES_SCHEMES, "postgresql://user:pass@host/db")
    redis_url = reader.url("REDIS_URL", REDIS_SCHEMES, "redis://host:6379/0")
    port = reader.integer("PORT", DEFAULT_PORT, 1, 65535)
    preflight_timeout = reader.seconds("KLAXON_PREFLIGHT_TIMEOUT", DEFAULT_PREFLIGHT_TIMEOUT)
    check_timeout = reader.seconds("KLAXON_CHECK_TIMEOUT", DEFAULT_CHECK_TIMEOUT)
    if check_timeout > preflight_timeout:
        raise ConfigError(
            "KLAXON_CHECK_TIMEOUT",
            f"{check_timeout:g}s is longer than KLAXON_PREFLIGHT_TIMEOUT ({preflight_timeout:g}s)",
            "a check timeout no longer than the whole preflight budget",
        )
    return Settings(
        database_url=database_url,
        database_listen_url=reader.url(
            "DATABASE_LISTEN_URL",
            POSTGRES_SCHEMES,
            "postgresql://user:pass@host/db (a direct, unpooled connection)",
            default=database_url,
        ),
        redis_url=redis_url,
        port=port,
        bind_host=reader.ip_address("KLAXON_BIND_HOST", DEFAULT_BIND_HOST),
        preflight_timeout=preflight_timeout,
        check_timeout=check_timeout,
        migrate=reader.choice("KLAXON_MIGRATE", MIGRATE_MODES, "auto"),
        secret_key=reader.secret_key(dev),
        public_url=reader.public_url(port),
        log_level=reader.choice("LOG_LEVEL", LOG_LEVELS, "info"),
        log_format=reader.choice("LOG_FORMAT", LOG_FORMATS, _default_log_format()),
        engine_cycle=reader.seconds("KLAXON_ENGINE_CYCLE", DEFAULT_ENGINE_CYCLE),
        fatal_ttl=reader.integer("KLAXON_FATAL_TTL", DEFAULT_FATAL_TTL, 1, 30 * 86400),
        worker_ttl=reader.integer("KLAXON_WORKER_TTL", DEFAULT_WORKER_TTL, 5, 600),
        queue_warn_age=reader.seconds("KLAXON_QUEUE_WARN_AGE", DEFAULT_QUEUE_WARN_AGE),
        boot_timeout=reader.seconds("KLAXON_BOOT_TIMEOUT", DEFAULT_BOOT_TIMEOUT),
        web_concurrency=reader.integer("WEB_CONCURRENCY", DEFAULT_WEB_CONCURRENCY, 1, 64),
        instance=instance_name(env),
        dev=dev,
        delivery=_delivery(reader),
        redis_tls=_redis_tls(reader),
        limits=_limits(reader),
        sessions=_sessions(reader),
        audit_retention_days=reader.integer(
            "KLAXON_AUDIT_RETENTION_DAYS", DEFAULT_AUDIT_RETENTION_DAYS, 0, MAX_AUDIT_RETENTION_DAYS
        ),
        oidc=_oidc(reader),
    )


def _sessions(reader: _Reader) -> SessionSettings:
    idle = reader.integer("KLAXON_SESSION_IDLE", DEFAULT_SESSION_IDLE, 1, MAX_SESSION_SECONDS)
    longest = reader.integer("KLAXON_SESSION_MAX", DEFAULT_SESSION_MAX, 1, MAX_SESSION_SECONDS)
    if idle > longest:
        raise ConfigError(
            "KLAXON_SESSION_IDLE",
            f"{idle} s is longer than KLAXON_SESSION_MAX ({longest} s)",
            "an idle expiry no longer than the absolute one",
        )
    return SessionSettings(
        idle=idle,
        max=longest,
        invitation_ttl=reader.integer(
            "KLAXON_INVITATION_TTL", DEFAULT_INVITATION_TTL, 1, MAX_SIGNIN_LINK_TTL
        ),
        password_reset_ttl=reader.integer(
            "KLAXON_PASSWORD_RESET_TTL", DEFAULT_PASSWORD_RESET_TTL, 1, MAX_SIGNIN_LINK_TTL
        ),
    )


def _limits(reader: _Reader) -> LimitSettings:
    return LimitSettings(
        verify_per_address=reader.rate_limit(
            "KLAXON_LIMIT_VERIFY_PER_ADDRESS", DEFAULT_LIMIT_VERIFY_PER_ADDRESS
        ),
        verify_per_user=reader.rate_limit(
            "KLAXON_LIMIT_VERIFY_PER_USER", DEFAULT_LIMIT_VERIFY_PER_USER
        ),
        failed_auth=reader.rate_limit("KLAXON_LIMIT_FAILED_AUTH", DEFAULT_LIMIT_FAILED_AUTH),
        test_sends=reader.rate_limit("KLAXON_LIMIT_TEST_SENDS", DEFAULT_LIMIT_TEST_SENDS),
        signin_per_address=reader.rate_limit(
            "KLAXON_LIMIT_SIGNIN_PER_ADDRESS", DEFAULT_LIMIT_SIGNIN_PER_ADDRESS
        ),
        signin_per_account=reader.rate_limit(
            "KLAXON_LIMIT_SIGNIN_PER_ACCOUNT", DEFAULT_LIMIT_SIGNIN_PER_ACCOUNT
        ),
        reset_per_address=reader.rate_limit(
            "KLAXON_LIMIT_RESET_PER_ADDRESS", DEFAULT_LIMIT_RESET_PER_ADDRESS
        ),
        reset_per_account=reader.rate_limit(
            "KLAXON_LIMIT_RESET_PER_ACCOUNT", DEFAULT_LIMIT_RESET_PER_ACCOUNT
        ),
        proxy_hops=reader.integer("KLAXON_PROXY_HOPS", DEFAULT_PROXY_HOPS, 0, 5),
    )


def _redis_tls(reader: _Reader) -> RedisTls:
    verify = reader.choice("KLAXON_REDIS_TLS_VERIFY", REDIS_TLS_VERIFY_MODES, "required")
    ca_file = reader.raw("KLAXON_REDIS_TLS_CA_FILE") or None
    if ca_file is None:
        return RedisTls(verify=verify)
    if verify == "none":
        raise ConfigError(
            "KLAXON_REDIS_TLS_CA_FILE",
            "is set while KLAXON_REDIS_TLS_VERIFY=none turns verification off",
            "either a CA file (verification on) or KLAXON_REDIS_TLS_VERIFY=none, not both",
        )
    if not os.access(ca_file, os.R_OK) or not os.path.isfile(ca_file):
        raise ConfigError(
            "KLAXON_REDIS_TLS_CA_FILE",
            f"{ca_file!r} is not a readable file",
            "the path of a PEM file holding the CA that signed Redis's certificate",
        )
    return RedisTls(verify=verify, ca_file=ca_file)


def _delivery(reader: _Reader) -> DeliverySettings:
    return DeliverySettings(
        minute_seconds=reader.seconds("KLAXON_MINUTE_SECONDS", DEFAULT_MINUTE_SECONDS),
        send_timeout=reader.seconds("KLAXON_SEND_TIMEOUT", DEFAULT_SEND_TIMEOUT),
        max_attempts=reader.integer("KLAXON_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS, 1, 50),
        message_grace=reader.seconds("KLAXON_MESSAGE_GRACE", DEFAULT_MESSAGE_GRACE),
        batch=reader.integer("KLAXON_DELIVERY_BATCH", DEFAULT_DELIVERY_BATCH, 1, 500),
        link_ttl=reader.integer("KLAXON_LINK_TTL", DEFAULT_LINK_TTL, 60, 30 * 86400),
        throttles=reader.throttles("KLAXON_THROTTLE", DEFAULT_THROTTLES),
        provider_rates=reader.rates("KLAXON_PROVIDER_RATE", DEFAULT_PROVIDER_RATES),
        smtp=_smtp(reader),
        twilio=_twilio(reader),
        slack=_slack(reader),
        webhook_allow=reader.networks("KLAXON_WEBHOOK_ALLOW_CIDRS"),
    )


def _smtp(reader: _Reader) -> SmtpSettings | None:
    url = reader.url(
        "SMTP_URL",
        ("smtp", "smtps"),
        "smtp://user:pass@host:587?starttls=true or smtps://user:pass@host:465",
        default="",
    )
    if not url:
        return None
    sender = reader.raw("SMTP_FROM") or ""
    if "@" not in sender or any(ch in sender for ch in "\r\n"):
        raise ConfigError(
            "SMTP_FROM",
            "is not set" if not sender else f"{sender!r} is not an address",
            "the From address of notification emails, e.g. Klaxon <klaxon@example.com>",
        )
    return SmtpSettings(url=url, sender=sender)


def _twilio(reader: _Reader) -> TwilioSettings | None:
    sid = reader.raw("TWILIO_ACCOUNT_SID") or ""
    token = reader.raw("TWILIO_AUTH_TOKEN") or ""
    number = reader.raw("TWILIO_FROM_NUMBER") or ""
    if not (sid or token or number):
        return None
    for name, value, form in (
        ("TWILIO_ACCOUNT_SID", sid, "your account SID (AC…)"),
        ("TWILIO_AUTH_TOKEN", token, "your account's auth token"),
        ("TWILIO_FROM_NUMBER", number, "the sending number in E.164 form, e.g. +15551234567"),
    ):
        if not value:
            raise ConfigError(name, "is not set (the other TWILIO_ settings are)", form)
    if not re.fullmatch(r"\+[1-9][0-9]{6,14}", number):
        raise ConfigError(
            "TWILIO_FROM_NUMBER", f"{number!r} is not an E.164 number", "e.g. +15551234567"
        )
    api_url = reader.url(
        "TWILIO_API_URL",
        ("http", "https"),
        "https://api.twilio.com",
        default=DEFAULT_TWILIO_API_URL,
    )
    return TwilioSettings(sid, token, number, api_url.rstrip("/"))


def _slack(reader: _Reader) -> SlackSettings | None:
    token = reader.raw("SLACK_BOT_TOKEN") or ""
    if not token:
        return None
    api_url = reader.url(
        "SLACK_API_URL", ("http", "https"), "https://slack.com/api", default=DEFAULT_SLACK_API_URL
    )
    return SlackSettings(token, api_url.rstrip("/"), reader.raw("SLACK_SIGNING_SECRET") or None)


OIDC_OPTIONAL = (
    "KLAXON_OIDC_CLIENT_SECRET",
    "KLAXON_OIDC_NAME",
    "KLAXON_OIDC_SCOPES",
    "KLAXON_OIDC_ALLOWED_DOMAINS",
    "KLAXON_OIDC_GROUPS_CLAIM",
    "KLAXON_OIDC_ADMIN_GROUPS",
    "KLAXON_OIDC_TEAM_GROUPS",
    "KLAXON_OIDC_TIMEOUT",
)
_DOMAIN = re.compile(r"(?=.{1,253}\Z)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9-]{1,63}")
_CLAIM = re.compile(r"[A-Za-z0-9_:/.-]{1,200}")
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


def _oidc(reader: _Reader) -> OidcSettings | None:
    """OpenID Connect sign-in: KLAXON_OIDC_ISSUER and KLAXON_OIDC_CLIENT_ID together turn it on;
    any other KLAXON_OIDC_* without them is an error, never silently ignored."""
    issuer = reader.raw("KLAXON_OIDC_ISSUER") or ""
    client_id = (reader.raw("KLAXON_OIDC_CLIENT_ID") or "").strip()
    if not issuer:
        stray = [name for name in ("KLAXON_OIDC_CLIENT_ID", *OIDC_OPTIONAL) if reader.raw(name)]
        if stray:
            raise ConfigError(
                "KLAXON_OIDC_ISSUER",
                f"is not set, but {', '.join(stray)} is",
                "the identity provider's issuer URL (e.g. https://accounts.google.com), or no "
                "KLAXON_OIDC_* setting at all",
            )
        return None
    issuer = _oidc_issuer(reader)
    if not client_id:
        raise ConfigError(
            "KLAXON_OIDC_CLIENT_ID",
            "is not set (KLAXON_OIDC_ISSUER is)",
            "the client id Klaxon is registered under at the identity provider",
        )
    groups_claim = _oidc_claim(reader)
    admin_groups = reader.names("KLAXON_OIDC_ADMIN_GROUPS")
    team_groups = _oidc_team_groups(reader)
    for name, used in (
        ("KLAXON_OIDC_ADMIN_GROUPS", admin_groups),
        ("KLAXON_OIDC_TEAM_GROUPS", team_groups),
    ):
        if used and groups_claim is None:
            raise ConfigError(
                name,
                "is set without KLAXON_OIDC_GROUPS_CLAIM",
                "KLAXON_OIDC_GROUPS_CLAIM naming the ID token claim that lists a user's groups",
            )
    return OidcSettings(
        issuer=issuer,
        client_id=client_id,
        client_secret=reader.raw("KLAXON_OIDC_CLIENT_SECRET") or None,
        name=(reader.raw("KLAXON_OIDC_NAME") or "").strip()[:100]
        or (urlsplit(issuer).hostname or issuer),
        scopes=_oidc_scopes(reader),
        allowed_domains=_oidc_domains(reader),
        groups_claim=groups_claim,
        admin_groups=admin_groups,
        team_groups=team_groups,
        timeout=reader.seconds("KLAXON_OIDC_TIMEOUT", DEFAULT_OIDC_TIMEOUT),
    )


def _oidc_issuer(reader: _Reader) -> str:
    form = "https://host[/path] (http only on localhost), exactly as the provider's tokens name it"
    issuer = reader.url("KLAXON_OIDC_ISSUER", ("http", "https"), form)
    parts = urlsplit(issuer)
    if parts.query or parts.fragment:
        raise ConfigError("KLAXON_OIDC_ISSUER", "has a query or fragment", form)
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        # Tokens, codes and the provider's keys would cross the network in clear text.
        raise ConfigError("KLAXON_OIDC_ISSUER", "is http:// on a host other than localhost", form)
    return issuer


def _oidc_claim(reader: _Reader) -> str | None:
    claim = (reader.raw("KLAXON_OIDC_GROUPS_CLAIM") or "").strip()
    if not claim:
        return None
    if not _CLAIM.fullmatch(claim) or "" in claim.split("."):
        raise ConfigError(
            "KLAXON_OIDC_GROUPS_CLAIM",
            f"{claim!r} is not a claim name",
            "a claim name such as groups, or a dotted path such as realm_access.roles",
        )
    return claim


def _oidc_scopes(reader: _Reader) -> str:
    scopes = (reader.raw("KLAXON_OIDC_SCOPES") or DEFAULT_OIDC_SCOPES).split()
    form = "space-separated scopes including openid, e.g. openid email profile groups"
    if "openid" not in scopes or not all(re.fullmatch(r"[!#-\[\]-~]{1,100}", s) for s in scopes):
        raise ConfigError("KLAXON_OIDC_SCOPES", f"{' '.join(scopes)!r} is not accepted", form)
    return " ".join(dict.fromkeys(scopes))


def _oidc_domains(reader: _Reader) -> tuple[str, ...]:
    domains = []
    for item in reader.names("KLAXON_OIDC_ALLOWED_DOMAINS"):
        domain = item.lower().removeprefix("@")
        if not _DOMAIN.fullmatch(domain):
            raise ConfigError(
                "KLAXON_OIDC_ALLOWED_DOMAINS",
                f"{item!r} is not a domain",
                "comma-separated email domains, e.g. example.com,example.org",
            )
        domains.append(domain)
    return tuple(dict.fromkeys(domains))


def _oidc_team_groups(reader: _Reader) -> tuple[OidcTeamGroup, ...]:
    """`group=Team[:member|:manager],…`; the role defaults to member."""
    form = (
        "comma-separated group=Team or group=Team:manager, e.g. "
        "oncall-db=Databases,oncall-db-leads=Databases:manager"
    )
    found: list[OidcTeamGroup] = []
    for item in reader.names("KLAXON_OIDC_TEAM_GROUPS"):
        group, sep, target = item.partition("=")
        team, role = target.strip(), "member"
        head, colon, tail = team.rpartition(":")
        if colon and tail.strip() in OIDC_TEAM_ROLES:
            team, role = head.strip(), tail.strip()
        if not sep or not group.strip() or not team or len(team) > 200:
            raise ConfigError("KLAXON_OIDC_TEAM_GROUPS", f"{item!r} is not understood", form)
        found.append(OidcTeamGroup(group.strip(), team, role))
    return tuple(dict.fromkeys(found))


def _default_log_format() -> str:
    try:
        return "console" if os.isatty(1) else "json"
    except OSError:
        return "json"


class _Reader:
    """Reads one variable at a time, raising ConfigError with the variable's name."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def raw(self, name: str) -> str | None:
        """The value of `name` or of the file named by `name_FILE` (for secrets)."""
        value = self.env.get(name)
        file_name = self.env.get(f"{name}_FILE")
        if value is not None and file_name is not None:
            raise ConfigError(name, f"both {name} and {name}_FILE are set", "only one of them")
        if file_name is not None:
            try:
                with open(file_name, encoding="utf-8") as fh:
                    return fh.read().strip()
            except OSError as exc:
                raise ConfigError(
                    f"{name}_FILE", f"cannot read {file_name!r} ({exc.strerror})", "a readable file"
                ) from None
        return value

    def url(
        self, name: str, schemes: tuple[str, ...], form: str, default: str | None = None
    ) -> str:
        value = self.raw(name)
        if value is None or value == "":
            if default is not None:
                return default
            raise ConfigError(name, "is not set", form)
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 - raises ValueError on a malformed port
        except ValueError:
            raise ConfigError(name, "is not a valid URL", form) from None
        if parts.scheme not in schemes:
            shown = parts.scheme or "no scheme"
            raise ConfigError(name, f"has scheme {shown!r}", f"{' or '.join(schemes)}: {form}")
        if parts.scheme != "unix" and not parts.netloc and "host=" not in parts.query:
            raise ConfigError(name, "has no host", form)
        return value

    def public_url(self, port: int) -> str:
        """KLAXON_PUBLIC_URL without a trailing slash; default web's own localhost URL."""
        return self.url(
            "KLAXON_PUBLIC_URL",
            ("http", "https"),
            "http(s)://host[:port]",
            default=f"http://localhost:{port}",
        ).rstrip("/")

    def ip_address(self, name: str, default: str) -> str:
        value = self.raw(name)
        if value is None or value == "":
            return default
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            raise ConfigError(
                name, f"{value!r} is not an IP address", "e.g. 0.0.0.0, 127.0.0.1 or ::"
            ) from None

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        value = self.raw(name)
        if value is None or value == "":
            return default
        try:
            number = int(value)
        except ValueError:
            raise ConfigError(name, f"{value!r} is not a whole number", f"{low}..{high}") from None
        if not low <= number <= high:
            raise ConfigError(name, f"{number} is out of range", f"{low}..{high}")
        return number

    def seconds(self, name: str, default: float) -> float:
        value = self.raw(name)
        if value is None or value == "":
            return default
        try:
            number = float(value)
        except ValueError:
            raise ConfigError(
                name, f"{value!r} is not a number", "seconds, e.g. 5 or 0.5"
            ) from None
        if not 0 < number <= 3600:
            raise ConfigError(
                name, f"{value!r} is out of range", "seconds, more than 0, at most 3600"
            )
        return number

    def throttles(self, name: str, default: str) -> dict[str, Throttle]:
        """`type=count/seconds,…`, e.g. `sms=6/60`; types not named keep their default."""
        form = (
            f"comma-separated type=count/seconds with types {', '.join(DEST_TYPES)}, e.g. sms=6/60"
        )
        return dict(self._pairs(name, default, DEST_TYPES, form, self._throttle))

    def rates(self, name: str, default: str) -> dict[str, float]:
        """`provider=per_second,…`; 0 means unlimited."""
        form = (
            "comma-separated provider=messages_per_second with providers "
            f"{', '.join(PROVIDERS)}, e.g. twilio=10"
        )
        return dict(self._pairs(name, default, PROVIDERS, form, self._rate))

    def _pairs(
        self,
        name: str,
        default: str,
        keys: tuple[str, ...],
        form: str,
        parse: Callable[[str], T | None],
    ) -> Iterable[tuple[str, T]]:
        merged: dict[str, T] = {}
        for source in (default, self.raw(name) or ""):
            for item in filter(None, (part.strip() for part in source.split(","))):
                key, sep, value = item.partition("=")
                key = key.strip().lower()
                if not sep or key not in keys:
                    raise ConfigError(name, f"{item!r} is not understood", form)
                parsed = parse(value.strip())
                if parsed is None:
                    raise ConfigError(name, f"{item!r} has a bad value", form)
                merged[key] = parsed
        return merged.items()

    @staticmethod
    def _throttle(value: str) -> Throttle | None:
        count, sep, window = value.partition("/")
        try:
            throttle = Throttle(int(count), float(window))
        except ValueError:
            return None
        if not sep or throttle.count < 1 or not 0 < throttle.window <= 86400:
            return None
        return throttle

    @staticmethod
    def _rate(value: str) -> float | None:
        try:
            rate = float(value)
        except ValueError:
            return None
        return rate if 0 <= rate <= 10000 else None

    def networks(self, name: str) -> tuple[Network, ...]:
        """Comma-separated CIDRs, e.g. `10.0.0.0/8,fd00::/8`; unset or empty: none."""
        networks: list[Network] = []
        for item in filter(None, (part.strip() for part in (self.raw(name) or "").split(","))):
            try:
                networks.append(ipaddress.ip_network(item, strict=True))
            except ValueError as exc:
                raise ConfigError(
                    name,
                    f"{item!r} is not a network ({exc})",
                    "comma-separated CIDRs, e.g. 10.1.0.0/16,fd00::/8 (host bits zero)",
                ) from None
        return tuple(networks)

    def names(self, name: str) -> tuple[str, ...]:
        """A comma-separated list of non-empty items, trimmed; unset or empty: none."""
        items = (part.strip() for part in (self.raw(name) or "").split(","))
        return tuple(item for item in items if item)

    def rate_limit(self, name: str, default: str) -> str:
        """One limit in limits' notation, `COUNT/PERIOD` (second, minute, hour or day)."""
        value = (self.raw(name) or default).strip()
        form = "COUNT/PERIOD, e.g. 5/hour or 30/minute (period: second, minute, hour, day)"
        try:
            items = limits.parse_many(value)
        except ValueError:
            raise ConfigError(name, f"{value!r} is not a rate limit", form) from None
        if len(items) != 1:
            raise ConfigError(name, f"{value!r} is not one rate limit", form)
        if items[0].amount < 1:
            raise ConfigError(name, f"{value!r} allows nothing", form)
        return value

    def choice(self, name: str, choices: tuple[str, ...], default: str) -> str:
        value = self.raw(name)
        if value is None or value == "":
            return default
        if value.lower() not in choices:
            raise ConfigError(name, f"{value!r} is not allowed", f"one of {', '.join(choices)}")
        return value.lower()

    def secret_key(self, dev: bool) -> str:
        value = self.raw("KLAXON_SECRET_KEY")
        if not value:
            if dev:
                return ""  # `klaxon dev` supplies a generated key through the environment
            raise ConfigError(
                "KLAXON_SECRET_KEY",
                "is not set",
                "a random string of at least 32 characters (e.g. `openssl rand -hex 32`)",
            )
        if len(value) < 32:
            # The value itself is a secret: only its length is reported.
            raise ConfigError(
                "KLAXON_SECRET_KEY",
                f"is {len(value)} characters long",
                "a random string of at least 32 characters",
            )
        return value


def redis_url_for_reports(env: Mapping[str, str] | None = None) -> str | None:
    """REDIS_URL when it alone is valid, so a process with other bad settings can still report."""
    try:
        return _Reader(os.environ if env is None else env).url(
            "REDIS_URL", REDIS_SCHEMES, "redis://host:6379/0"
        )
    except ConfigError:
        return None


def redis_tls_for_reports(env: Mapping[str, str] | None = None) -> RedisTls:
    """The Redis TLS settings when they alone are valid (else the verifying default)."""
    try:
        return _redis_tls(_Reader(os.environ if env is None else env))
    except ConfigError:
        return RedisTls()


def instance_name(env: Mapping[str, str] | None = None) -> str:
    """This process's instance: $DYNO when set, else the host name (docs/architecture.md,
    Redis keys)."""
    env = os.environ if env is None else env
    return env.get("DYNO") or socket.gethostname()


# `klaxon dev`: honcho gives web PORT, worker PORT+100, engine PORT+200, and each must be a
# valid port for that process's own settings.
DEV_MAX_PORT = 65535 - 200


@dataclass(frozen=True)
class DevSettings:
    """What `klaxon dev` must start or generate itself (docs/architecture.md, Processes): None
    means "not given"."""

    data_dir: Path  # KLAXON_DEV_DIR, default ./.klaxon: embedded servers' data and the secret key
    database_url: str | None  # None: start an embedded Postgres
    redis_url: str | None  # None: start an embedded Redis
    secret_key: str | None = field(repr=False)  # None: generate one and keep it in data_dir
    port: int
    # KLAXON_PUBLIC_URL, default web's own http://localhost:PORT: every child gets the same
    # one, or each would default to its own honcho PORT and put the worker's port in links.
    public_url: str
    bind_host: str  # KLAXON_BIND_HOST, default 127.0.0.1: web listens on this machine only
    log_level: str
    log_format: str


def load_dev_settings(
    env: Mapping[str, str] | None = None, *, port: int | None = None
) -> DevSettings:
    """Settings `klaxon dev` decides with; `port` (from --port) overrides PORT.

    DATABASE_URL, REDIS_URL and KLAXON_SECRET_KEY (or their `_FILE` forms) are validated when
    set; unset, `klaxon dev` supplies them. KLAXON_DEV_DIR is read only here.
    """
    env = os.environ if env is None else env
    reader = _Reader(env)
    if port is None:
        port = reader.integer("PORT", DEFAULT_PORT, 1, DEV_MAX_PORT)
    elif not 1 <= port <= DEV_MAX_PORT:
        raise ConfigError("--port", f"{port} is out of range", f"1..{DEV_MAX_PORT}")
    database_url = reader.url(
        "DATABASE_URL", POSTGRES_SCHEMES, "postgresql://user:pass@host/db", default=""
    )
    redis_url = reader.url("REDIS_URL", REDIS_SCHEMES, "redis://host:6379/0", default="")
    return DevSettings(
        data_dir=dev_data_dir(env),
        database_url=database_url or None,
        redis_url=redis_url or None,
        secret_key=reader.secret_key(dev=True) or None,
        port=port,
        public_url=reader.public_url(port),
        bind_host=reader.ip_address("KLAXON_BIND_HOST", DEV_BIND_HOST),
        log_level=reader.choice("LOG_LEVEL", LOG_LEVELS, "info"),
        log_format=reader.choice("LOG_FORMAT", LOG_FORMATS, _default_log_format()),
    )


def dev_data_dir(env: Mapping[str, str] | None = None) -> Path:
    """`klaxon dev`'s data folder: KLAXON_DEV_DIR, default ./.klaxon."""
    env = os.environ if env is None else env
    return Path(env.get("KLAXON_DEV_DIR") or ".klaxon").expanduser().resolve()


def dev_env_hint(env: Mapping[str, str] | None = None) -> str | None:
    """How to load a `klaxon dev` system's variables, when its dev.env is here to load."""
    path = dev_data_dir(env) / DEV_ENV_FILE
    if not path.is_file():
        return None
    return f"`klaxon dev` keeps its settings in {path}: load them with `set -a; . {path}; set +a`"
