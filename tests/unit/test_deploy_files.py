"""The deployment files: app.json, the Kubernetes manifests, docker-compose.yml and the
Dockerfile say what Klaxon needs, name only settings Klaxon reads, and validate."""

from __future__ import annotations

import ast
import copy
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from config.settings import load_settings

REPO = Path(__file__).resolve().parents[2]
MANIFESTS = sorted((REPO / "deploy" / "kubernetes").glob("*.yaml"))
HEROKU_STOP = 30  # seconds between SIGTERM and SIGKILL on Heroku; Klaxon's shutdown fits in it


def variables_klaxon_reads() -> set[str]:
    """Every environment variable name in config/settings.py, the only module that reads any."""
    tree = ast.parse((REPO / "config" / "settings.py").read_text())
    names = {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }
    return {n for n in names if re.fullmatch(r"(KLAXON|DATABASE|REDIS|LOG|WEB)_[A-Z_]+|PORT", n)}


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def by_kind(kind: str) -> dict[str, dict[str, Any]]:
    found = {}
    for path in MANIFESTS:
        for doc in documents(path):
            if doc["kind"] == kind:
                found[doc["metadata"]["name"]] = doc
    return found


# -- app.json ---------------------------------------------------------------------------------


def app_json() -> dict[str, Any]:
    return dict(json.loads((REPO / "app.json").read_text()))


def test_app_json_provisions_postgres_redis_and_every_procfile_process() -> None:
    app = app_json()
    assert {"name", "description", "buildpacks", "formation", "addons", "env"} <= set(app)
    plans = {addon["plan"].split(":")[0] for addon in app["addons"]}
    assert plans == {"heroku-postgresql", "heroku-redis"}
    procfile = {line.split(":")[0] for line in (REPO / "Procfile").read_text().splitlines() if line}
    assert set(app["formation"]) == procfile == {"web", "worker", "engine"}
    assert app["formation"]["engine"]["quantity"] == 2  # a standby takes over from the leader


def test_app_json_generates_the_secret_key_and_requires_the_public_url() -> None:
    env = app_json()["env"]
    assert env["KLAXON_SECRET_KEY"]["generator"] == "secret"
    assert "value" not in env["KLAXON_SECRET_KEY"]
    assert env["KLAXON_PUBLIC_URL"]["required"] is True
    assert "value" not in env["KLAXON_PUBLIC_URL"]


def test_every_variable_app_json_names_is_one_klaxon_reads_and_its_value_is_valid() -> None:
    env = app_json()["env"]
    assert set(env) <= variables_klaxon_reads(), set(env) - variables_klaxon_reads()
    # As Heroku would set them: the add-ons' URLs, a generated key, the required URL.
    values = {name: spec["value"] for name, spec in env.items() if "value" in spec}
    settings = load_settings(
        {
            **values,
            "DATABASE_URL": "postgres://u:p@ec2-1-2-3-4.compute-1.amazonaws.com:5432/d1",
            "REDIS_URL": "rediss://:p@ec2-5-6-7-8.compute-1.amazonaws.com:25061",
            "KLAXON_SECRET_KEY": "0" * 64,
            "KLAXON_PUBLIC_URL": "https://klaxon-example.herokuapp.com",
        }
    )
    assert settings.redis_tls.verify == "none"  # Heroku's Redis certificate is self-signed


def test_the_variable_check_would_catch_a_name_klaxon_does_not_read() -> None:
    known = variables_klaxon_reads()
    assert {"KLAXON_SECRET_KEY", "KLAXON_REDIS_TLS_VERIFY", "DATABASE_LISTEN_URL"} <= known
    assert "KLAXON_SECRET" not in known and "REDIS_TLS_URL" not in known


# -- uv.lock ----------------------------------------------------------------------------------


def uv_lock_check(project: Path) -> subprocess.CompletedProcess[str]:
    uv = str(Path(sys.executable).parent / "uv")
    return subprocess.run(
        [uv, "lock", "--check", "--offline", "--directory", str(project)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_lock_matches_pyproject() -> None:
    done = uv_lock_check(REPO)
    assert done.returncode == 0, done.stderr


def test_the_lock_check_fails_when_pyproject_gains_a_dependency(tmp_path: Path) -> None:
    for name in ("pyproject.toml", "uv.lock", "README.md"):
        shutil.copy(REPO / name, tmp_path / name)
    pyproject = tmp_path / "pyproject.toml"
    text = pyproject.read_text()
    pyproject.write_text(
        text.replace("dependencies = [\n", 'dependencies = [\n    "six>=1.17",\n', 1)
    )
    assert pyproject.read_text() != text
    done = uv_lock_check(tmp_path)
    # With the new package in uv's cache, uv says the lock needs updating; on a machine whose
    # cache never saw it (a fresh clone: pip installed the lock), resolving it offline fails
    # first. Either way `make lint` refuses the lock, which is what this test is about.
    mismatch = ("needs to be updated", "the network was disabled")
    assert done.returncode != 0, done.stderr
    assert any(reason in done.stderr for reason in mismatch), done.stderr


# -- Kubernetes -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_each_manifest_validates_against_the_kubernetes_schemas(path: Path) -> None:
    for doc in documents(path):
        kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)


def test_the_validation_rejects_a_misspelt_field() -> None:
    web = copy.deepcopy(by_kind("Deployment")["klaxon-web"])
    web["spec"]["template"]["spec"]["terminationGracePeriod"] = 30
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(web, kubernetes_validate.latest_version(), strict=True)


def container(name: str) -> dict[str, Any]:
    pod = by_kind("Deployment")[f"klaxon-{name}"]["spec"]["template"]["spec"]
    (only,) = pod["containers"]
    return dict(only)


def test_web_starts_and_serves_on_readyz_and_lives_on_livez() -> None:
    web = container("web")
    assert web["args"] == ["web"]
    assert web["startupProbe"]["httpGet"]["path"] == "/readyz"
    assert web["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert web["livenessProbe"]["httpGet"]["path"] == "/livez"
    # The startup probe outlasts the preflight budget (20 s) plus a worker's boot (30 s).
    startup = web["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 50 + 20


@pytest.mark.parametrize("process", ["worker", "engine"])
def test_worker_and_engine_probe_their_own_liveness_promise(process: str) -> None:
    spec = container(process)
    assert spec["args"] == [process]
    for probe in ("startupProbe", "livenessProbe"):
        assert spec[probe]["exec"]["command"] == ["klaxon", "alive", process]
    assert "readinessProbe" not in spec  # they serve no traffic


@pytest.mark.parametrize("process", ["web", "worker", "engine"])
def test_every_pod_runs_as_non_root_on_a_read_only_root_with_a_tmp_and_heroku_grace(
    process: str,
) -> None:
    pod = by_kind("Deployment")[f"klaxon-{process}"]["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] == HEROKU_STOP
    assert pod["securityContext"]["runAsNonRoot"] is True
    spec = container(process)
    assert spec["securityContext"]["readOnlyRootFilesystem"] is True
    assert {m["mountPath"] for m in spec["volumeMounts"]} == {"/tmp"}
    assert spec["envFrom"] == [{"secretRef": {"name": "klaxon"}}]


def test_two_engines_with_a_disruption_budget_keeping_one() -> None:
    engine = by_kind("Deployment")["klaxon-engine"]
    assert engine["spec"]["replicas"] == 2
    budget = by_kind("PodDisruptionBudget")["klaxon-engine"]
    assert budget["spec"]["minAvailable"] == 1
    assert budget["spec"]["selector"] == engine["spec"]["selector"]


def test_the_example_secret_names_only_variables_klaxon_reads() -> None:
    (secret,) = by_kind("Secret").values()
    assert set(secret["stringData"]) <= variables_klaxon_reads()


# -- docker-compose.yml and the Dockerfile ------------------------------------------------------


def test_compose_runs_two_of_each_process_against_postgres_and_redis() -> None:
    services = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    assert set(services) == {"postgres", "redis", "web", "worker", "engine"}
    for process in ("web", "worker", "engine"):
        service = services[process]
        assert service["command"] == [process]
        assert service["deploy"]["replicas"] == 2
        assert service["stop_grace_period"] == f"{HEROKU_STOP}s"
        assert set(service["environment"]) <= variables_klaxon_reads()
        assert set(service["depends_on"]) == {"postgres", "redis"}


def dockerfile_stages() -> list[list[str]]:
    """The Dockerfile's instructions (continuation lines joined), split at each FROM."""
    text = re.sub(r"\\\n\s*", " ", (REPO / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines()]
    stages: list[list[str]] = []
    for line in lines:
        if not line or line.startswith("#") or line.startswith("ARG"):
            continue
        if line.startswith("FROM"):
            stages.append([])
        stages[-1].append(line)
    return stages


def test_the_dockerfile_builds_with_build_sh_and_runs_klaxon_as_non_root_from_a_slim_base() -> None:
    build, final = dockerfile_stages()
    assert build[0].startswith("FROM python:") and build[0].endswith("-slim AS build")
    assert final[0] == "FROM python:${PYTHON_VERSION}-slim"
    assert "RUN DIST=/tmp/dist deploy/build.sh /opt/klaxon" in build  # no extra: no servers
    copies = [line.split()[1:] for line in final if line.startswith("COPY")]
    assert copies == [["--from=build", "/opt/klaxon", "/opt/klaxon"], ["Procfile", "/app/Procfile"]]
    assert "USER 10001:10001" in final
    assert final[-2:] == ['ENTRYPOINT ["klaxon"]', 'CMD ["web"]']
    assert not [line for line in final if line.startswith("RUN") and "apt-get" in line]


def test_everything_the_dockerfile_copies_exists_and_is_not_docker_ignored() -> None:
    build, _final = dockerfile_stages()
    ignored = {
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for line in build:
        if line.startswith("COPY"):
            for source in line.split()[1:-1]:
                assert (REPO / source).exists(), source
                assert source.split("/")[0] not in ignored, source
