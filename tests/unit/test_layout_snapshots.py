"""Snapshots that prove a reshaping of the code changed no behaviour a user can see.

`klaxon --help` and every subcommand's help must read the same, byte for byte, before and after
any move of modules (the OpenAPI document's snapshot is in
tests/integration/test_openapi_snapshot.py, since serving it needs the app's database).
After an intended change to the command line, write the snapshot again with
`.venv/bin/python -m tests.unit.test_layout_snapshots`.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
from pathlib import Path

import pytest

from app.commands import main

CLI_HELP = Path(__file__).parents[1] / "fixtures" / "snapshots" / "cli_help.txt"
# argparse wraps to the terminal's width; the snapshot is taken at a fixed one.
COLUMNS = "100"


def subcommands() -> list[str]:
    parser = main._parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return list(action.choices)
    raise AssertionError("klaxon has no subcommands")


def help_text(argv: list[str]) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        main.main([*argv, "--help"])
    return out.getvalue()


def all_help() -> str:
    """`klaxon --help`, then each subcommand's `--help`, each under the command that printed it."""
    commands = [[], *([name] for name in subcommands())]
    return "".join(
        f"$ klaxon {' '.join([*argv, '--help'])}\n{help_text(argv)}\n" for argv in commands
    )


def test_every_help_text_is_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", COLUMNS)
    assert all_help() == CLI_HELP.read_text(encoding="utf-8")


def test_the_snapshot_covers_every_subcommand() -> None:
    snapshot = CLI_HELP.read_text(encoding="utf-8")
    for name in subcommands():
        assert f"$ klaxon {name} --help\n" in snapshot


if __name__ == "__main__":
    os.environ["COLUMNS"] = COLUMNS
    CLI_HELP.write_text(all_help(), encoding="utf-8")
