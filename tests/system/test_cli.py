"""`klaxon create-user | create-api-key | create-service | create-integration-key`, run as a
person or a script runs them: exit codes, exactly one JSON object on stdout with --json, clear
one-line errors on stderr."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from app.directory import api_keys, integration_keys
from tests.support.net import Tarpit, closed_port
from tests.support.procs import REPO, klaxon_bin

pytestmark = pytest.mark.system

RUN_TIMEOUT = 30.0  # s for one command; they take well under a second against a healthy database
PUBLIC_URL = "https://klaxon.example.com"


def klaxon(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [klaxon_bin("klaxon"), *args],
        env=env,
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )


def json_output(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The one JSON object on stdout — and nothing else there."""
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("\n")
    assert result.stdout.count("\n") == 1, result.stdout
    body = json.loads(result.stdout)
    assert isinstance(body, dict)
    return body


def error_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    """stderr's lines that are not JSON log records."""
    lines = []
    for line in result.stderr.splitlines():
        try:
            json.loads(line)
        except ValueError:
            lines.append(line)
    return lines


def is_rfc3339_utc(text: str) -> bool:
    return text.endswith("Z") and datetime.fromisoformat(text).tzinfo == UTC


@pytest.fixture
def env(klaxon_env: dict[str, str]) -> dict[str, str]:
    return {**klaxon_env, "KLAXON_PUBLIC_URL": PUBLIC_URL}


# -- create-user -------------------------------------------------------------------------------


def test_create_user_prints_the_user_as_json(env, db_conn):
    result = klaxon(
        env, "create-user", "--name", "Ada Lovelace", "--email", "ada@example.com",
        "--role", "admin", "--time-zone", "Europe/London", "--json",
    )  # fmt: skip
    user = json_output(result)
    assert set(user) == {"id", "name", "email", "role", "time_zone", "created_at"}
    assert user["name"] == "Ada Lovelace"
    assert user["email"] == "ada@example.com"
    assert (user["role"], user["time_zone"]) == ("admin", "Europe/London")
    assert is_rfc3339_utc(user["created_at"])
    row = db_conn.execute("SELECT name, role FROM users WHERE id = %s", (user["id"],)).fetchone()
    assert row == {"name": "Ada Lovelace", "role": "admin"}


def klaxon_with_stdin(env: dict[str, str], stdin: str, *args: str) -> Any:
    return subprocess.run(
        [klaxon_bin("klaxon"), *args],
        env=env,
        cwd=REPO,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )


def test_create_user_admin_with_a_password_from_stdin_can_sign_in(env, db_conn, client):
    from app.directory import passwords
    from tests.support.signin import admin_sign_in

    result = klaxon_with_stdin(
        env, "correct horse battery\nsecond line ignored\n",
        "create-user", "--name", "Root", "--email", "root@example.com", "--admin", "--json",
        "--password-stdin",
    )  # fmt: skip
    user = json_output(result)
    assert user["role"] == "admin"
    row = db_conn.execute("SELECT password_hash FROM users WHERE id = %s", (user["id"],)).fetchone()
    assert row["password_hash"].startswith("$argon2id$")
    assert passwords.verify(row["password_hash"], "correct horse battery")
    assert "correct horse" not in result.stdout + result.stderr
    # The first admin of a new install signs in to the admin pages, no database access needed.
    signed_in = admin_sign_in(client, "root@example.com", "correct horse battery")
    assert signed_in.status_code == 303
    assert client.get("/admin/rq/0/data/queues.json").status_code == 200


def test_create_user_prints_where_to_sign_in_when_a_password_is_set(env):
    result = klaxon_with_stdin(
        env, "correct horse battery\n",
        "create-user", "--name", "Root", "--email", "root@example.com", "--password-stdin",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"password:  set; sign in at {PUBLIC_URL}/admin/login" in result.stdout


@pytest.mark.parametrize("stdin", ["", "\n", "short\n"])
def test_create_user_refuses_a_missing_or_short_password_before_any_write(env, db_conn, stdin):
    result = klaxon_with_stdin(
        env, stdin, "create-user", "--name", "R", "--email", "r@example.com", "--password-stdin"
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert error_lines(result) == [
        "klaxon create-user: error: the password on standard input must be at least 8 characters"
    ]
    assert db_conn.execute("SELECT count(*) AS n FROM users").fetchone()["n"] == 0


def test_create_user_admin_and_role_together_are_a_usage_error(env):
    result = klaxon(
        env, "create-user", "--name", "R", "--email", "r@example.com", "--admin", "--role", "user"
    )
    assert result.returncode == 2
    assert "not allowed with argument" in result.stderr


def test_create_user_defaults_to_role_user_in_utc_and_prints_lines(env):
    result = klaxon(env, "create-user", "--name", "Bob", "--email", "bob@example.com")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "Created user Bob <bob@example.com>"
    assert "role:      user" in result.stdout
    assert "time zone: UTC" in result.stdout


def test_a_taken_email_exits_1_naming_it(env, db_conn):
    assert klaxon(env, "create-user", "--name", "A", "--email", "dup@example.com").returncode == 0
    result = klaxon(env, "create-user", "--name", "B", "--email", "DUP@example.com", "--json")
    assert result.returncode == 1
    assert result.stdout == ""
    assert error_lines(result) == [
        "klaxon create-user: error: a user with email 'DUP@example.com' already exists"
    ]
    assert db_conn.execute("SELECT count(*) AS n FROM users").fetchone() == {"n": 1}


# -- usage errors: exit 2 before any I/O --------------------------------------------------------

SERVICE_ID = "6f1c1f8e-3b7a-4c55-9d2e-6a0f8d1b2c3d"
USER = ["create-user", "--name", "A", "--email", "a@example.com"]


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["create-user", "--name", "A", "--email", "not-an-email"], "--email"),
        (["create-user", "--name", "A", "--email", "a b@example.com"], "--email"),
        (["create-user", "--name", " ", "--email", "a@example.com"], "--name"),
        (["create-user", "--name", "A" * 201, "--email", "a@example.com"], "--name"),
        ([*USER, "--role", "root"], "--role"),
        ([*USER, "--time-zone", "Mars/Olympus"], "--time-zone"),
        ([*USER, "--time-zone", "../etc/passwd"], "--time-zone"),
        ([*USER, "--time-zone", "utc"], "--time-zone"),
        (["create-user", "--name", "A"], "--email"),
        (["create-api-key", "--name", "ci", "--scope", "superuser"], "--scope"),
        (["create-api-key", "--name", "ci"], "--scope"),
        (["create-service", "--name", ""], "--name"),
        (["create-integration-key", "--service", "42", "--type", "generic"], "--service"),
        (["create-integration-key", "--service", SERVICE_ID, "--type", "email"], "--type"),
    ],
)  # fmt: skip
def test_invalid_arguments_exit_2_with_a_usage_message(klaxon_env, args, complaint):
    env = {**klaxon_env, "DATABASE_URL": f"postgresql://127.0.0.1:{closed_port()}/never-used"}
    result = klaxon(env, *args, "--json")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("usage: klaxon ")
    assert complaint in result.stderr.splitlines()[-1]


# -- create-api-key ----------------------------------------------------------------------------


@pytest.mark.parametrize("scope", ["read", "write", "admin"])
def test_create_api_key_shows_the_key_once_and_it_authenticates(env, db_conn, scope):
    key = json_output(klaxon(env, "create-api-key", "--name", "ci", "--scope", scope, "--json"))
    assert set(key) == {"id", "name", "scope", "key", "created_at"}
    assert (key["name"], key["scope"]) == ("ci", scope)
    assert key["key"].startswith("klx_")
    assert is_rfc3339_utc(key["created_at"])
    assert api_keys.verify_api_key(db_conn, key["key"]) == api_keys.ApiKey(key["id"], "ci", scope)
    stored = db_conn.execute("SELECT secret_hash FROM api_keys").fetchone()["secret_hash"]
    assert key["key"].split("_", 2)[2].encode() not in bytes(stored)


def test_create_api_key_prints_the_key_and_how_to_use_it(env):
    result = klaxon(env, "create-api-key", "--name", "deploy bot", "--scope", "write")
    assert result.returncode == 0, result.stderr
    assert "Created API key 'deploy bot' with scope write" in result.stdout
    assert "Authorization: Bearer klx_" in result.stdout


# -- create-service ----------------------------------------------------------------------------


def test_create_service_prints_a_working_integration_key_and_url(env, db_conn):
    result = klaxon(
        env, "create-service", "--name", "Checkout", "--description", "payments", "--json"
    )
    service = json_output(result)
    assert set(service) == {"id", "name", "description", "created_at", "integration_key"}
    assert (service["name"], service["description"]) == ("Checkout", "payments")
    key = service["integration_key"]
    assert set(key) == {"id", "service_id", "type", "token", "url"}
    assert (key["type"], key["service_id"]) == ("generic", service["id"])
    assert key["url"] == f"{PUBLIC_URL}/api/v2/generic/incoming?token={key['token']}"
    verified = integration_keys.verify_integration_key(db_conn, key["token"])
    assert verified == integration_keys.IntegrationKey(key["id"], service["id"], "generic")


def test_create_service_prints_the_url_and_a_curl_to_copy(env):
    result = klaxon(env, "create-service", "--name", "Web shop")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("Created service 'Web shop'\n")
    url_line = next(line for line in out.splitlines() if line.strip().startswith("URL:"))
    url = url_line.split("URL:", 1)[1].strip()
    assert url.startswith(f"{PUBLIC_URL}/api/v2/generic/incoming?token=kli_")
    curl = out.splitlines()[-1].strip()
    assert curl.startswith("curl -X POST ")
    assert curl.endswith(f"'{url}'")


def test_the_printed_curl_raises_an_alert_in_a_running_klaxon(klaxon_env, start_web, db_conn):
    _, port = start_web(klaxon_env)
    env = {**klaxon_env, "KLAXON_PUBLIC_URL": f"http://127.0.0.1:{port}"}
    result = klaxon(env, "create-service", "--name", "Storefront")
    assert result.returncode == 0, result.stderr
    curl = result.stdout.splitlines()[-1].strip()

    sent = subprocess.run(
        ["bash", "-c", f"{curl} -sS --fail-with-body"],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    assert sent.returncode == 0, sent.stdout + sent.stderr
    answer = json.loads(sent.stdout)
    assert answer["IsNew"] is True
    alert = db_conn.execute(
        "SELECT a.summary, s.name FROM alerts a JOIN services s ON s.id = a.service_id"
    ).fetchone()
    assert alert == {"summary": "Test alert from Klaxon", "name": "Storefront"}


def test_a_taken_service_name_exits_1_naming_it(env, db_conn):
    assert klaxon(env, "create-service", "--name", "Checkout").returncode == 0
    result = klaxon(env, "create-service", "--name", "checkout", "--json")
    assert result.returncode == 1
    assert result.stdout == ""
    assert error_lines(result) == [
        "klaxon create-service: error: a service named 'checkout' already exists"
    ]
    assert db_conn.execute("SELECT count(*) AS n FROM integration_keys").fetchone() == {"n": 1}


# -- create-integration-key --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key_type", "path"),
    [
        ("generic", "/api/v2/generic/incoming"),
        ("grafana", "/api/v2/grafana/incoming"),
        ("prometheusAlertmanager", "/api/v2/prometheusalertmanager/incoming"),
    ],
)
def test_create_integration_key_for_each_sender(env, db_conn, make_service, key_type, path):
    service_id = make_service()["id"]
    result = klaxon(
        env, "create-integration-key", "--service", service_id, "--type", key_type, "--json"
    )
    key = json_output(result)
    assert set(key) == {"id", "service_id", "type", "token", "url"}
    assert (key["type"], key["service_id"]) == (key_type, service_id)
    assert key["url"] == f"{PUBLIC_URL}{path}?token={key['token']}"
    assert integration_keys.verify_integration_key(db_conn, key["token"]).type == key_type


def test_create_integration_key_explains_where_the_url_goes(env, make_service):
    service_id = make_service()["id"]
    am = klaxon(env, "create-integration-key", "--service", service_id, "--type",
                "prometheusAlertmanager")  # fmt: skip
    assert am.returncode == 0, am.stderr
    assert "webhook_configs:" in am.stdout
    grafana = klaxon(env, "create-integration-key", "--service", service_id, "--type", "grafana")
    assert "contact point of type Webhook" in grafana.stdout


def test_an_unknown_service_exits_1(env, db_conn):
    missing = str(uuid.uuid4())
    result = klaxon(env, "create-integration-key", "--service", missing, "--type", "generic",
                    "--json")  # fmt: skip
    assert result.returncode == 1
    assert result.stdout == ""
    assert error_lines(result) == [
        f"klaxon create-integration-key: error: no service with id {missing}"
    ]
    assert db_conn.execute("SELECT count(*) AS n FROM integration_keys").fetchone() == {"n": 0}


# -- configuration and database trouble ---------------------------------------------------------


def test_bad_configuration_exits_2_with_nothing_on_stdout(klaxon_env):
    env = {**klaxon_env, "DATABASE_URL": "mysql://db/klaxon"}
    result = klaxon(env, "create-api-key", "--name", "x", "--scope", "read", "--json")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "DATABASE_URL" in result.stderr


def test_an_unmigrated_database_exits_1_with_the_command_to_run(klaxon_env, empty_database_url):
    env = {**klaxon_env, "DATABASE_URL": empty_database_url}
    result = klaxon(env, "create-service", "--name", "x", "--json")
    assert result.returncode == 1
    assert result.stdout == ""
    assert error_lines(result) == [
        "klaxon create-service: error: database is at revision none, code expects "
        f"{_head()}; run `klaxon migrate`"
    ]


@pytest.mark.parametrize("fault", ["refused", "tarpit"])
def test_an_unreachable_database_exits_1_within_the_check_timeout(klaxon_env, fault):
    with Tarpit() as tarpit:
        port = closed_port() if fault == "refused" else tarpit.port
        env = {**klaxon_env, "DATABASE_URL": f"postgresql://klaxon@127.0.0.1:{port}/klaxon"}
        started = time.monotonic()
        result = klaxon(env, "create-user", "--name", "A", "--email", "a@example.com", "--json")
    assert time.monotonic() - started < 10  # KLAXON_CHECK_TIMEOUT=2 plus start-up
    assert result.returncode == 1
    assert result.stdout == ""
    [line] = error_lines(result)
    assert line.startswith("klaxon create-user: error: database: ")
    assert "DATABASE_URL" in line


def _head() -> str:
    from app.platform.migrate import head_revision

    return head_revision()
