"""The demo `klaxon dev` sets up once the system is healthy: the demo dataset
(app.commands.demo_data: people who can sign in to the web app, teams, services, schedules,
alerts), an admin API key and a service "Demo service" with a generic integration key, plus the
`curl` commands to try them.

Klaxon stores only hashes of secrets, so the demo's two secrets live in files under the data
folder (mode 0600) and are reused on the next start while the database still accepts them;
otherwise (a fresh database, a deleted file) new ones are made. The printed commands read the
secrets from those files with `$(cat …)`, so they work as printed and no secret reaches a log.

It also writes `dev.env` there (mode 0600): the variables the running system uses, so that
`klaxon create-user` and friends can be pointed at it from another shell.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import structlog
from psycopg.rows import dict_row

from app.commands import demo_data
from app.directory import api_keys, integration_keys, services
from app.platform import postgres
from app.platform.bounded import run_bounded
from config.settings import Settings, load_settings

log = structlog.get_logger(__name__)

DEMO_SERVICE = "Demo service"
DEMO_DESCRIPTION = "Created by `klaxon dev` for trying Klaxon out."
DEMO_KEY_NAME = "klaxon dev demo"
ADMIN_KEY_FILE = "demo_admin_api_key"
INTEGRATION_TOKEN_FILE = "demo_integration_token"
ENV_FILE = "dev.env"


@dataclass(frozen=True)
class Demo:
    """What the demo consists of and where its secrets are kept."""

    public_url: str
    service_id: str
    integration_key_id: str
    api_key_id: str
    integration_token_file: Path
    admin_key_file: Path
    env_file: Path
    signin_email: str = demo_data.DEMO_EMAIL
    signin_password: str = demo_data.DEMO_PASSWORD

    def raise_alert_command(self) -> str:
        return (
            f"curl -X POST -H 'Accept: application/json' "
            f'-H "Authorization: Bearer $(cat {shlex.quote(str(self.integration_token_file))})" '
            "--data-urlencode 'summary=Test alert from klaxon dev' "
            f"{shlex.quote(self.public_url + '/api/v2/generic/incoming')}"
        )

    def list_alerts_command(self) -> str:
        return (
            f'curl -H "Authorization: Bearer $(cat {shlex.quote(str(self.admin_key_file))})" '
            f"{shlex.quote(self.public_url + '/api/v1/alerts?service_id=' + self.service_id)}"
        )

    def use_env_command(self) -> str:
        return f"set -a; . {shlex.quote(str(self.env_file))}; set +a"

    def log_fields(self) -> dict[str, Any]:
        return {
            "service": DEMO_SERVICE,
            "service_id": self.service_id,
            "integration_key_id": self.integration_key_id,
            "api_key_id": self.api_key_id,
            "raise_alert": self.raise_alert_command(),
            "list_alerts": self.list_alerts_command(),
            "dashboard": f"{self.public_url}/admin/rq/",
            "use_env": self.use_env_command(),
            "web_app": f"{self.public_url}/alerts",
            "demo_sign_in": self.signin_email,
        }

    def banner(self) -> str:
        return "\n".join(
            [
                "",
                f"Klaxon is ready at {self.public_url}. For a first try, `klaxon dev` made:",
                f"  - service {DEMO_SERVICE!r} ({self.service_id}) with a generic integration "
                f"key, token in {self.integration_token_file}",
                f"  - an admin API key ({self.api_key_id}), in {self.admin_key_file}",
                "",
                f"Open the web app at {self.public_url}/alerts and sign in as "
                f"{self.signin_email} with password {self.signin_password}",
                "  (demo data: teams, people, services, schedules, alerts; every demo person "
                f"@{demo_data.DEMO_DOMAIN} shares that password)",
                "",
                "Raise a test alert:",
                f"  {self.raise_alert_command()}",
                "List the demo service's alerts:",
                f"  {self.list_alerts_command()}",
                f"Queues and workers: {self.public_url}/admin/rq/ "
                f"(sign in at {self.public_url}/admin/login as an admin user: "
                "klaxon create-user --admin --password-stdin)",
                "Run `klaxon create-user`, `create-service`, … against it from another shell:",
                f"  {self.use_env_command()}",
                "",
            ]
        )


def announce_demo(env: Mapping[str, str], data_dir: Path) -> Demo | None:
    """Set up the demo for the system running with `env`; log it and print it on stderr.

    Never raises: the demo is a convenience, and `klaxon dev` runs on without it.
    """
    try:
        settings = load_settings(env)
        demo = run_bounded(
            lambda: ensure_demo(settings, data_dir), settings.preflight_timeout, "dev-demo"
        )
        write_env_file(demo.env_file, settings)
    except Exception as exc:
        log.warning("dev_demo_failed", error=postgres.describe_error(exc))
        return None
    log.info("dev_demo", **demo.log_fields())
    sys.stderr.write(demo.banner() + "\n")
    sys.stderr.flush()
    return demo


def ensure_demo(settings: Settings, data_dir: Path) -> Demo:
    """The demo key and service, created or reused (see the module docstring)."""
    try:
        return _ensure_demo(settings, data_dir)
    except psycopg.errors.UniqueViolation:  # another `klaxon dev` on this database made it first
        return _ensure_demo(settings, data_dir)


def _ensure_demo(settings: Settings, data_dir: Path) -> Demo:
    admin_key_file = data_dir / ADMIN_KEY_FILE
    token_file = data_dir / INTEGRATION_TOKEN_FILE
    conn = postgres.connect(
        settings.database_url,
        settings.check_timeout,
        application_name="klaxon-dev",
        row_factory=dict_row,
    )
    try:
        seeded = demo_data.seed(conn)  # first: the demo service below joins the lived-in world
        with conn.transaction():
            api_key_id = _ensure_admin_key(conn, admin_key_file)
        with conn.transaction():
            service_id, integration_key_id = _ensure_integration_key(conn, token_file)
    finally:
        conn.close()
    return Demo(
        settings.public_url,
        service_id,
        integration_key_id,
        api_key_id,
        token_file,
        admin_key_file,
        data_dir / ENV_FILE,
        seeded.email,
        seeded.password,
    )


def _ensure_admin_key(conn: psycopg.Connection[Any], path: Path) -> str:
    """The id of the admin key whose token `path` holds; a new key (and file) if it is unusable."""
    token = read_secret(path)
    if token:
        key = api_keys.verify_api_key(conn, token)
        if key is not None and key.scope == "admin":
            return key.id
    new = api_keys.create_api_key(conn, DEMO_KEY_NAME, "admin")
    write_secret(path, new["key"])
    log.info("dev_demo_api_key_created", api_key_id=new["id"], path=str(path))
    return str(new["id"])


def _ensure_integration_key(conn: psycopg.Connection[Any], path: Path) -> tuple[str, str]:
    """(service id, integration key id) of the demo service and its key in `path`."""
    row = conn.execute(
        "SELECT id::text AS id FROM services WHERE lower(name) = lower(%s)", (DEMO_SERVICE,)
    ).fetchone()
    service_id = (
        row["id"] if row else services.create_service(conn, DEMO_SERVICE, DEMO_DESCRIPTION)["id"]
    )
    token = read_secret(path)
    if token:
        key = integration_keys.verify_integration_key(conn, token)
        if key is not None and key.service_id == service_id and key.type == "generic":
            return service_id, key.id
    new = integration_keys.create_integration_key(conn, service_id, "generic", DEMO_KEY_NAME)
    write_secret(path, new["token"])
    log.info("dev_demo_integration_key_created", integration_key_id=new["id"], path=str(path))
    return service_id, str(new["id"])


def write_env_file(path: Path, settings: Settings) -> None:
    """The variables a `klaxon` command needs to reach this system, in shell syntax."""
    variables = {
        "DATABASE_URL": settings.database_url,
        "DATABASE_LISTEN_URL": settings.database_listen_url,
        "REDIS_URL": settings.redis_url,
        "KLAXON_SECRET_KEY": settings.secret_key,
        "KLAXON_PUBLIC_URL": settings.public_url,
    }
    lines = ["# Written by `klaxon dev` for this system; load it with: set -a; . <this file>"]
    lines += [f"{name}={shlex.quote(value)}" for name, value in variables.items()]
    write_secret(path, "\n".join(lines))


def read_secret(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None


def write_secret(path: Path, value: str) -> None:
    """Replace `path` with `value`, readable by its owner only (never briefly by anyone else)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, (value + "\n").encode())
    finally:
        os.close(fd)
    os.replace(tmp, path)
