"""Start Klaxon's real processes (web, worker, engine) the way the Procfile does."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from app.platform.embedded import free_port
from tests.support import browser as browser_support
from tests.support.http import get
from tests.support.procs import KlaxonProcess, klaxon_bin
from tests.support.wait import wait_until

WEB = [klaxon_bin("gunicorn"), "--config", "config/gunicorn.conf.py", "app:create_app()"]
START_TIMEOUT = 30.0  # seconds a process may take from spawn to serving


@pytest.fixture
def start_web(spawn: Callable[..., KlaxonProcess]) -> Callable[..., tuple[KlaxonProcess, int]]:
    """Start gunicorn on a free port and wait until /livez answers."""

    def start(env: dict[str, str], name: str = "web") -> tuple[KlaxonProcess, int]:
        port = free_port()
        proc = spawn(WEB, {**env, "PORT": str(port)}, name=name)
        wait_until(
            lambda: not proc.alive() or get(port, "/livez", timeout=2).status == 200,
            START_TIMEOUT,
            f"{name} answering /livez",
        )
        assert proc.alive(), f"web exited {proc.popen.returncode}: {proc.stderr()[-3000:]}"
        return proc, port

    return start


@pytest.fixture
def start_worker(spawn: Callable[..., KlaxonProcess]) -> Callable[..., KlaxonProcess]:
    """Start `klaxon worker` and wait until it has passed its preflight."""

    def start(env: dict[str, str], *args: str, name: str = "worker") -> KlaxonProcess:
        proc = spawn([klaxon_bin("klaxon"), "worker", *args], env, name=name)
        wait_until(
            lambda: not proc.alive() or proc.find_event("worker_starting"),
            START_TIMEOUT,
            f"{name} started",
        )
        assert proc.alive(), f"worker exited {proc.popen.returncode}: {proc.stderr()[-3000:]}"
        return proc

    return start


@pytest.fixture
def start_engine(spawn: Callable[..., KlaxonProcess]) -> Callable[..., KlaxonProcess]:
    """Start `klaxon engine` and wait until it leads or stands by."""

    def start(env: dict[str, str], name: str = "engine") -> KlaxonProcess:
        proc = spawn([klaxon_bin("klaxon"), "engine"], env, name=name)
        wait_until(
            lambda: (
                not proc.alive()
                or proc.find_event("engine_leader_elected")
                or proc.find_event("engine_standby")
            ),
            START_TIMEOUT,
            f"{name} running",
        )
        assert proc.alive(), f"engine exited {proc.popen.returncode}: {proc.stderr()[-3000:]}"
        return proc

    return start


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """pytest-playwright's browser, launched from Debian's Chromium."""
    return {**browser_type_launch_args, "executable_path": browser_support.CHROMIUM}


@pytest.fixture
def web(klaxon_env: dict[str, str], start_web: Callable[..., tuple[KlaxonProcess, int]]) -> str:
    """gunicorn serving the web app; its base URL (modules that need another gunicorn define
    their own `web`)."""
    _proc, port = start_web({**klaxon_env, "KLAXON_PUBLIC_URL": "http://127.0.0.1"})
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def desktop(browser: Browser) -> Iterator[Page]:
    """A desktop-sized page in its own context, its CSP violations watched."""
    context = browser_support.open_context(browser, browser_support.DESKTOP)
    yield browser_support.watch_csp(context.new_page())
    context.close()
