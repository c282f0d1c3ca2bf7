"""A conversation's Rasa sessions and what each was about, for the agents' "Earlier conversations with
the bot" (issue 19).

Rasa starts a session with ``action_session_start`` followed by ``session_started`` (on the first
message, and again after ``session_config.session_expiration_time`` of silence), and its tracker
store keeps every session's events under the one conversation id. The split here is on those
events only: nothing a customer types can start or join a session of someone else's conversation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable

from bot.conversation.closing import handed_off
from bot.handoff.packet import Role, TranscriptLine, summarise, transcript_from_events

SESSION_STARTED, SESSION_START_ACTION = "session_started", "action_session_start"


@dataclass(frozen=True)
class Session:
    index: int  # 0 for the conversation's first session: stable while the conversation grows
    started_at: datetime
    ended_at: datetime
    customer_messages: int
    first_question: str | None
    faq_answered: list[str]
    handed_off: bool
    transcript: list[TranscriptLine] = field(repr=False)


def split_sessions(events: Iterable[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Rasa event dicts, oldest first, cut before each session's start (its ``action_session_start``
    goes with the session it starts); events before any start form the first session."""
    sessions: list[list[dict[str, Any]]] = [[]]
    for e in events:
        current = sessions[-1]
        opened = bool(current) and current[-1].get("name") == SESSION_START_ACTION
        if e.get("event") == SESSION_STARTED and len(current) > opened:
            sessions.append([current.pop()] if opened else [])
        sessions[-1].append(e)
    return [s for s in sessions if s]


def _at(event: dict[str, Any]) -> datetime:
    return datetime.fromtimestamp(float(event.get("timestamp") or 0), tz=timezone.utc)


def summarise_session(index: int, events: list[dict[str, Any]]) -> Session:
    transcript = transcript_from_events(events)
    summary = summarise(events, transcript)
    return Session(index=index, started_at=_at(events[0]), ended_at=_at(events[-1]),
                   customer_messages=sum(line.role == Role.customer for line in transcript),
                   first_question=summary.first_question, faq_answered=summary.faq_tried,
                   handed_off=handed_off(events), transcript=transcript)


def earlier_sessions(events: Iterable[dict[str, Any]], before: datetime) -> list[Session]:
    """The sessions that ended before the one in which ``before`` falls (a hand-off's creation),
    newest first; sessions in which the customer said nothing are left out."""
    sessions = [summarise_session(n, s) for n, s in enumerate(split_sessions(events))]
    moment = before if before.tzinfo else before.replace(tzinfo=timezone.utc)
    current = max((s.index for s in sessions if s.started_at <= moment), default=0)
    return [s for s in reversed(sessions[:current]) if s.customer_messages]
