"""`make run` and `klaxon dev` as a person runs them: from the checkout, with no DATABASE_URL,
REDIS_URL or KLAXON_SECRET_KEY, stopped by Ctrl-C or SIGTERM, leaving nothing behind.

Each test keeps its embedded Postgres/Redis in its own folder (KLAXON_DEV_DIR) and serves on a
free port, so it can run beside the rest of the suite.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.support.e2e import Http
from tests.support.fakes.webhook import WebhookReceiver
from tests.support.wait import wait_until

pytestmark = [pytest.mark.system, pytest.mark.timeout(300)]

REPO = Path(__file__).resolve().parents[2]
KLAXON = Path(sys.executable).parent / "klaxon"

HEALTHY_WITHIN = 90.0  # s from `make run` to a passing /healthz (first run includes initdb)
MAKE_STOPS_WITHIN = 30.0  # s from Ctrl-C to make's exit
DEV_STOPS_WITHIN = 10.0  # s from SIGTERM to `klaxon dev`'s exit
INSTALL_WITHIN = 300.0  # s for `make install` when pyproject.toml changed (a no-op otherwise)
REQUEST_TIMEOUT = 5.0  # s for one /healthz request
DEMO_WITHIN = 30.0  # s from a passing /healthz to the dev_demo event (a few queries)
# GNU make (4.3), on SIGINT, waits for its recipe's process to finish and then kills itself
# with SIGINT, whatever `klaxon dev` returned (0 here): Popen reports -2, a shell's $? is 130.
MAKE_INTERRUPTED = -signal.SIGINT
# Settings a developer's shell may carry that would make `klaxon dev` use other servers, and
# make's own variables, which would turn `make run` into a sub-make of `make test`.
UNSET = (
    "DATABASE_URL", "DATABASE_URL_FILE", "DATABASE_LISTEN_URL", "DATABASE_LISTEN_URL_FILE",
    "REDIS_URL", "REDIS_URL_FILE", "KLAXON_SECRET_KEY", "KLAXON_SECRET_KEY_FILE", "PORT",
    "MAKEFLAGS", "MFLAGS", "MAKELEVEL",
)  # fmt: skip


@pytest.fixture(scope="module")
def installed() -> None:
    """`make run` installs first when pyproject.toml changed; do that outside the timed part."""
    subprocess.run(
        ["make", "--no-print-directory", "install"],
        cwd=REPO,
        env=_clean_env(),
        stdin=subprocess.DEVNULL,
        check=True,
        timeout=INSTALL_WITHIN,
    )


@pytest.fixture
def dev_dir() -> Iterator[Path]:
    """A data folder of this test's own, in the checkout's .klaxon/ rather than pytest's tmp:
    the embedded Postgres runs as the `pgserver` user, which must traverse every parent folder,
    and each pytest session that starts on this machine resets /tmp/pytest-of-<user> to 0700."""
    path = REPO / ".klaxon" / f"test-dev-{secrets.token_hex(4)}"
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def port() -> int:
    """A free port whose +100 and +200 (worker, engine) are valid ports too."""
    for _ in range(20):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            candidate = int(sock.getsockname()[1])
        if candidate <= 65535 - 200:
            return candidate
    pytest.fail("no free port below 65336")


@pytest.fixture
def dev_env(dev_dir: Path, port: int) -> dict[str, str]:
    env = _clean_env()
    env["KLAXON_DEV_DIR"] = str(dev_dir)
    env["PORT"] = str(port)
    env["LOG_FORMAT"] = "json"
    return env


@pytest.fixture
def launch(dev_dir: Path, port: int, tmp_path: Path) -> Iterator[Any]:
    """Start a command in its own process group, output to a log; clean up after a failure."""
    started: list[subprocess.Popen[bytes]] = []

    def start(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = (tmp_path / "output.log").open("wb")
        proc = subprocess.Popen(
            command,
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        proc.log_path = tmp_path / "output.log"  # type: ignore[attr-defined]
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            _kill_group(proc)
    for info in _leftovers(dev_dir, port):
        with_pid = int(info.split()[0])
        with contextlib.suppress(psutil.Error):
            psutil.Process(with_pid).kill()


def test_ctrl_c_on_make_run_stops_every_process_and_server(
    installed: None, launch: Any, dev_env: dict[str, str], dev_dir: Path, port: int
) -> None:
    make = launch(["make", "--no-print-directory", "run"], dev_env)

    body = _wait_healthy(make, port)
    assert body["status"] == "pass"
    assert (dev_dir / "secret_key").stat().st_mode & 0o777 == 0o600

    os.killpg(make.pid, signal.SIGINT)  # what a terminal's Ctrl-C does to the foreground job
    assert _exit_code(make, MAKE_STOPS_WITHIN) == MAKE_INTERRUPTED, _tail(make)
    assert _events(make, "dev_stopped") == [{"exit_code": 0}], _tail(make)
    assert _leftovers(dev_dir, port) == [], _tail(make)
    assert _port_closed(port)


def test_klaxon_dev_sets_up_a_demo_whose_curls_work_across_restarts(
    installed: None, launch: Any, dev_env: dict[str, str], dev_dir: Path, port: int
) -> None:
    """One `klaxon dev` data folder through two runs (each start costs an embedded Postgres):
    the demo's curls work; SIGTERM stops it with exit 0; restarted, the demo is the same; a page
    it sends links to web and the link acknowledges; SIGTERM leaves nothing behind."""
    dev = launch([str(KLAXON), "dev", "--port", str(port)], dev_env)
    _wait_healthy(dev, port)
    demo = _wait_event(dev, "dev_demo")
    for name in ("demo_admin_api_key", "demo_integration_token"):
        assert (dev_dir / name).stat().st_mode & 0o777 == 0o600
    assert demo["dashboard"] == f"http://localhost:{port}/admin/rq/"

    code, raised = _run_curl(demo["raise_alert"])
    assert code == 200, raised
    assert raised["ServiceID"] == demo["service_id"]
    assert raised["IsNew"] is True
    code, alerts = _run_curl(demo["list_alerts"])
    assert code == 200, alerts
    assert [a["summary"] for a in alerts["items"]] == ["Test alert from klaxon dev"]
    admin = f'-H "Authorization: Bearer $(cat {dev_dir / "demo_admin_api_key"})"'
    code, workers = _run_curl(f"curl {admin} {demo['dashboard']}0/data/workers.json")
    assert code == 200, workers
    assert {q for w in workers["workers"] for q in w["queues"]} >= {"klaxon-notify"}
    for secret in ("demo_admin_api_key", "demo_integration_token"):
        assert (dev_dir / secret).read_text().strip() not in _log(dev)
    assert (dev_dir / "dev.env").stat().st_mode & 0o777 == 0o600
    created = subprocess.run(
        ["bash", "-c", f"{demo['use_env']}; klaxon create-user --name Ada --email a@x.io --json"],
        env={**_clean_env(), "PATH": f"{KLAXON.parent}:{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["email"] == "a@x.io"

    dev.send_signal(signal.SIGTERM)
    assert _exit_code(dev, DEV_STOPS_WITHIN) == 0, _tail(dev)
    receiver = WebhookReceiver().start()
    try:
        # The receiver is on loopback, which outbound policy refuses unless allowed.
        env = {**dev_env, "KLAXON_WEBHOOK_ALLOW_CIDRS": "127.0.0.0/8"}
        again = launch([str(KLAXON), "dev", "--port", str(port)], env)
        _wait_healthy(again, port)
        second = _wait_event(again, "dev_demo")
        same = ("service_id", "api_key_id", "integration_key_id", "raise_alert", "list_alerts")
        assert {k: second[k] for k in same} == {k: demo[k] for k in same}
        code, repeated = _run_curl(second["raise_alert"])
        assert (code, repeated["AlertID"], repeated["IsNew"]) == (200, raised["AlertID"], False)
        _a_page_links_to_web_and_the_link_acknowledges(receiver, second, dev_dir, port)
    finally:
        receiver.stop()

    again.send_signal(signal.SIGTERM)
    assert _exit_code(again, DEV_STOPS_WITHIN) == 0, _tail(again)
    assert _leftovers(dev_dir, port) == [], _tail(again)
    assert _port_closed(port)


def _wait_event(proc: subprocess.Popen[bytes], event: str) -> dict[str, Any]:
    """The first JSON log record with this event; fail if the process exits before it."""

    def logged() -> dict[str, Any] | None:
        record = next((r for r in _records(proc) if r.get("event") == event), None)
        if record is None and proc.poll() is not None:
            pytest.fail(f"exited with {proc.returncode} before logging {event}\n{_tail(proc)}")
        return record

    return wait_until(logged, DEMO_WITHIN, f"{event} logged")


def _run_curl(command: str) -> tuple[int, dict[str, Any]]:
    """Run a printed curl command as a shell would; (HTTP status, JSON body)."""
    result = subprocess.run(
        ["bash", "-c", f"{command} -sS -w '\\n%{{http_code}}'"],
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=REQUEST_TIMEOUT * 2,
    )
    assert result.returncode == 0, result.stderr
    body, _, code = result.stdout.rpartition("\n")
    return int(code), json.loads(body) if body else {}


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in UNSET}


def _wait_healthy(proc: subprocess.Popen[bytes], port: int) -> dict[str, Any]:
    """Poll /healthz with backoff until the whole system passes; fail at the deadline."""
    deadline = time.monotonic() + HEALTHY_WITHIN
    delay = 0.1
    last: tuple[int | None, dict[str, Any]] = (None, {})
    while time.monotonic() < deadline:
        last = _healthz(port)
        if _system_passes(*last):
            return last[1]
        try:  # waits `delay`, or returns at once if the process died
            proc.wait(timeout=min(delay, max(deadline - time.monotonic(), 0.01)))
        except subprocess.TimeoutExpired:
            delay = min(delay * 2, 2.0)
            continue
        pytest.fail(f"exited with {proc.returncode} before it was healthy\n{_tail(proc)}")
    pytest.fail(f"not healthy within {HEALTHY_WITHIN:g}s: {last}\n{_tail(proc)}")


def _system_passes(code: int | None, body: dict[str, Any]) -> bool:
    checks = body.get("checks", {})
    workers = checks.get("workers", [{}])[0]
    engine = checks.get("engine", [{}])[0]
    return (
        code == 200
        and body.get("status") == "pass"
        and (workers.get("observedValue") or 0) >= 1
        and engine.get("status") == "pass"
    )


_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # ignore http_proxy


def _healthz(port: int) -> tuple[int | None, dict[str, Any]]:
    url = f"http://127.0.0.1:{port}/healthz"
    try:
        with _DIRECT.open(url, timeout=REQUEST_TIMEOUT) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, json.loads(exc.read())
        except ValueError:
            return exc.code, {}
    except (OSError, ValueError):
        return None, {}


def _exit_code(proc: subprocess.Popen[bytes], within: float) -> int:
    try:
        return proc.wait(timeout=within)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running {within:g}s after the signal\n{_tail(proc)}")


def _leftovers(dev_dir: Path, port: int) -> list[str]:
    """Live processes of this run: in its folder (Postgres, Redis chdir there), naming the folder
    or the port, or carrying its KLAXON_DEV_DIR (honcho, gunicorn and its workers, RQ, engine)."""
    marker = str(dev_dir)
    found = []
    for proc in psutil.process_iter(["pid", "name", "cmdline", "cwd", "environ", "status"]):
        info = proc.info
        if info["pid"] == os.getpid() or info["status"] == psutil.STATUS_ZOMBIE:
            continue
        cmdline = info["cmdline"] or []
        if (
            (info["cwd"] or "").startswith(marker)
            or (info["environ"] or {}).get("KLAXON_DEV_DIR") == marker
            or any(marker in arg for arg in cmdline)
            or any(arg == str(port) or arg.endswith(f":{port}") for arg in cmdline)
        ):
            found.append(f"{info['pid']} {info['name']} {' '.join(cmdline)}")
    return found


def _port_closed(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(REQUEST_TIMEOUT)
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """After a failed test: SIGTERM the group (klaxon dev stops what it started), then SIGKILL."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _events(proc: subprocess.Popen[bytes], event: str) -> list[dict[str, Any]]:
    """The JSON log lines `klaxon dev` itself wrote with this event (its `exit_code`, if any)."""
    return [
        {k: v for k, v in record.items() if k == "exit_code"}
        for record in _records(proc)
        if record.get("event") == event
    ]


def _records(proc: subprocess.Popen[bytes]) -> list[dict[str, Any]]:
    """The JSON log lines `klaxon dev` itself wrote (honcho prefixes its processes' lines)."""
    found = []
    for line in _log(proc).splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # honcho's prefixed lines, make's own lines, the demo banner
        if isinstance(record, dict):
            found.append(record)
    return found


def _log(proc: subprocess.Popen[bytes]) -> str:
    path: Path = proc.log_path  # type: ignore[attr-defined]
    return path.read_text(errors="replace")


def _tail(proc: subprocess.Popen[bytes], lines: int = 60) -> str:
    path: Path = proc.log_path  # type: ignore[attr-defined]
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _a_page_links_to_web_and_the_link_acknowledges(
    receiver: WebhookReceiver, demo: dict[str, Any], dev_dir: Path, port: int
) -> None:
    """A page sent under `klaxon dev` links to web's port (not the worker's), and the link's form
    acknowledges; web listens on localhost only."""
    api = Http(port, (dev_dir / "demo_admin_api_key").read_text().strip())
    api.api("POST", f"/services/{demo['service_id']}/alerts/close")  # the restart's repeat
    _page_alice_through(api, receiver, demo["service_id"])

    alert_id = _raise_demo_alert(demo)
    page = wait_until(
        lambda: [r for r in receiver.requests("/alice") if r.json()["kind"] == "alert"],
        30,
        "page to Alice",
    )[0]
    link = page.json()["links"]["acknowledge"]
    web_base = f"http://localhost:{port}/"
    assert link.startswith(web_base + "actions/"), link
    status, body, _ = Http(port).call("GET", link.removeprefix(web_base[:-1]))
    assert status == 200 and b"<form" in body, body
    status, _, _ = Http(port).call("POST", link.removeprefix(web_base[:-1]))
    assert status == 200
    assert api.api("GET", f"/alerts/{alert_id}")["status"] == "acknowledged"
    assert _listening_addresses(port) == {"127.0.0.1"}  # localhost only, by default


def _page_alice_through(api: Any, receiver: Any, service_id: str) -> None:
    """Alice, with a verified webhook and a rule, on the demo service's one-step policy."""
    alice = api.api("POST", "/users", {"name": "Alice", "email": "alice@example.com"}, expect=201)
    method = api.api(
        "POST",
        f"/users/{alice['id']}/contact-methods",
        {"name": "hook", "type": "webhook", "address": receiver.url("/alice")},
        expect=201,
    )
    (request,) = receiver.wait_for(1, "/alice", timeout=30)
    code = request.json()["code"]
    api.api("POST", f"/users/{alice['id']}/contact-methods/{method['id']}/verify", {"code": code})
    api.api(
        "POST",
        f"/users/{alice['id']}/notification-rules",
        {"contact_method_id": method["id"], "delay_minutes": 0},
        expect=201,
    )
    step = {"delay_minutes": 5, "targets": [{"type": "user", "id": alice["id"]}]}
    policy = api.api("POST", "/escalation-policies", {"name": "Alice", "steps": [step]}, expect=201)
    api.api("PATCH", f"/services/{service_id}", {"escalation_policy_id": policy["id"]})


def _raise_demo_alert(demo: dict[str, Any]) -> str:
    code, raised = _run_curl(demo["raise_alert"])
    assert code == 200, raised
    return str(raised["AlertID"])


def _listening_addresses(port: int) -> set[str]:
    return {
        conn.laddr.ip
        for conn in psutil.net_connections("inet")
        if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port
    }
