"""Edits of Rasa conversations from outside a customer's turn, under Rasa's lock for that
conversation: what a person says during a hand-off, pausing the bot, resuming it with a follow-up;
and, read only, the conversation's earlier sessions."""

from __future__ import annotations

from typing import Any

from rasa.core.channels.channel import OutputChannel
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import ActionExecuted, BotUttered, ConversationPaused, ConversationResumed

from bot.rasa.channels.stored import all_sessions
from bot.runtime import delivery
from bot.wire import CustomerPush, bot_message


class FeedOutput(OutputChannel):
    """Output for bot messages produced outside the customer's request (after a hand-back)."""

    @classmethod
    def name(cls) -> str:
        return "feed"

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        await delivery().deliver(bot_message(recipient_id, message))


class RasaBridge:
    """What the agent console does to a conversation, given the Rasa agent of this server."""

    def __init__(self, rasa_agent: Any):
        self.rasa_agent = rasa_agent

    async def events(self, conversation_id: str) -> list[dict[str, Any]]:
        """The conversation's events over all its sessions, oldest first (read only)."""
        return await all_sessions(self.rasa_agent, conversation_id)

    async def tell(self, push: CustomerPush, *, agent: str | None = None, pause: bool = False) -> None:
        """Deliver to the customer and record in the conversation (so the transcript has it)."""
        conversation_id, custom = push["recipient_id"], push.get("custom", {})
        await delivery().deliver(push)
        async with self.rasa_agent.lock_store.lock(conversation_id):
            tracker = await self.rasa_agent.processor.get_tracker(conversation_id)
            if pause and not tracker.is_paused():
                tracker.update(ConversationPaused())
            tracker.update(BotUttered(push.get("text", ""),
                                      metadata={"agent": agent} if agent else {"handoff": custom}))
            await self.rasa_agent.processor.save_tracker(tracker)

    async def resume(self, push: CustomerPush | None, conversation_id: str, state: str) -> None:
        """The person is done: tell the customer (when ``push``), resume the bot, and let it follow
        up; without ``push`` (the customer left) the bot is only unpaused, in case they return."""
        if push is not None:
            await delivery().deliver(push)
        async with self.rasa_agent.lock_store.lock(conversation_id):
            tracker = await self.rasa_agent.processor.get_tracker(conversation_id)
            if push is not None:
                tracker.update(BotUttered(push.get("text", ""), metadata={"handoff": {"state": state}}))
            tracker.update(ConversationResumed())
            # The pause cut the turn short of its action_listen; rules expect one before a user intent.
            tracker.update(ActionExecuted(ACTION_LISTEN_NAME))
            if push is not None:
                await self.rasa_agent.trigger_intent("handoff_finished", [], FeedOutput(), tracker)
            else:
                await self.rasa_agent.processor.save_tracker(tracker)
