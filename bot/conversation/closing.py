"""The end of a conversation the bot handled alone: when the customer says goodbye or thanks after
FAQ answers, the bot asks once how it did (1-5); a rating of 1 or 2 sends the questions it answered to
the editors' inbox (``bot.inbox.ratings``). A conversation a person took part in is rated for the
person instead (``action_handoff_followup``), never twice.

The ``bot_rating`` slot records where the session stands: None (not asked), ``asked``, ``rated``.
"""

from __future__ import annotations

from typing import Any, Iterable

from bot.conversation.answered import answers, current_session

RATING_SLOT = "bot_rating"
ASKED, RATED = "asked", "rated"
LOW_RATINGS = (1, 2)


def handed_off(events: Iterable[dict[str, Any]]) -> bool:
    """A hand-off was opened (its status rides on the bot's reply) or a person wrote in ``events``."""
    for e in events:
        if e.get("event") != "bot":
            continue
        custom = (e.get("data") or {}).get("custom")
        if (isinstance(custom, dict) and "handoff" in custom) or (e.get("metadata") or {}).get("agent"):
            return True
    return False


def asks_for_rating(events: Iterable[dict[str, Any]], state: str | None) -> bool:
    """Ask now: not asked yet this session, the FAQ answered at least once in it, and no person took
    part in it."""
    if state is not None:
        return False
    session = current_session(events)
    return bool(answers(session)) and not handed_off(session)
