"""A customer's helpful / not helpful vote on an FAQ answer, checked the same way for every channel
(socket.io's ``feedback`` event, REST's ``POST /webhooks/rest/feedback``): the body's shape, the
conversation's message rate (a vote counts as a message), and an answer from that entry in that
conversation. Whether the caller holds the conversation is the channel's check (its token or its
socket's session), made before :func:`cast`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from bot.access.limits import MessageLimits
from bot.conversation.answered import question_answered_by
from bot.errors import FieldError
from bot.inbox.store import InboxStore
from bot.kb.corpus import ID_PATTERN
from bot.wire import MAX_SENDER_CHARS

MAX_FAQ_ID_CHARS = 255  # the votes table's column


@dataclass(frozen=True)
class Vote:
    conversation_id: str
    faq_id: str
    helpful: bool


class VoteRefused(FieldError):
    """Why a vote is not stored: the field to fix, what to do (the message), the HTTP status."""

    def __init__(self, field: str, message: str, status: int = 400, retry_after: int = 0):
        super().__init__(field, message, status)
        self.retry_after = retry_after


def parse_vote(body: Any, sender_key: str = "sender") -> Vote:
    """The vote in a JSON body ``{sender_key, "faq_id", "helpful"}``; VoteRefused (400) naming the
    first field that is wrong."""
    shape = f'send {{"{sender_key}": "<conversation id>", "faq_id": "<entry id>", "helpful": true or false}}'
    if not isinstance(body, dict):
        raise VoteRefused("body", shape)
    sender = body.get(sender_key)
    if not isinstance(sender, str) or not sender.strip() or len(sender) > MAX_SENDER_CHARS:
        raise VoteRefused(sender_key, f"{sender_key} must be the conversation's id (a non-empty string of at "
                                      f"most {MAX_SENDER_CHARS} characters); {shape}")
    faq_id = body.get("faq_id")
    if not isinstance(faq_id, str) or len(faq_id) > MAX_FAQ_ID_CHARS or not ID_PATTERN.match(faq_id):
        raise VoteRefused("faq_id", "faq_id must be the id of the entry that answered (the faq.id of the "
                                    f"answer's last message, at most {MAX_FAQ_ID_CHARS} characters); {shape}")
    if not isinstance(body.get("helpful"), bool):
        raise VoteRefused("helpful", f"helpful must be true or false (a JSON boolean, not a string); {shape}")
    extra = sorted(set(body) - {sender_key, "faq_id", "helpful"})
    if extra:
        raise VoteRefused(extra[0], f"unknown field {extra[0]!r}; {shape}")
    return Vote(sender, faq_id, body["helpful"])


async def cast(vote: Vote, store: InboxStore, limits: MessageLimits,
               events: Callable[[str], Awaitable[list[dict[str, Any]]]]) -> None:
    """Store ``vote`` (a not helpful one also puts the question in the inbox), or raise VoteRefused:
    429 over the conversation's rate, 404 when that entry did not answer in the conversation.
    ``events`` reads the conversation's stored events."""
    limit = limits.refusal(vote.conversation_id, "")
    if limit is not None:
        raise VoteRefused(limit.field, limit.message, limit.status, limit.retry_after)
    question = question_answered_by(await events(vote.conversation_id), vote.faq_id)
    if question is None:
        raise VoteRefused("faq_id", f"entry {vote.faq_id!r} has not answered in this conversation: vote on an "
                                    "answer the conversation got", 404)
    store.vote(vote.conversation_id, vote.faq_id, question, vote.helpful)
