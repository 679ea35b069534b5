"""The README's request-body examples, run as a reader would: its shell block, with curl,
against a real web process. An example that stops working fails here, not for a new user."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.support.e2e import Http

pytestmark = pytest.mark.system

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_block(heading: str) -> str:
    """The first ```sh block after `heading` in the README."""
    text = README.read_text()
    after = text[text.index(heading) :]
    match = re.search(r"```sh\n(.*?)```", after, re.S)
    assert match, f"no sh block after {heading!r}"
    return match.group(1)


def test_the_on_call_request_body_examples_work_as_written(klaxon_env, start_web, make_api_key):
    _web, port = start_web(klaxon_env)
    key = make_api_key("admin")
    api = Http(port, key)
    ada = api.api("POST", "/users", {"name": "Ada", "email": "ada@example.com"}, expect=201)
    grace = api.api("POST", "/users", {"name": "Grace", "email": "g@example.com"}, expect=201)
    rotation = api.api(
        "POST",
        "/rotations",
        {
            "name": "existing",
            "type": "daily",
            "time_zone": "UTC",
            "start": "2026-12-01T00:00:00Z",
            "participants": [ada["id"]],
        },
        expect=201,
    )
    schedule = api.api("POST", "/schedules", {"name": "existing", "time_zone": "UTC"}, expect=201)
    env = {
        **klaxon_env,
        "KLAXON_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "KLAXON_API_KEY": key,
        "ADA": ada["id"],
        "GRACE": grace["id"],
        "ROTATION_ID": rotation["id"],
        "ID": schedule["id"],
    }
    # Every curl fails the script on an HTTP error, and prints the body that says why.
    script = 'set -euo pipefail\ncurl() { command curl --fail-with-body --max-time 10 "$@"; }\n'
    result = subprocess.run(
        ["bash", "-c", script + readme_block("#### Request bodies")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr

    assert [r["name"] for r in api.api("GET", "/rotations")["items"]] == ["existing", "Primary"]
    assert {s["name"] for s in api.api("GET", "/schedules")["items"]} == {"existing", "Payments"}
    base = f"/schedules/{schedule['id']}"
    (rule,) = api.api("GET", f"{base}/rules")["items"]
    assert (rule["start_time"], rule["end_time"]) == ("09:00:00", "17:00:00")
    (override,) = api.api("GET", f"{base}/overrides")["items"]
    assert (override["kind"], override["add_user_id"]) == ("replace", grace["id"])
    (temporary,) = api.api("GET", f"{base}/temporary-schedules")["items"]
    assert temporary["shifts"][0]["user_id"] == grace["id"]
