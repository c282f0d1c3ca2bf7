"""action_answer_faq: retrieve from the FAQ index and answer, clarify or admit a miss."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.conversation.faq_turn import faq_turn
from bot.inbox.collect import record_turn
from bot.runtime import inbox, knowledge_base, settings


class ActionAnswerFaq(Action):
    def name(self) -> str:
        return "action_answer_faq"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: dict[str, Any]) -> list[dict[str, Any]]:
        message = tracker.latest_message or {}
        entities = {e["entity"]: e.get("value") for e in message.get("entities", [])}
        answered = tracker.get_slot("last_faq_decision") == "answer"
        intent = (message.get("intent") or {}).get("name")
        result = faq_turn(knowledge_base(), message.get("text"), intent, entities,
                          tracker.get_slot("faq_miss_count"),
                          last_answer=tracker.get_slot("last_faq_id") if answered else None,
                          miss_limit=settings().handoff_miss_limit)
        record_turn(inbox(), tracker.sender_id, message.get("text"), intent, result)  # misses, clarifies
        for m in result.messages:
            dispatcher.utter_message(text=m.text, response=m.response,
                                     buttons=m.buttons or None, **m.metadata)
        # only what changed: every event is replayed on each later turn of the conversation
        return [SlotSet(name, value) for name, value in result.slots.items()
                if tracker.get_slot(name) != value]
