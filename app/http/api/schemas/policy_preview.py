"""Schemas of /api/v1/escalation-policies/<id>/preview: what the policy would do to an alert
raised now (app.escalation.preview)."""

from __future__ import annotations

from pydantic import Field

from app.http.api.schemas.base import Output, OutTime
from app.http.api.schemas.escalation_policies import TargetType


class PreviewContact(Output):
    minute: int = Field(description="minutes after the alert is raised")
    method_type: str
    method_name: str
    address: str


class PreviewPerson(Output):
    user_id: str
    name: str
    contacts: list[PreviewContact] = Field(
        description="notifications from this engagement, before the person is engaged again"
    )
    problem: str | None = Field(description="why nothing can reach them (null: something can)")


class PreviewTarget(Output):
    type: TargetType
    id: str
    name: str
    people: list[PreviewPerson] = Field(description="on call through it then (channels: none)")


class PreviewFiring(Output):
    minute: int = Field(description="minutes after the alert is raised")
    at: OutTime
    step_index: int
    repeat: int = Field(description="0: the first pass over the steps")
    targets: list[PreviewTarget]


class PolicyPreview(Output):
    policy_id: str
    now: OutTime = Field(description="when the alert of the preview is raised")
    firings: list[PreviewFiring]
    warnings: list[str] = Field(description="where nobody is reachable, in words")
    more_warnings: int = Field(description="warnings left out of `warnings`")
