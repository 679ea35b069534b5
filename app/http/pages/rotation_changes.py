"""The rotation page's forms: its settings, the participants' order (move up or down, or a
whole new order from a drag in rotations.js), adding and removing a participant, advancing,
setting the current participant, and deleting the rotation.

Each uses the API's own rule and code: TEAM_MOVE with app.http.api.rotations.change_rotation
(PATCH /rotations/<id>), TEAM with make_active (POST …/advance and …/active) and with the
delete. Changing who takes part keeps whoever is on call now on call (the API's PATCH replaces
the list as given); a reorder or removal made from a page older than the order it showed is
refused with 409 rather than applied to an order nobody saw. View names are the API's
operation names, so the audit log records the same action whichever way a change was made.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from flask import Response, redirect, request

from app.directory import users
from app.http.api.rotations import change_rotation, make_active
from app.http.api.routing import NotFound, transaction
from app.http.pages import rotation_forms
from app.http.pages.base import pages_blueprint, viewer
from app.http.permissions import TEAM, TEAM_MOVE
from app.oncall import handoffs
from app.oncall import rotations as stored_rotations
from app.platform.errors import ApiError, invalid

ONE = "/rotations/<uuid:rotation_id>"
Conn = Any


class StaleOrder(ApiError):
    """The page showed another participant order than the rotation has now."""

    status = 409
    code = "conflict"


# Settings, order, adding and removing are all PATCH /rotations/<id> in the API's terms: one
# view, so the audit log names them by the API's operation, update_rotation.
@pages_blueprint.post(ONE)
@pages_blueprint.post(ONE + "/order")
@pages_blueprint.post(ONE + "/participants")
@pages_blueprint.post(ONE + "/participants/remove")
def update_rotation(rotation_id: UUID) -> Response:
    """Change the rotation: its settings, order, or participants (by the form's path)."""
    viewer(TEAM_MOVE, "write")
    rule = request.url_rule.rule if request.url_rule is not None else ""
    change, notice, anchor = _CHANGES[rule.rpartition(">")[2]]
    with transaction() as conn:
        change(conn, rotation_id)
    return rotation_forms.back(str(rotation_id), notice, anchor)


def _save_settings(conn: Conn, rotation_id: UUID) -> None:
    """The name, shift length and type, first handoff and zone."""
    change_rotation(conn, rotation_id, rotation_forms.patch_fields(request.form), None)


def _reorder(conn: Conn, rotation_id: UUID) -> None:
    """A new order: `move` ("<position>:up" or ":down", the buttons) or `order` (every
    position in its new place, comma-separated: a drag)."""
    row = _locked(conn, rotation_id)
    perm = _permutation(request.form, len(row["participants"]))
    _rearrange(conn, row, [row["participants"][p] for p in perm], perm.index)


def _add(conn: Conn, rotation_id: UUID) -> None:
    """Add a person at the end of the order."""
    user_id = rotation_forms.form_user(request.form, "user_id")
    if users.missing_users(conn, [user_id]):
        raise invalid("user_id", "no such person")
    row = _locked(conn, rotation_id, check_version=False)
    _rearrange(conn, row, [*row["participants"], user_id], lambda p: p)


def _remove(conn: Conn, rotation_id: UUID) -> None:
    """Remove the participant at `position`; if they are on call, the next one takes over."""
    row = _locked(conn, rotation_id)
    count = len(row["participants"])
    removed = _position(request.form.get("position", ""), count, "position")
    kept = [u for i, u in enumerate(row["participants"]) if i != removed]

    def moved(p: int) -> int:
        return p - 1 if p > removed else p % max(count - 1, 1)

    _rearrange(conn, row, kept, moved)


_CHANGES: dict[str, tuple[Callable[[Conn, UUID], None], str, str]] = {
    "": (_save_settings, "saved", ""),
    "/order": (_reorder, "reordered", "#participants"),
    "/participants": (_add, "added", "#participants"),
    "/participants/remove": (_remove, "removed", "#participants"),
}


def _permutation(form: Any, count: int) -> list[int]:
    """The new order as old positions, from a move button or a dragged order."""
    perm = list(range(count))
    move = form.get("move", "")
    if move:
        position, _, direction = move.partition(":")
        if not position.isdigit() or int(position) >= count or direction not in ("up", "down"):
            raise invalid("move", "must be a position and up or down")
        p = int(position)
        q = p - 1 if direction == "up" else p + 1
        if 0 <= q < count:
            perm[p], perm[q] = perm[q], perm[p]
        return perm
    parts = form.get("order", "")[: 4 * count + 8].split(",")
    if not all(x.isdigit() for x in parts) or sorted(map(int, parts)) != perm:
        raise invalid("order", f"must list each position 0 to {count - 1} once")
    return [int(x) for x in parts]


@pages_blueprint.post(ONE + "/advance")
def advance_rotation(rotation_id: UUID) -> Response:
    """Hand off to the next participant now (POST /api/v1/rotations/<id>/advance)."""
    viewer(TEAM, "write")
    with transaction() as conn:
        make_active(conn, rotation_id, lambda current, count: (current + 1) % count)
    return rotation_forms.back(str(rotation_id), "advanced", "#now")


@pages_blueprint.post(ONE + "/active")
def set_active_participant(rotation_id: UUID) -> Response:
    """Put the participant at `index` on call now (POST /api/v1/rotations/<id>/active)."""
    viewer(TEAM, "write")
    with transaction() as conn:
        row = _locked(conn, rotation_id)
        index = _position(request.form.get("index", ""), len(row["participants"]), "index")
        make_active(conn, rotation_id, lambda _current, _count: index)
    return rotation_forms.back(str(rotation_id), "activated", "#now")


@pages_blueprint.post(ONE + "/delete")
def delete_rotation(rotation_id: UUID) -> Response:
    """Delete the rotation and the schedule rules that target it."""
    viewer(TEAM, "write")
    with transaction() as conn:
        if not stored_rotations.delete_rotation(conn, str(rotation_id)):
            raise NotFound(f"no rotation with id {rotation_id}")
    return redirect("/rotations?did=deleted", code=303)  # type: ignore[return-value]


def _locked(conn: Conn, rotation_id: UUID, check_version: bool = True) -> dict[str, Any]:
    """The rotation, locked; 409 when the form was made from another participant order."""
    row = stored_rotations.lock_rotation(conn, str(rotation_id))
    if row is None:
        raise NotFound(f"no rotation with id {rotation_id}")
    if check_version and request.form.get("version") != rotation_forms.version(row["participants"]):
        raise StaleOrder(
            "the participants changed since this page was shown: reload it and try again"
        )
    return row


def _position(value: str, count: int, field: str) -> int:
    if not value.isdigit() or int(value) >= count:
        raise invalid(field, f"must be a position below {count}")
    return int(value)


def _rearrange(
    conn: Conn, row: dict[str, Any], participants: list[str], moved: Callable[[int], int]
) -> None:
    """Store the new participant list (validated as the API's PATCH) and keep the position on
    call now on call: `moved` maps an old position to its new one."""
    participants = rotation_forms.participants_patch(participants)
    before = stored_rotations.rotation_value(row)
    now = datetime.now(UTC)
    current = handoffs.position_at(before, now) if before.participants else None
    keep = moved(before.start_index if current is None else current)
    change_rotation(conn, UUID(row["id"]), {}, participants)
    make_active(conn, UUID(row["id"]), lambda _current, _count: keep)
