"""`make screenshots`' core (scripts/screenshots.py `capture`) run once against gunicorn on the
demo dataset, so it cannot rot: every page of PAGES is written at desktop and phone size, as
a PNG of that size (in the tests' own browser, so it can share a worker with the other
browser tests), and none of them is the sign-in page standing in for a signed-in page."""

from __future__ import annotations

import importlib.util
import struct
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from playwright.sync_api import Browser

from app.commands import demo_data
from tests.support.procs import KlaxonProcess

pytestmark = pytest.mark.system
SCRIPT = Path(__file__).parents[2] / "scripts" / "screenshots.py"


def load_script() -> Any:
    spec = importlib.util.spec_from_file_location("klaxon_screenshots", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", path
    width, height = struct.unpack(">II", head[16:24])
    return int(width), int(height)


def test_every_page_is_captured_at_both_sizes_and_a_page_that_is_not_itself_stops_the_run(
    klaxon_env: dict[str, str],
    start_web: Callable[..., tuple[KlaxonProcess, int]],
    db_conn: psycopg.Connection[Any],
    database_url: str,
    tmp_path: Path,
    browser: Browser,
) -> None:
    shots = load_script()
    seeded = demo_data.seed(db_conn)
    _proc, port = start_web({**klaxon_env, "KLAXON_PUBLIC_URL": "http://127.0.0.1"})
    base_url = f"http://127.0.0.1:{port}"
    params = shots.page_params(database_url)
    login = (seeded.email, seeded.password)
    written = shots.capture(
        base_url, *login, tmp_path / "all", params, browser=browser, settle="load"
    )
    expected = {f"{s.name}-{v}.png" for s in shots.PAGES for v in shots.VIEWPORTS}
    assert {p.name for p in written} == expected
    for path in written:
        width, height = png_size(path)
        view_width, view_height = shots.VIEWPORTS[path.stem.rsplit("-", 1)[1]]
        assert width == view_width, path  # wider would mean the page scrolls sideways
        assert height >= view_height, path

    missing = shots.Shot("missing", "/alerts/999999999")
    with pytest.raises(shots.PageFailed, match="missing: /alerts/999999999 answered 404"):
        shots.capture(
            base_url, *login, tmp_path / "missing", {}, [missing], browser=browser, settle="load"
        )
