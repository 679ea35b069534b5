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
    team_id: uuid.UUID | None = Field(
        None, description="the owning team: its managers change this (only admins may omit it)"
    )


class ServicePatch(Patch):
    NULLABLE = frozenset({"team_id", "maintenance_until", "escalation_policy_id"})

    name: Name | SkipJsonSchema[None] = None
    description: Description | SkipJsonSchema[None] = None
    maintenance_until: Time | None = None
    escalation_policy_id: uuid.UUID | None = Field(None, description="null: page no one")
    team_id: uuid.UUID | None = Field(
        None, description="move to another team (managing both); null: no team (admins only)"
    )


class Service(Output):
    id: str
    name: str
    description: str
    escalation_policy_id: str | None = Field(description="the escalation policy paging its alerts")
    maintenance_until: OutTime | None
    created_at: OutTime
    updated_at: OutTime
    team_id: str | None = Field(description="the owning team (null: no team, admins only)")


class ServicePage(Output):
    items: list[Service]
    next_cursor: str | None
