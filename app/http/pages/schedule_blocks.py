"""The HTML of a shift's block in a schedule's calendar, written in Python rather than a Jinja
macro: a busy month draws hundreds of blocks, and a macro call per block costs more than the
whole computation (bench/schedule_month.py).

A block carries its whole shift as GET …/shifts answers it (`data-start`, `data-end` in the
API's RFC 3339 UTC, `data-user-id`) so the page can be checked against the API; it is a button
(opening the override dialog, app/http/static/web/schedules.js) for those who may override it
or ask for cover, else plain text. Its source is written out as a tag as well as a style.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape

from app.http.api.schemas.base import rfc3339
from app.http.pages.schedule_calendar import Piece, local_clock
from app.oncall.shift_sources import Removal, SourcedShift

SOURCE_TAGS = {
    "rule": "rule",
    "temporary": "temporary",
    "add": "override: add",
    "replace": "override: replace",
    "remove": "override: remove",
}


@dataclass
class Blocks:
    """Draws blocks for one page: who the shifts' people are, who is looking, what they may do."""

    names: Mapping[str, str]
    viewer_id: str
    can_edit: bool
    _heads: dict[int, tuple[str, str, str]] = field(default_factory=dict)  # by id(shift)
    _names: dict[str, str] = field(default_factory=dict)  # escaped, by user id
    _times: dict[datetime, str] = field(default_factory=dict)  # rfc3339, by instant

    def __call__(self, piece: Piece) -> Markup:
        """One piece of a shift as a block."""
        head = self._heads.get(id(piece.shift))
        if head is None:
            head = self._heads[id(piece.shift)] = self._head(piece.shift)
        element, data, name = head
        tag = element.split(" ", 1)[0]
        return Markup(
            f'<{element} class="shift src-{piece.source}"{data}>'
            f'<span class="when">{piece.from_text}\u2013{piece.to_text}</span> '
            f'<span class="who">{name}</span> <span class="tag">{SOURCE_TAGS[piece.source]}</span> '
            f'<span class="hours">{round(piece.hours, 2):g} h</span></{tag}>'
        )

    def day(self, pieces: Sequence[Piece], removals: Sequence[Removal], tz: ZoneInfo) -> Markup:
        """A day's blocks, then its removals: one call from the template per day, not per block
        (a Jinja call costs about as much as drawing the block)."""
        drawn = [self(piece) for piece in pieces]
        drawn += [self.removal(removal, tz) for removal in removals]
        return Markup("".join(drawn))  # each part is Markup already: no second escaping

    def removal(self, removal: Removal, tz: ZoneInfo) -> Markup:
        """An override taking someone off call, struck through, tagged with its kind."""
        by = removal.by_user_id
        return Markup(
            f'<div class="removal" data-user-id="{escape(removal.user_id)}">'
            f'<span class="when">{local_clock(removal.start, tz)}\u2013'
            f"{local_clock(removal.end, tz)}</span> "
            f'<span class="who">{self._name(removal.user_id)}</span> '
            f'<span class="tag">override: {removal.kind}</span>'
            + (f' <span class="by">by {self._name(by)}</span>' if by else "")
            + "</div>"
        )

    def _name(self, user_id: str) -> str:
        name = self._names.get(user_id)
        if name is None:
            name = self._names[user_id] = str(escape(self.names.get(user_id, "someone")))
        return name

    def _time(self, moment: datetime) -> str:
        text = self._times.get(moment)
        if text is None:
            text = self._times[moment] = rfc3339(moment)
        return text

    def _head(self, sourced: SourcedShift) -> tuple[str, str, str]:
        """A shift's element, its data attributes and its person's name (escaped), once."""
        shift = sourced.shift
        mine = shift.user_id == self.viewer_id
        element = 'button type="button" aria-haspopup="dialog"' if self.can_edit or mine else "div"
        data = (
            f' data-start="{self._time(shift.start)}" data-end="{self._time(shift.end)}"'
            f' data-user-id="{escape(shift.user_id)}"' + (' data-mine="1"' if mine else "")
        )
        return element, data, self._name(shift.user_id)


@dataclass(frozen=True)
class Options:
    """A select's options, drawn once per page: a schedule's page has a person or target select
    in every rule's and temporary schedule's form, and a Jinja loop per select cost more than
    the calendar (bench/schedule_month.py). Each select marks its own choice."""

    html: str

    def marked(self, value: str | None) -> Markup:
        """The options with `value` (if any) selected."""
        if not value:
            return Markup(self.html)
        needle = f'value="{escape(value)}"'
        return Markup(self.html.replace(needle, needle + " selected", 1))


def options(pairs: Iterable[tuple[str, str]]) -> str:
    """`<option>`s for (value, label) pairs, escaped."""
    return "".join(f'<option value="{escape(v)}">{escape(label)}</option>' for v, label in pairs)
