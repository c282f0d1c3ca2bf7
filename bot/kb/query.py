"""What a customer's message becomes before it is encoded."""

from __future__ import annotations


def clean_query(text: str | None, max_chars: int) -> str:
    """Collapse whitespace and cut overlong messages; the empty string means nothing to search."""
    text = " ".join((text or "").split())
    return text[:max_chars]
