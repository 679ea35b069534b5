"""Schemas of /api/v1/services."""

from __future__ import annotations

import uuid

from pydantic import Field
from pydantic.json_schema import SkipJsonSchema

from app.http.api.schemas.base import Description, Input, Name, Output, OutTime, Patch, Time


class ServiceCreate(Input):
    name: Name
    description: Description = ""
    maintenance_until: Time | None = Field(
        None, description="alerts are held back until this time (a maintenance window)"
    )
    escalation_policy_id: uuid.UUID | None = Field(None, description="who is paged, and when")


class ServicePatch(Patch):
    NULLABLE = frozenset({"maintenance_until", "escalation_policy_id"})

    name: Name | SkipJsonSchema[None] = None
    description: Description | SkipJsonSchema[None] = None
    maintenance_until: Time | None = None
    escalation_policy_id: uuid.UUID | None = Field(None, description="null: page no one")


class Service(Output):
    id: str
    name: str
    description: str
    escalation_policy_id: str | None = Field(description="the escalation policy paging its alerts")
    maintenance_until: OutTime | None
    created_at: OutTime
    updated_at: OutTime


class ServicePage(Output):
    items: list[Service]
    next_cursor: str | None
