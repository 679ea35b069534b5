"""What a deployment costs: the wheel's size, the installed size of the production virtualenv
with and without the `embedded` extra, and the time from an empty virtualenv to a passing
/healthz using the lock file.

Each install is deploy/build.sh (the Dockerfile's build stage): the wheel, then uv.lock's
hashed dependencies, into a fresh virtualenv outside the checkout. The timed run then starts
the Procfile's web, worker and engine from a folder holding only the Procfile, against a fresh,
unmigrated database, and polls /healthz until it passes. pip's cache is whatever this machine
has (a first install on a new machine downloads more). Usage: .venv/bin/python
bench/deploy_figures.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import (
    REPO,
    SECRET_KEY,
    Figure,
    free_port,
    note,
    owned_processes,
    print_table,
    run_benchmark,
    services,
)

NAME = "deploy_figures"
BUILD_TIMEOUT = 600.0  # seconds for one deploy/build.sh
HEALTHY_TIMEOUT = 90.0  # seconds from starting the processes to a passing /healthz
MB = 1024 * 1024


def build(venv: Path, dist: Path, *extras: str) -> tuple[Path, float]:
    """deploy/build.sh into `venv`; the wheel's path and the seconds it took."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env.update(DIST=str(dist), UV=str(Path(sys.executable).parent / "uv"))
    started = time.monotonic()
    done = subprocess.run(
        [str(REPO / "deploy" / "build.sh"), str(venv), *extras],
        env=env,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        check=True,
    )
    return Path(done.stdout.strip().splitlines()[-1]), time.monotonic() - started


def size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def healthy_after(venv: Path, work: Path) -> float:
    """Start the Procfile's processes from `venv`; seconds until /healthz passes."""
    from common import wait_for_200  # imported late: it needs nothing above

    app_dir = work / "app"
    app_dir.mkdir()
    shutil.copy(REPO / "Procfile", app_dir / "Procfile")
    with services("deploy", migrate=False) as stack, owned_processes(stack) as procs:
        port = free_port()
        env = {
            "PATH": f"{venv / 'bin'}{os.pathsep}/usr/bin:/bin",
            "HOME": str(work),
            "PORT": str(port),
            "DATABASE_URL": stack.database_url,
            "REDIS_URL": stack.redis_url,
            "KLAXON_SECRET_KEY": SECRET_KEY,
            "KLAXON_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "LOG_FORMAT": "json",
            "PYTHONUNBUFFERED": "1",
        }
        started = time.monotonic()
        web = None
        for line in (app_dir / "Procfile").read_text().splitlines():
            name, _, command = line.partition(":")
            proc = procs.start(["bash", "-c", f"cd {app_dir} && {command.strip()}"], env, name)
            web = web or proc
        assert web is not None
        timing = wait_for_200(web, port, "/healthz", HEALTHY_TIMEOUT, interval=0.1)
        if timing.ready is None:
            note(f"/healthz never passed: {timing.last_status} {timing.last_body[:300]!r}")
            return float("nan")
        return time.monotonic() - started


def main() -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="klaxon-deploy-") as tmp:
        work = Path(tmp)
        note("building the production virtualenv (wheel + uv.lock) into an empty virtualenv")
        wheel, install_s = build(work / "prod", work / "dist")
        note("starting web, worker and engine from a folder holding only the Procfile")
        healthy_s = healthy_after(work / "prod", work)
        note("building again with the `embedded` extra, for comparison")
        _, _ = build(work / "embedded", work / "dist-embedded", "embedded")
        wheel_kb = wheel.stat().st_size / 1024
        prod_mb = size(work / "prod") / MB
        embedded_mb = size(work / "embedded") / MB
    rows = [
        ["wheel", f"{wheel_kb:.0f} KB"],
        ["production virtualenv (no extras)", f"{prod_mb:.1f} MB"],
        ["with the embedded extra", f"{embedded_mb:.1f} MB"],
        ["install: empty virtualenv to installed (lock)", f"{install_s:.1f} s"],
        ["start: Procfile to passing /healthz", f"{healthy_s:.1f} s"],
        ["empty virtualenv to passing /healthz", f"{install_s + healthy_s:.1f} s"],
    ]
    print_table("Deployment figures", ["figure", "value"], rows)
    return [
        Figure(NAME, "wheel size", round(wheel_kb), "KB"),
        Figure(NAME, "production virtualenv", round(prod_mb, 1), "MB"),
        Figure(NAME, "virtualenv with the embedded extra", round(embedded_mb, 1), "MB"),
        Figure(NAME, "empty virtualenv to passing /healthz", round(install_s + healthy_s, 1)),
    ]


if __name__ == "__main__":
    sys.exit(run_benchmark(NAME, main))
