"""Schemas of /api/v1/services/<id>/on-call: who a service's escalation policy pages, by step."""

from __future__ import annotations

from pydantic import Field

from app.http.api.schemas.base import Output, OutTime
from app.http.api.schemas.escalation_policies import TargetType


class OnCallUser(Output):
    id: str
    name: str


class OnCallTarget(Output):
    type: TargetType
    id: str
    name: str
    users: list[OnCallUser] = Field(description="on call through this target (channels: none)")


class OnCallStep(Output):
    id: str
    position: int
    delay_minutes: int
    targets: list[OnCallTarget]


class ServiceOnCall(Output):
    service_id: str
    at: OutTime
    escalation_policy_id: str | None
    escalation_policy_name: str | None
    steps: list[OnCallStep]
