"""Hand-off actions: offer a person, hand off (live or as a ticket), follow up, take a rating (of the
person, or of the bot alone when it asked: ``actions.closing``)."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ConversationPaused, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot import wire
from bot.conversation import triggers
from bot.conversation.closing import ASKED, LOW_RATINGS, RATED, RATING_SLOT
from bot.handoff import messages as say
from bot.handoff.customer_input import email_in, is_email, parse_rating
from bot.handoff.states import RESOLVED, AlreadyRated
from bot.inbox.ratings import record_bot_rating
from bot.runtime import handoffs, inbox

log = logging.getLogger(__name__)
Events = list[dict[str, Any]]


class ActionOfferHandoff(Action):
    def name(self) -> str:
        return "action_offer_handoff"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        dispatcher.utter_message(response="utter_offer_handoff")
        return [SlotSet("handoff_offered", True), SlotSet("handoff_reason", triggers.FRUSTRATED.value)]


class ActionHandoffDeclined(Action):
    def name(self) -> str:
        return "action_handoff_declined"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        dispatcher.utter_message(response="utter_handoff_declined")
        return [SlotSet("handoff_offered", False), SlotSet("handoff_reason", None)]


class ActionHandoff(Action):
    """Stores the hand-off first, then tells the customer; pauses the bot when a person is there."""

    def name(self) -> str:
        return "action_handoff"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        service = handoffs()
        intent = (tracker.latest_message or {}).get("intent") or {}
        reason = triggers.reason_for_handoff(intent.get("name"), tracker.get_slot("handoff_reason"))
        if triggers.needs_confirmation(intent.get("name"), intent.get("confidence"),
                                       service.settings.handoff_confirm_below):
            dispatcher.utter_message(response="utter_offer_handoff")  # not sure they asked: check first
            return [SlotSet("handoff_offered", True), SlotSet("handoff_reason", reason.value)]
        reset = [SlotSet("handoff_offered", False), SlotSet("handoff_reason", None)]
        try:
            opened = service.open(tracker.sender_id, tracker.events, tracker.current_slot_values(), reason)
        except Exception:  # the database is down: say so rather than promise a person
            log.exception("could not store a hand-off for conversation %s", tracker.sender_id)
            dispatcher.utter_message(response="utter_handoff_failed")
            return reset
        h = opened.handoff
        status = wire.handoff_status(h.id, h.state, opened.position, opened.live)
        if opened.live:
            dispatcher.utter_message(text=say.queued(opened.position), json_message=status)
            return [*reset, ConversationPaused()]
        dispatcher.utter_message(text=say.ticket(service.settings.handoff_hours, h.customer_email),
                                 json_message=status)
        return reset


def entity_values(tracker: Tracker, entity: str) -> list[Any]:
    message = tracker.latest_message or {}
    return [e.get("value") for e in message.get("entities") or [] if e.get("entity") == entity]


class ActionHandoffEmail(Action):
    """Keeps the customer's address only when it is one (``customer_email`` is set here alone)."""

    def name(self) -> str:
        return "action_handoff_email"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        text = (tracker.latest_message or {}).get("text") or ""
        email = email_in(text) or next((v for v in entity_values(tracker, "email") if is_email(v)), None)
        if not email:
            dispatcher.utter_message(text=say.EMAIL_INVALID if "@" in text else say.EMAIL_UNREADABLE)
            return []
        service = handoffs()
        ticket = service.store.active_for(tracker.sender_id)
        if ticket is None:
            dispatcher.utter_message(text=say.EMAIL_NO_TICKET)
            return [SlotSet("customer_email", email)]
        service.store.set_customer_email(ticket.id, email)
        dispatcher.utter_message(text=say.email_saved(email))
        return [SlotSet("customer_email", email)]


class ActionHandoffFollowup(Action):
    """Runs when the console hands the conversation back (the bot has just been resumed)."""

    def name(self) -> str:
        return "action_handoff_followup"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        h = handoffs().store.latest_for(tracker.sender_id)
        if h is not None and h.state == RESOLVED:
            dispatcher.utter_message(text=say.BACK_RESOLVED, buttons=say.rating_buttons())
        else:
            dispatcher.utter_message(text=say.BACK)
        # a rating from now on is for the person, even if the bot had asked for one before
        return [SlotSet("faq_miss_count", 0), SlotSet("handoff_offered", False), SlotSet(RATING_SLOT, None)]


class ActionRate(Action):
    def name(self) -> str:
        return "action_rate"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        entity = next(iter(entity_values(tracker, "rating")), None)
        rating, comment = parse_rating((tracker.latest_message or {}).get("text") or "", entity)
        asked = tracker.get_slot(RATING_SLOT)
        if asked == ASKED and rating is not None:  # the bot asked after handling the conversation alone
            record_bot_rating(inbox(), tracker.sender_id, tracker.events, rating)
            dispatcher.utter_message(response="utter_bot_rating_low" if rating in LOW_RATINGS
                                     else "utter_bot_rating_thanks")
            return [SlotSet(RATING_SLOT, RATED)]
        if asked == RATED:
            dispatcher.utter_message(text=say.RATING_ALREADY)
            return []
        service = handoffs()
        h = service.store.latest_for(tracker.sender_id)
        if rating is None or h is None or h.state != RESOLVED:
            dispatcher.utter_message(text=say.RATING_NOT_EXPECTED)
            return []
        try:
            service.rate(h.id, rating, comment)
        except AlreadyRated:  # one rating per hand-off: the first one stays
            dispatcher.utter_message(text=say.RATING_ALREADY)
            return []
        dispatcher.utter_message(text=say.RATING_THANKS)
        return []
