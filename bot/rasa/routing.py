"""Every request about one conversation goes to one action server: the channels' prefetch
(``bot.rasa.prefetch``) and Rasa's action calls carry the same ``X-Conversation-Key``, and the load
balancer in front of several action servers picks the server by it (nginx: ``hash ... consistent``,
``bot/cluster/local.py``, ``deploy/nginx/nginx.conf``). So the FAQ action finds the vector its
prefetch made, instead of encoding the message a second time on the other server. The key is a
digest of the conversation id: the id itself (enough to write to the conversation) never reaches the
load balancer's logs. A server that is down is skipped as before; requests without the key (the
editor's, the console's) are spread over the servers.
"""

from __future__ import annotations

import functools
import hashlib
from typing import Any

CONVERSATION_HEADER = "X-Conversation-Key"


def conversation_key(sender_id: str) -> str:
    return hashlib.blake2b(sender_id.encode("utf-8"), digest_size=8).hexdigest()


def _keyed(request: Any) -> Any:
    @functools.wraps(request)
    async def keyed_request(self: Any, *args: Any, **kwargs: Any) -> Any:
        body = kwargs.get("json")
        if isinstance(body, dict) and "next_action" in body and isinstance(body.get("sender_id"), str):
            kwargs["headers"] = {**(kwargs.get("headers") or {}),
                                 CONVERSATION_HEADER: conversation_key(body["sender_id"])}
        return await request(self, *args, **kwargs)

    keyed_request.original = request  # type: ignore[attr-defined]
    return keyed_request


def install_conversation_routing() -> None:
    """Rasa's action calls (``RemoteAction.run`` posts ``{"next_action", "sender_id", ...}`` through
    ``EndpointConfig.request``) carry the conversation's key; other requests are left alone."""
    from rasa.utils.endpoints import EndpointConfig

    request = getattr(EndpointConfig.request, "original", EndpointConfig.request)
    EndpointConfig.request = _keyed(request)  # type: ignore[method-assign]
