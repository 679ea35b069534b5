"""Alert details for the webhook senders: short markdown, most useful part first.

The store clips details to 6 KiB, so the order matters: the description, then links (what an
on-call person clicks), then labels and annotations.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from app.ingest import text

FIRST_LABELS = ("alertname", "severity", "instance", "job")  # shown first, in this order


def compose(*sections: str) -> str:
    """Non-empty sections joined by blank lines."""
    return "\n\n".join(s for s in sections if s.strip())


def key_values(title: str, values: Mapping[str, str], skip: Iterable[str] = ()) -> str:
    """`title:` then `- key: value` lines (well-known labels first, the rest sorted)."""
    skipped = set(skip)
    keys = [k for k in FIRST_LABELS if k in values] + sorted(
        k for k in values if k not in FIRST_LABELS
    )
    lines = [f"- {k}: {_one_line(values[k])}" for k in keys if k not in skipped]
    return f"{title}:\n" + "\n".join(lines) if lines else ""


def links(pairs: Iterable[tuple[str, str]]) -> str:
    """`Name: url` lines for the links that are set."""
    return "\n".join(f"{name}: {url.strip()}" for name, url in pairs if url and url.strip())


def _one_line(value: str) -> str:
    return " ".join(text.clean(value).split())
