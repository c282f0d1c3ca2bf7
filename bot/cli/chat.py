"""``supportbot chat``: a minimal terminal chat with the running bot over REST."""

from __future__ import annotations

import argparse
import json
import urllib.error
import urllib.request
from typing import Any

from bot.settings import Settings


def add_parsers(sub: argparse._SubParsersAction) -> None:
    ch = sub.add_parser("chat", help="chat with the running bot in the terminal (REST)")
    ch.add_argument("--url", help="REST webhook (default: the local Rasa server)")
    ch.set_defaults(handler=chat)


class ChatError(RuntimeError):
    """The bot refused a request or could not be reached; the message says why."""


def post(url: str, body: dict[str, Any] | None, token: str = "") -> Any:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, json.dumps(body or {}).encode(), headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:  # the bot's own refusal: {"error": ..., "field": ...}
        try:
            reason = json.loads(exc.read()).get("error", exc.reason)
        except ValueError:
            reason = exc.reason
        raise ChatError(f"the bot answered {exc.code}: {reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise ChatError(f"cannot reach the bot at {url} ({exc}); is 'make run' running?") from None


def chat(args: argparse.Namespace, settings: Settings) -> int:
    """A minimal terminal chat over REST; numbers pick buttons."""
    url = args.url or f"http://{settings.host}:{settings.rasa_port}/webhooks/rest/webhook"
    try:  # the server issues the conversation and the token that goes with it
        issued = post(url.rsplit("/", 1)[0] + "/conversations", None)
    except ChatError as exc:
        print(f"error: {exc}")
        return 1
    buttons: list[dict] = []
    print("Chatting with the bot (Ctrl-D to quit).")
    while True:
        try:
            text = input("you> ").strip()
        except EOFError:
            print()
            return 0
        if text.isdigit() and 1 <= int(text) <= len(buttons):
            text = buttons[int(text) - 1]["payload"]
        try:
            replies = post(url, {"sender": issued["sender"], "message": text}, issued["token"])
        except ChatError as exc:
            print(f"error: {exc}")
            continue
        buttons = []
        for reply in replies:
            if reply.get("text"):
                print(f"bot> {reply['text']}")
            for b in reply.get("buttons") or []:
                buttons.append(b)
                print(f"     [{len(buttons)}] {b['title']}")
