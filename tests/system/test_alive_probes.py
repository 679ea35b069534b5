"""`klaxon alive worker|engine`, the containers' exec liveness probes, against real processes:
each answers for the loop of the process in its own container (its temporary folder)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.procs import KlaxonProcess, klaxon_bin
from tests.support.wait import wait_until

pytestmark = pytest.mark.system

PROBE_TIMEOUT = 10.0  # seconds; Kubernetes' timeoutSeconds in deploy/kubernetes is 5


def probe(process: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [klaxon_bin("klaxon"), "alive", process],
        env={"TMPDIR": str(tmp), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=PROBE_TIMEOUT,
    )


@pytest.mark.parametrize("process", ["worker", "engine"])
def test_the_probe_fails_before_the_loop_turns_and_passes_while_it_does(
    process: str,
    klaxon_env: dict[str, str],
    tmp_path: Path,
    start_worker: Callable[..., KlaxonProcess],
    start_engine: Callable[..., KlaxonProcess],
) -> None:
    tmp = tmp_path / "container-tmp"
    tmp.mkdir()
    before = probe(process, tmp)
    assert before.returncode == 1
    assert before.stderr.startswith(f"{process}: no liveness file {tmp}/klaxon-{process}.alive")

    start = start_worker if process == "worker" else start_engine
    proc = start({**klaxon_env, "TMPDIR": str(tmp)})
    wait_until(lambda: probe(process, tmp).returncode == 0, 30, f"{process} probe passing")
    assert proc.alive()
    # The other process type has made no promise in this container.
    other = "engine" if process == "worker" else "worker"
    assert probe(other, tmp).returncode == 1
