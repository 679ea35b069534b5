"""Schemas of /api/v1/services/<id>/integration-keys."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints

from app.directory import integration_keys
from app.http.api.schemas.base import Input, Output, OutTime, one_line

IntegrationType = Literal["generic", "grafana", "prometheusAlertmanager", "email"]

assert integration_keys.INTEGRATION_TYPES == (
    "generic",
    "grafana",
    "prometheusAlertmanager",
    "email",
)


class IntegrationKeyCreate(Input):
    type: IntegrationType = "generic"
    name: Annotated[str, StringConstraints(max_length=200), AfterValidator(one_line)] = ""


class IntegrationKey(Output):
    id: str
    service_id: str
    type: IntegrationType
    name: str
    created_at: OutTime
    last_used_at: OutTime | None
    revoked_at: OutTime | None


class IntegrationKeyCreated(IntegrationKey):
    token: str = Field(description="the secret: shown only in this response")
    url: str = Field(description="the ingest URL for senders, token included")


class IntegrationKeyPage(Output):
    items: list[IntegrationKey]
    next_cursor: str | None
