"""Every table has one writer: each INSERT, UPDATE and DELETE of a table lives in the module that
owns it (docs/architecture.md, Domain map: tables and their owners); other modules call it, or
compose the SQL fragments it exports into one statement.

The tables are those the migrations create; the writers are found by reading the SQL in every
module of app/ and workers/ (plain strings and the literal parts of f-strings, docstrings
excepted), and the tables given by name to `app.platform.sql_fragments.update_row`.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
MIGRATIONS = ROOT / "migrations" / "versions"
SOURCES = ("app", "workers")

# Tables no module writes, and who writes them instead.
NOT_WRITTEN_BY_CODE = {
    "message_events": "the trigger outgoing_messages_history keeps every message's status history",
    "installation": "its one row is inserted by the migration that creates it",
    "audit_staged": "the audit triggers stage each changed row and fold them away at commit",
}

_CREATED = re.compile(
    r"\bCREATE\s+(?:UNLOGGED\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)", re.IGNORECASE
)
_CREATED_BY_ALEMBIC = re.compile(r"\bop\.create_table\(\s*[\"'](\w+)[\"']")
# UPDATE that writes nothing: a row lock, an upsert's conflict branch (its INSERT names the table).
_NOT_A_WRITE = re.compile(r"\b(?:FOR\s+(?:NO\s+KEY\s+)?UPDATE|DO\s+UPDATE)\b", re.IGNORECASE)
_WRITE = re.compile(r"\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+(?:ONLY\s+)?(\w+)", re.IGNORECASE)


def created_tables() -> set[str]:
    tables: set[str] = set()
    for migration in MIGRATIONS.glob("*.py"):
        text = migration.read_text(encoding="utf-8")
        tables |= {name.lower() for name in _CREATED.findall(text)}
        tables |= set(_CREATED_BY_ALEMBIC.findall(text))
    return tables


def _docstrings(tree: ast.Module) -> set[int]:
    """The ids of the docstring nodes of the module, its classes and functions."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def sql_texts(tree: ast.Module) -> list[str]:
    """Every string in the module but docstrings; an f-string's literal parts joined around
    a `{}` for each value, so `f"INSERT INTO t ({columns})"` still reads as a write of t."""
    skip = _docstrings(tree)
    in_fstrings: set[int] = set()
    texts: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            parts = []
            for value in node.values:
                in_fstrings.add(id(value))
                literal = isinstance(value, ast.Constant) and isinstance(value.value, str)
                parts.append(value.value if literal else "{}")
            texts.append("".join(parts))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in skip | in_fstrings
        ):
            texts.append(node.value)
    return texts


def update_row_tables(tree: ast.Module) -> set[str]:
    """Tables named (as a literal) by calls of app.platform.sql_fragments.update_row."""
    tables: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or len(node.args) < 2:
            continue
        name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
        table = node.args[1]
        if name == "update_row" and isinstance(table, ast.Constant):
            tables.add(str(table.value))
    return tables


def written_tables(path: Path, tables: set[str]) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = update_row_tables(tree)
    for text in sql_texts(tree):
        for name in _WRITE.findall(_NOT_A_WRITE.sub(" ", text)):
            found.add(name.lower())
    return found & tables


def writers() -> dict[str, set[str]]:
    """Each table -> the modules (paths from the repository's root) that write it."""
    tables = created_tables()
    by_table: dict[str, set[str]] = defaultdict(set)
    for top in SOURCES:
        for path in sorted((ROOT / top).rglob("*.py")):
            for table in written_tables(path, tables):
                by_table[table].add(path.relative_to(ROOT).as_posix())
    return {table: by_table.get(table, set()) for table in tables}


def test_each_table_is_written_by_exactly_one_module() -> None:
    found = writers()
    shared = {table: sorted(mods) for table, mods in found.items() if len(mods) > 1}
    if shared:
        pytest.fail(
            "tables written by more than one module (move the writes into the owner, or compose "
            "the fragments it exports):\n"
            + "\n".join(f"  {table}: {', '.join(mods)}" for table, mods in sorted(shared.items()))
        )
    unwritten = sorted(t for t, mods in found.items() if not mods and t not in NOT_WRITTEN_BY_CODE)
    if unwritten:
        pytest.fail(f"tables no module writes (list them in NOT_WRITTEN_BY_CODE?): {unwritten}")


def test_the_exceptions_are_written_only_by_the_migrations() -> None:
    found = writers()
    migrations = " ".join(p.read_text(encoding="utf-8") for p in MIGRATIONS.glob("*.py"))
    for table in NOT_WRITTEN_BY_CODE:
        assert table in found, f"{table} is not a table the migrations create"
        assert not found[table], f"{table} is written by {sorted(found[table])}: it has an owner"
        assert re.search(rf"\bINSERT\s+INTO\s+{table}\b", migrations), table


def test_the_scanner_sees_writes_in_every_form(tmp_path: Path) -> None:
    module = tmp_path / "sample.py"
    module.write_text(
        "from app.platform.sql_fragments import update_row\n"
        "A = 'SELECT 1 FROM alerts FOR UPDATE'\n"
        "B = 'INSERT INTO alert_logs (id) VALUES (1) ON CONFLICT (id) DO UPDATE SET id = 1'\n"
        "C = f'INSERT INTO outgoing_messages ({A})'\n"
        "D = ('DELETE FROM ' 'users WHERE true')\n"
        "def f(conn):\n"
        "    '''UPDATE services is only prose here.'''\n"
        "    update_row(conn, 'heartbeat_monitors', '*', 'true', {}, {})\n",
        encoding="utf-8",
    )
    tables = {"alerts", "alert_logs", "outgoing_messages", "users", "services"}
    assert written_tables(module, tables | {"heartbeat_monitors"}) == {
        "alert_logs",
        "outgoing_messages",
        "users",
        "heartbeat_monitors",
    }
