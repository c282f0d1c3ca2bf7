"""What one FAQ turn adds to the inbox: a miss, a "did you mean" (which becomes a gap when the
customer answers "none of these"), or nothing (an answer, a chosen option, the FAQ unavailable);
an answer is counted for its entry's figures (``bot.inbox.figures``)."""

from __future__ import annotations

import logging

from bot.conversation.faq_turn import CHOOSE_INTENT, NONE_INTENT, TurnResult
from bot.inbox.figures import record_answer
from bot.inbox.store import CLARIFY, MISS, InboxStore
from bot.kb.decision import ANSWER as ANSWERED
from bot.kb.decision import CLARIFY as CLARIFIED
from bot.kb.decision import MISS as MISSED

log = logging.getLogger(__name__)
NOT_GAPS = {"utter_faq_unavailable", "utter_empty_message", "utter_faq_option_gone"}


def record_turn(store: InboxStore, conversation_id: str, text: str | None, intent: str | None,
                result: TurnResult) -> None:
    """Best effort: the customer's turn never waits on or fails with the inbox."""
    try:
        _record(store, conversation_id, text, intent, result)
    except Exception:  # noqa: BLE001 - a full disk or a locked database must not cost the reply
        log.exception("could not add conversation %s's question to the inbox", conversation_id)


def _record(store: InboxStore, conversation_id: str, text: str | None, intent: str | None,
            result: TurnResult) -> None:
    if result.slots.get("last_faq_decision") == ANSWERED and result.slots.get("last_faq_id"):
        record_answer(store.engine, conversation_id, str(result.slots["last_faq_id"]))
    if intent == NONE_INTENT:
        store.refuse_latest_clarify(conversation_id)
        return
    if intent == CHOOSE_INTENT or not text or not text.strip() or text.startswith("/"):
        return
    if any(m.response in NOT_GAPS for m in result.messages):
        return
    decision = result.slots.get("last_faq_decision")
    meta = next((m.metadata for m in result.messages if m.metadata.get("faq_decision")), {})
    if decision == MISSED:
        store.add(conversation_id, text, MISS, meta.get("faq_nearest"), result.slots.get("last_faq_score"))
    elif decision == CLARIFIED:
        options = meta.get("faq_options") or []
        store.add(conversation_id, text, CLARIFY, options[0] if options else None,
                  result.slots.get("last_faq_score"), options)

