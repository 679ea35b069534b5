"""The import contracts in pyproject.toml ([tool.importlinter], run by `make lint`) hold for the
code, and they catch what they forbid: a copy of the tree with one forbidden import fails them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
PACKAGES = ("app", "workers", "config")


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    """lint-imports on `tree` (its pyproject.toml, its packages before any installed ones)."""
    # Wide enough that no contract's line is wrapped.
    env = {**os.environ, "PYTHONPATH": str(tree), "COLUMNS": "400"}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the packages and pyproject.toml, to break the contracts in."""
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def broken_contracts(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The names of the contracts lint-imports reports broken."""
    return [line.split(" BROKEN")[0] for line in result.stdout.splitlines() if " BROKEN" in line]


def test_the_code_keeps_every_contract(tree: Path) -> None:
    result = lint_imports(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_app_importing_workers_breaks_the_layers(tree: Path) -> None:
    (tree / "app" / "alerts" / "sneaky.py").write_text("from workers.engine import run_engine\n")
    result = lint_imports(tree)
    assert result.returncode == 1
    # (workers.engine reaches app.commands, so the domain also reaches above its layer)
    assert "workers -> app -> config: app never imports workers, config imports neither" in (
        broken_contracts(result)
    )
    assert "app.alerts.sneaky -> workers.engine" in result.stdout


LAYERS = "app layers: commands -> http -> domains -> platform"


def test_a_domain_importing_the_http_layer_is_refused(tree: Path) -> None:
    (tree / "app" / "alerts" / "sneaky.py").write_text(
        "from app.http.actions import actions_blueprint\n"
    )
    result = lint_imports(tree)
    assert result.returncode == 1
    # (app.http.actions imports app.alerts, so it also closes a cycle)
    assert LAYERS in broken_contracts(result)
    assert "app.alerts.sneaky -> app.http.actions" in result.stdout


def test_the_platform_importing_a_domain_is_refused(tree: Path) -> None:
    with (tree / "app" / "platform" / "listener.py").open("a") as listener:
        listener.write("\nfrom app.alerts import store  # noqa\n")
    result = lint_imports(tree)
    assert result.returncode == 1
    assert LAYERS in broken_contracts(result)
    assert "app.platform.listener -> app.alerts.store" in result.stdout


def test_the_http_layer_importing_the_command_line_is_refused(tree: Path) -> None:
    with (tree / "app" / "http" / "health.py").open("a") as health:
        health.write("\nfrom app.commands import main  # noqa\n")
    result = lint_imports(tree)
    assert result.returncode == 1
    assert broken_contracts(result) == [LAYERS]
    assert "app.http.health -> app.commands.main" in result.stdout


def test_a_package_outside_every_layer_is_refused(tree: Path) -> None:
    (tree / "app" / "misc").mkdir()
    (tree / "app" / "misc" / "__init__.py").write_text("")
    result = lint_imports(tree)
    assert result.returncode == 1
    assert broken_contracts(result) == [LAYERS]
    assert "app.misc" in result.stdout


def test_an_import_cycle_is_refused(tree: Path) -> None:
    # app.oncall is imported by app.escalation (targets resolve schedules); importing back closes
    # a cycle between the two packages.
    (tree / "app" / "oncall" / "sneaky.py").write_text(
        "from app.escalation import policy_snapshot\n"
    )
    result = lint_imports(tree)
    assert result.returncode == 1
    assert broken_contracts(result) == [
        "No import cycles: no module or package imports one that imports it back"
    ]
    assert ".oncall -> .escalation" in result.stdout
