"""The console's agent assist and canned replies (issue 19), added to its blueprint by
``bot.web.console``: ``POST api/handoffs/<id>/assist`` asks the action server (which holds the
encoder) for the FAQ entries nearest the customer's latest message; ``api/canned`` lists the canned
replies (admins may also change them here; editors do it on the editor page)."""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any, Callable

import aiohttp
from sanic import Blueprint, response
from sanic.request import Request

from bot.canned.store import CannedStore
from bot.db import engine
from bot.keys import action_server_token
from bot.runtime import handoffs, settings, staff
from bot.staff.accounts import ADMIN
from bot.staff.auth import error, ok
from bot.web.canned import add_canned_routes

log = logging.getLogger(__name__)
ASSIST_ENTRIES = 3
ASSIST_TIMEOUT_S = 5


@functools.lru_cache(maxsize=1)
def canned() -> CannedStore:
    return CannedStore(engine(settings().handoff_db_url))


def latest_customer_text(hid: str) -> str | None:
    """What the customer said last since the hand-off opened; before they say anything, their first
    real question (the packet's summary: not "talk to a person", which is what they said last)."""
    store = handoffs().store
    said = [m.text for m in store.messages(hid) if m.role == "customer"]
    summary = store.get(hid).packet.summary
    return said[-1] if said else summary.first_question or summary.last_message


async def nearest_entries(text: str) -> dict[str, Any]:
    """The action server's ``POST /assist`` for ``text`` (its token, at SUPPORTBOT_ACTION_HOST)."""
    s = settings()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=ASSIST_TIMEOUT_S)) as session:
        async with session.post(f"{s.action_url}/assist",
                                json={"text": text, "k": ASSIST_ENTRIES},
                                headers={"Authorization": f"Bearer {action_server_token(s)}"}) as reply:
            reply.raise_for_status()
            found = await reply.json()
    if not isinstance(found, dict) or not isinstance(found.get("entries", []), list):
        raise BadReply(f"the action server's /assist answered {type(found).__name__} JSON, "
                       "not an object with a list of entries")
    return found


class BadReply(ValueError):
    """The action server answered, but not with what ``POST /assist`` answers."""


def add_assist_routes(bp: Blueprint, agent_route: Callable[..., Callable], roles: tuple[str, ...]) -> None:
    add_canned_routes(bp, staff, canned, readers=roles, writers=(ADMIN,))

    @bp.route("/api/handoffs/<hid>/assist", methods=["POST"])
    @agent_route()
    async def assist(request: Request, hid: str) -> response.HTTPResponse:
        text = latest_customer_text(hid)
        if not text:
            return ok({"text": None, "entries": []})
        try:
            found = await nearest_entries(text)
        except BadReply as exc:  # e.g. another service on that port, or a version mismatch
            log.warning("agent assist: %s", exc)
            return error("agent assist is unavailable: the action server answered something that is not "
                         "an assist reply (see the console server's log)", 502)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            log.warning("agent assist: the action server did not answer: %s", exc)
            return error("agent assist is unavailable: the action server did not answer; try again", 503)
        return ok({"text": handoffs().for_agent(text), "entries": found.get("entries", []),
                   "decision": found.get("decision"), "index": found.get("index")})
