"""A low rating after a conversation the bot handled alone (``bot.conversation.closing``): each
question the FAQ answered in that session goes to the inbox as ``low_rating``, linked to the
conversation, with the entry that answered it as the nearest one and its score."""

from __future__ import annotations

import logging
from typing import Any, Iterable

from bot.conversation.answered import answers, current_session
from bot.conversation.closing import LOW_RATINGS
from bot.inbox.store import LOW_RATING, InboxStore

log = logging.getLogger(__name__)


def record_bot_rating(store: InboxStore, conversation_id: str, events: Iterable[dict[str, Any]],
                      rating: int) -> int:
    """How many questions went to the inbox (none for a rating above 2). Best effort: the customer's
    reply never fails with the inbox."""
    if rating not in LOW_RATINGS:
        return 0
    try:
        seen: set[tuple[str, str]] = set()
        for a in answers(current_session(events)):
            if (a.question, a.faq_id) not in seen:
                seen.add((a.question, a.faq_id))
                store.add(conversation_id, a.question, LOW_RATING, a.faq_id, a.score)
        return len(seen)
    except Exception:  # noqa: BLE001 - a full disk or a locked database must not cost the reply
        log.exception("could not add conversation %s's rated questions to the inbox", conversation_id)
        return 0
