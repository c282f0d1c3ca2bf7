"""Goodbye and thanks: after FAQ answers in a conversation the bot handled alone, they also ask once
how the bot did (``bot.conversation.closing``); ``action_rate`` takes the answer."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.conversation.closing import ASKED, RATING_SLOT, asks_for_rating


def close(dispatcher: CollectingDispatcher, tracker: Tracker, response: str) -> list[dict[str, Any]]:
    """``response``, or ``<response>_ask_rating`` (with 1-5 buttons) when the bot should ask now."""
    if asks_for_rating(tracker.events, tracker.get_slot(RATING_SLOT)):
        dispatcher.utter_message(response=response + "_ask_rating")
        return [SlotSet(RATING_SLOT, ASKED)]
    dispatcher.utter_message(response=response)
    return []


class ActionGoodbye(Action):
    def name(self) -> str:
        return "action_goodbye"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: dict[str, Any]) -> list[dict[str, Any]]:
        return close(dispatcher, tracker, "utter_goodbye")


class ActionThank(Action):
    def name(self) -> str:
        return "action_thank"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: dict[str, Any]) -> list[dict[str, Any]]:
        return close(dispatcher, tracker, "utter_thank")
