"""Every hand-off trigger and the reason it records, in one place.

- the customer asks for a person (intent ``request_human``): hand off at once, or first confirm
  when the intent was recognised with little confidence (``needs_confirmation``);
- ``miss_limit`` FAQ misses in a row: offer a person (``low_confidence``);
- the same answer twice in a row: say so and offer a person (``frustration``);
- the customer sounds frustrated (intent ``frustrated``, a rule in ``data/rules.yml``): offer a
  person (``FRUSTRATED``).

An offer that the customer accepts becomes a hand-off with the offer's reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.handoff.packet import Reason

REQUEST_INTENT = "request_human"
FRUSTRATED = Reason.frustration


@dataclass(frozen=True)
class Offer:
    reason: Reason
    say_first: str | None = None  # a domain response said before the offer


def needs_confirmation(intent: str | None, confidence: float | None, confirm_below: float) -> bool:
    """A request for a person recognised with less confidence than ``confirm_below`` is checked first."""
    return intent == REQUEST_INTENT and (confidence or 0.0) < confirm_below


def reason_for_handoff(intent: str | None, offered_reason: str | None) -> Reason:
    """Why this hand-off happens: the customer asked, or they accepted an offer made for a reason."""
    if intent == REQUEST_INTENT:
        return Reason.user_request
    return Reason(offered_reason or Reason.low_confidence.value)


def after_faq_turn(misses: int, miss_limit: int, answered: str | None, last_answer: str | None,
                   chose_an_option: bool) -> Offer | None:
    """The offer of a person an FAQ turn ends with, if any."""
    if misses >= miss_limit:
        return Offer(Reason.low_confidence)
    if last_answer and answered == last_answer and not chose_an_option:
        return Offer(Reason.frustration, say_first="utter_same_answer_again")
    return None
