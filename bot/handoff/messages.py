"""What the bot tells the customer about a hand-off (one place to edit the wording)."""

from __future__ import annotations

import json

BACK = "I'm back. Ask me anything else, or say \"talk to a person\" if you need our team again."
BACK_RESOLVED = ("I'm back. How would you rate the help you got from our team, from 1 (poor) to 5 (great)? "
                 "You can add a comment after the number.")
RATING_THANKS = "Thank you for your feedback! Is there anything else I can help with?"
RATING_NOT_EXPECTED = "Thanks! What can I help you with?"
RATING_ALREADY = ("Thanks, your rating for this conversation is already recorded. "
                  "Is there anything else I can help with?")
EMAIL_UNREADABLE = "I couldn't read an email address in that. Could you type it again, like name@example.com?"
EMAIL_INVALID = ("That doesn't look like a complete email address. Could you type it again, "
                 "like name@example.com?")
EMAIL_NO_TICKET = "Thanks, I've noted your email address. What can I help you with?"


def queued(position: int) -> str:
    if position < 1:  # not waiting any more: a person already has the conversation
        return ("You're already connected to a person from our support team: they will reply here. "
                "They can see our conversation so far.")
    return (f"Connecting you to a person from our support team (you are number {position} in the queue). "
            "They will see our conversation so far, so you don't need to repeat yourself.")


def ticket(hours: str, email: str | None) -> str:
    when = f" (we answer live {hours})" if hours else ""
    if email == "[email]":  # stored masked (SUPPORTBOT_MASK_AT_REST): never show the mask
        email = "the email address you gave"
    if email:
        return (f"No one from our support team is available to chat right now{when}. I've passed your "
                f"conversation on, and they will reply to {email}.")
    return (f"No one from our support team is available to chat right now{when}. I've passed your "
            "conversation on: leave your email address here and they will reply by email.")


def email_saved(email: str) -> str:
    return f"Thanks! Our support team will reply to {email}."


def joined(agent: str) -> str:
    return f"{agent} has joined the conversation."


def left(agent: str, resolved: bool) -> str:
    if resolved:
        return f"{agent} has marked your question as resolved."
    return f"{agent} has left the conversation."


def rating_buttons() -> list[dict[str, str]]:
    return [{"title": str(n), "payload": "/rate" + json.dumps({"rating": str(n)})} for n in range(1, 6)]
