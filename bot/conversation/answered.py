"""Which of the customer's questions the FAQ answered in a conversation, read from its events (Rasa's
event dicts, oldest first): the widget's votes and the rating after a bot-only conversation use it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable


@dataclass(frozen=True)
class Answered:
    question: str  # the customer's message (a clicked "did you mean" option: the question it clarified)
    faq_id: str
    score: float | None  # None for a clicked option


def answers(events: Iterable[dict[str, Any]]) -> list[Answered]:
    """Every FAQ answer in ``events``, oldest first."""
    asked: str | None = None
    found: list[Answered] = []
    for e in events:
        if e.get("event") == "user" and not str(e.get("text") or "").startswith("/"):
            asked = e.get("text")
        elif e.get("event") == "bot" and asked:
            meta = e.get("metadata") or {}
            if isinstance(meta.get("faq_id"), str):
                found.append(Answered(asked, meta["faq_id"], meta.get("faq_score")))
    return found


def current_session(events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events since the latest ``session_started`` (all of them when there is none)."""
    events = list(events)
    starts = [n for n, e in enumerate(events) if e.get("event") == "session_started"]
    return events[starts[-1]:] if starts else events


def question_answered_by(events: Iterable[dict[str, Any]], faq_id: str) -> str | None:
    """The customer's message that the latest answer from entry ``faq_id`` replied to, or None if
    that entry did not answer in ``events``."""
    return next((a.question for a in reversed(answers(events)) if a.faq_id == faq_id), None)
