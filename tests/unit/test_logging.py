"""One JSON pipeline for structlog and the standard library; secrets never written."""

from __future__ import annotations

import json
import logging

import structlog

from config.logging import configure_logging


def lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_structlog_and_stdlib_lines_are_json_with_the_process_name(capsys):
    configure_logging("info", "json", process="worker")
    structlog.get_logger("klaxon.test").info("alert_created", alert_id="42")
    logging.getLogger("rq.worker").info("stdlib line")
    out = lines(capsys.readouterr().err)
    assert out[0]["event"] == "alert_created" and out[0]["alert_id"] == "42"
    assert out[0]["process"] == "worker" and out[0]["level"] == "info" and "timestamp" in out[0]
    assert out[1]["event"] == "stdlib line" and out[1]["logger"] == "rq.worker"
    assert out[1]["process"] == "worker"


def test_secret_fields_are_redacted(capsys):
    configure_logging("info", "json", process="web")
    structlog.get_logger().info(
        "incoming", token="tok-123", password="pw", authorization="Bearer x"
    )
    entry = lines(capsys.readouterr().err)[0]
    assert entry["token"] == entry["password"] == entry["authorization"] == "***"


def test_level_filters_debug(capsys):
    configure_logging("warning", "json")
    structlog.get_logger().info("quiet")
    structlog.get_logger().warning("loud")
    assert [e["event"] for e in lines(capsys.readouterr().err)] == ["loud"]


def test_access_paths_hide_heartbeat_monitor_ids():
    from config.gunicorn_logging import redact_path

    monitor = "0b6c7c4e-2f4b-4d53-8c43-1f0e7a9d2c11"
    assert redact_path(f"/api/v2/heartbeat/{monitor}") == "/api/v2/heartbeat/<id>"
    assert redact_path(f"/v1/api/heartbeat/{monitor}") == "/v1/api/heartbeat/<id>"
    assert redact_path("/calendar/klc_0b6c_secret.ics") == "/calendar/<id>"
    assert redact_path("/api/v2/generic/incoming") == "/api/v2/generic/incoming"
