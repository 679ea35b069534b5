"""The OpenAPI document served at /api/v1/openapi.json is byte-identical to its snapshot.

It proves that moving modules changed none of the API's routes, schemas or scopes. After an
intended change to the API, write the snapshot again from a running app's
`GET /api/v1/openapi.json` (the response body, unchanged) into
tests/fixtures/snapshots/openapi.json.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

SNAPSHOT = Path(__file__).parents[1] / "fixtures" / "snapshots" / "openapi.json"


def test_the_served_document_matches_the_snapshot_byte_for_byte(client: Any) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.data == SNAPSHOT.read_bytes()
