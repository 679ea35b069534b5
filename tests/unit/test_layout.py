"""The layout docs/architecture.md describes holds: app/ is packages only, and the HTTP layer
holds no SQL (its views call the domain modules that own the tables)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

APP = Path(__file__).parents[2] / "app"
SQL = re.compile(r"\b(SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM)\b", re.S)


def sql_in(path: Path) -> list[str]:
    """SQL found in a module's string literals (f-strings' literal parts included), and calls
    of `.execute(`: either means the module talks to Postgres itself."""
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if SQL.search(node.value):
                found.append(f"line {node.lineno}: {node.value.strip()[:60]!r}")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("execute", "executemany")
        ):
            found.append(f"line {node.lineno}: .{node.func.attr}(")
    return found


def test_the_http_layer_holds_no_sql() -> None:
    offenders = {
        str(path.relative_to(APP.parent)): found
        for path in sorted((APP / "http").rglob("*.py"))
        if (found := sql_in(path))
    }
    assert offenders == {}


def test_the_scan_finds_sql(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text('Q = f"""\nSELECT id FROM {T} WHERE x"""\n\ndef f(c):\n    c.execute(Q)\n')
    assert len(sql_in(module)) == 2


def test_app_holds_only_packages() -> None:
    modules = sorted(p.name for p in APP.glob("*.py") if p.name != "__init__.py")
    assert modules == []
    for package in (p for p in APP.iterdir() if p.is_dir() and p.name != "__pycache__"):
        if package.name == "templates":
            continue
        init = package / "__init__.py"
        assert init.is_file(), package
        assert ast.get_docstring(ast.parse(init.read_text())), f"{init} says what it holds"
