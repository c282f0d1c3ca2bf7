"""Events for other systems: the durable outbox and the webhook sender that drains it
(run by the background worker, ``supportbot worker``, which ``supportbot run`` starts)."""

from bot.events.outbox import Outbox
from bot.events.webhooks import WebhookSender, signature

__all__ = ["Outbox", "WebhookSender", "signature"]
