"""`klaxon audit`, run as an operator runs it, against a real database: the command line's own
changes are in the log as actor `system` naming the command; filters, `--limit`, `--json`
lines, readable lines; exit 2 on a bad argument, 1 when the database cannot be read."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from tests.support.net import closed_port
from tests.support.procs import REPO, klaxon_bin

pytestmark = pytest.mark.system

RUN_TIMEOUT = 30.0  # s for one command; well under a second against a healthy database


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


def json_lines(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_audit_prints_the_command_lines_own_changes_newest_first(
    klaxon_env: dict[str, str],
) -> None:
    made = [
        json.loads(klaxon(klaxon_env, "create-service", "--name", name, "--json").stdout)
        for name in ("payments", "search", "mail")
    ]
    user = klaxon(klaxon_env, "create-user", "--name", "Ada", "--email", "ada@example.com")
    assert user.returncode == 0, user.stderr

    events = json_lines(klaxon(klaxon_env, "audit", "--json"))
    assert [e["action"] for e in events] == ["create_user", *["create_service"] * 3]
    assert {(e["actor_type"], e["actor_id"]) for e in events[1:]} == {
        ("system", "klaxon create-service")
    }
    assert [e["target_id"] for e in events[1:]] == [m["id"] for m in reversed(made)]
    # the service and its first integration key, in one row (one transaction)
    assert [c["table"] for c in events[1]["changes"]] == ["services", "integration_keys"]
    assert events[1]["changes"][1]["redacted"] == ["secret_hash"]
    assert made[2]["integration_key"]["token"] not in json.dumps(events)

    limited = json_lines(klaxon(klaxon_env, "audit", "--json", "--limit", "2"))
    assert [e["id"] for e in limited] == [e["id"] for e in events[:2]]
    one = json_lines(
        klaxon(klaxon_env, "audit", "--json", "--target-type", "services", "--target-id",
               made[0]["id"])
    )  # fmt: skip
    assert [e["target_id"] for e in one] == [made[0]["id"]]
    since = json_lines(klaxon(klaxon_env, "audit", "--json", "--since", events[0]["at"]))
    assert [e["action"] for e in since] == ["create_user"]
    assert json_lines(klaxon(klaxon_env, "audit", "--json", "--actor-type", "user")) == []

    readable = klaxon(klaxon_env, "audit", "--changes", "--actor-id", "klaxon create-user")
    assert readable.returncode == 0, readable.stderr
    lines = readable.stdout.splitlines()
    assert "system:klaxon create-user  create_user  users/" in lines[0]
    assert "(1 row changed)" in lines[0]
    assert lines[1].strip().startswith("insert users/") and '"name": "Ada"' in lines[1]


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--limit", "0"], "--limit"),
        (["--limit", "many"], "--limit"),
        (["--since", "yesterday"], "--since"),
        (["--until", "2026-01-01T00:00:00"], "--until"),
        (["--actor-type", "robot"], "--actor-type"),
    ],
)
def test_bad_arguments_exit_2_naming_them(
    klaxon_env: dict[str, str], args: list[str], complaint: str
) -> None:
    result = klaxon(klaxon_env, "audit", *args)
    assert result.returncode == 2
    assert complaint in result.stderr and result.stdout == ""


def test_an_unreachable_database_exits_1_with_one_line(klaxon_env: dict[str, str]) -> None:
    env = {**klaxon_env, "DATABASE_URL": f"postgresql://127.0.0.1:{closed_port()}/klaxon"}
    result = klaxon(env, "audit")
    assert result.returncode == 1
    assert result.stdout == ""
    assert "klaxon audit: error: database:" in result.stderr
