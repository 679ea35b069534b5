"""A thin client for /api/v1 in integration tests: Flask's test client plus a bearer key."""

from __future__ import annotations

from typing import Any

PREFIX = "/api/v1"


def offline_app() -> Any:
    """Klaxon's app with unreachable servers: enough for its url_map and OpenAPI document,
    which need no database, at test collection time."""
    from app import create_app
    from config.settings import load_settings

    env = {
        "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
        "REDIS_URL": "redis://127.0.0.1:1",
        "KLAXON_SECRET_KEY": "x" * 40,
    }
    return create_app(load_settings(env))


class Api:
    """Requests to /api/v1 carrying `Authorization: Bearer <token>` (none when token is None)."""

    def __init__(self, client: Any, token: str | None) -> None:
        self.client = client
        self.token = token

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return {**headers, **(extra or {})}

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = self.headers(kwargs.pop("headers", None))
        return self.client.open(PREFIX + path, method=method, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        if json is not None:
            kwargs["json"] = json
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        if json is not None:
            kwargs["json"] = json
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.request("DELETE", path, **kwargs)

    def walk(self, path: str, limit: int, **params: Any) -> list[dict[str, Any]]:
        """Every item of a list, following next_cursor; asserts each page's shape."""
        items: list[dict[str, Any]] = []
        cursor = None
        for _ in range(1000):
            query = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
            response = self.get(path, query_string=query)
            assert response.status_code == 200, response.get_json()
            body = response.get_json()
            assert set(body) == {"items", "next_cursor"}
            assert len(body["items"]) <= limit
            items.extend(body["items"])
            cursor = body["next_cursor"]
            if cursor is None:
                return items
        raise AssertionError("pagination did not end")


def created(response: Any) -> dict[str, Any]:
    """The body of a 201 answer (the test fails with the body otherwise)."""
    assert response.status_code == 201, response.get_json()
    return dict(response.get_json())
