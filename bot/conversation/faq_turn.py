"""One FAQ turn, independent of Rasa: what the bot says and which slots it sets."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from bot import wire
from bot.conversation.triggers import after_faq_turn
from bot.kb.decision import ANSWER, CLARIFY, MISS
from bot.kb.index import IndexVersion
from bot.kb.serving import Answer, KnowledgeBase

CHOOSE_INTENT = "choose_faq"
NONE_INTENT = "none_of_these"
OUT_OF_SCOPE_INTENT = "out_of_scope"


@dataclass
class BotMessage:
    """Either literal ``text`` or a domain ``response`` name, with optional buttons and metadata."""

    text: str | None = None
    response: str | None = None
    buttons: list[dict[str, str]] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class TurnResult:
    messages: list[BotMessage]
    slots: dict[str, Any]


def choose_payload(entry_id: str) -> str:
    return "/" + CHOOSE_INTENT + json.dumps({"faq_id": entry_id})


OFFER = BotMessage(response="utter_offer_handoff")
WHY = wire.STAFF_ONLY  # the decision's metadata on the bot message: for the console only, never for customers
WHY_CANDIDATES = 3


def why(answer: Answer, version: IndexVersion | None) -> dict[str, Any]:
    """What the bot decided and on what: top candidates (entry id, question, score), the thresholds
    in force and the index version, recorded with the bot message at the time of the turn."""
    d = answer.decision
    entries = version.by_id if version is not None else {}
    t = d.thresholds
    return {"decision": d.kind, "reason": d.reason, "index": answer.version,
            "candidates": [{"id": h.entry_id, "score": round(h.score, 4),
                            "question": entries[h.entry_id].question if h.entry_id in entries else None}
                           for h in d.hits[:WHY_CANDIDATES]],
            "thresholds": {"answer": t.answer, "margin": t.margin, "clarify": t.clarify,
                           "window": t.window, "source": t.source}}


def offer_person(result: TurnResult, reason: str) -> TurnResult:
    """Append the offer of a person; the customer's yes or no is handled by the hand-off rules."""
    result.messages.append(OFFER)
    result.slots.update(handoff_offered=True, handoff_reason=reason)
    return result


def faq_turn(kb: KnowledgeBase, text: str | None, intent: str | None, entities: dict[str, str],
             misses: float | None, last_answer: str | None = None, miss_limit: int = 2) -> TurnResult:
    """One FAQ turn. ``last_answer`` is the entry the previous turn answered with, if it did; the
    same answer twice in a row, or ``miss_limit`` misses in a row, add the offer of a person."""
    result = _faq_turn(kb, text, intent, entities, int(misses or 0))
    answered = result.slots.get("last_faq_id") if result.slots.get("last_faq_decision") == ANSWER else None
    offer = after_faq_turn(result.slots.get("faq_miss_count", 0), miss_limit, answered, last_answer,
                           chose_an_option=intent == CHOOSE_INTENT)
    if offer is None:
        result.slots.setdefault("handoff_offered", False)
        return result
    if offer.say_first:
        result.messages.insert(0, BotMessage(response=offer.say_first))
    return offer_person(result, offer.reason.value)


def _faq_turn(kb: KnowledgeBase, text: str | None, intent: str | None,
              entities: dict[str, str], misses: int) -> TurnResult:
    version = kb.version

    if intent == CHOOSE_INTENT and entities.get("faq_id"):
        entry = version.by_id.get(entities["faq_id"]) if version else None
        if entry is None:
            return TurnResult([BotMessage(response="utter_faq_option_gone")],
                              {"last_faq_decision": MISS, "faq_options": None})
        meta: dict[str, Any] = {"faq_id": entry.id, "faq_score": None, "faq_decision": "chosen",
                "faq_index": version.name if version else None}
        return TurnResult([BotMessage(text=entry.answer, metadata=meta)], {
            "last_faq_id": entry.id, "last_faq_score": None, "last_faq_decision": ANSWER,
            "faq_options": None, "faq_miss_count": 0})

    if intent == NONE_INTENT:
        return _miss("utter_faq_miss", misses, None)

    answer = kb.ask(text)
    if answer.unavailable:
        return TurnResult([BotMessage(response="utter_faq_unavailable")],
                          {"last_faq_decision": MISS, "faq_miss_count": misses + 1})
    decision = answer.decision
    if answer.empty:
        return TurnResult([BotMessage(response="utter_empty_message")], {})
    reasons = why(answer, version)
    top = decision.top
    if decision.kind == ANSWER and top is not None and version is not None:
        entry = version.by_id[top.entry_id]
        meta = {"faq_id": entry.id, "faq_score": round(top.score, 4), "faq_decision": ANSWER,
                "faq_index": answer.version, WHY: reasons}
        return TurnResult([BotMessage(text=entry.answer, metadata=meta)], {
            "last_faq_id": entry.id, "last_faq_score": round(top.score, 4),
            "last_faq_decision": ANSWER, "faq_options": None, "faq_miss_count": 0})
    if decision.kind == CLARIFY and version is not None:
        buttons = [{"title": version.by_id[o.entry_id].question, "payload": choose_payload(o.entry_id)}
                   for o in decision.options]
        buttons.append({"title": "None of these", "payload": "/" + NONE_INTENT})
        meta = {"faq_options": [o.entry_id for o in decision.options],
                "faq_scores": [round(o.score, 4) for o in decision.options],
                "faq_decision": CLARIFY, "faq_index": answer.version, WHY: reasons}
        return TurnResult([BotMessage(response="utter_faq_clarify", buttons=buttons, metadata=meta)], {
            "last_faq_decision": CLARIFY, "faq_options": [o.entry_id for o in decision.options],
            "last_faq_score": round(top.score, 4) if top else None})
    response = "utter_out_of_scope" if intent == OUT_OF_SCOPE_INTENT else "utter_faq_miss"
    return _miss(response, misses, top.score if top else None, top.entry_id if top else None, reasons)


def _miss(response: str, misses: int, score: float | None, nearest: str | None = None,
          reasons: dict[str, Any] | None = None) -> TurnResult:
    meta: dict[str, Any] = {"faq_decision": MISS}
    if reasons is not None:
        meta[WHY] = reasons
    if nearest is not None:
        meta["faq_nearest"] = nearest  # the entry that came closest (the editor's inbox shows it)
    return TurnResult([BotMessage(response=response, metadata=meta)], {
        "last_faq_decision": MISS, "faq_options": None, "faq_miss_count": misses + 1,
        "last_faq_score": round(score, 4) if score is not None else None})
