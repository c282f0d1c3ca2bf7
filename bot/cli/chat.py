"""``supportbot chat``: a minimal terminal chat with the running bot over REST."""

from __future__ import annotations

import argparse
import json
import os
import urllib.error
import urllib.request

from bot.settings import Settings


def add_parsers(sub: argparse._SubParsersAction) -> None:
    ch = sub.add_parser("chat", help="chat with the running bot in the terminal (REST)")
    ch.add_argument("--url", help="REST webhook (default: the local Rasa server)")
    ch.set_defaults(handler=chat)


def chat(args: argparse.Namespace, settings: Settings) -> int:
    """A minimal terminal chat over REST; numbers pick buttons."""
    url = args.url or f"http://{settings.host}:{settings.rasa_port}/webhooks/rest/webhook"
    sender = f"terminal-{os.getpid()}"
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
        body = json.dumps({"sender": sender, "message": text}).encode()
        req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                replies = json.loads(resp.read())
        except (urllib.error.URLError, OSError) as exc:
            print(f"error: cannot reach the bot at {url} ({exc}); is 'make run' running?")
            continue
        buttons = []
        for reply in replies:
            if reply.get("text"):
                print(f"bot> {reply['text']}")
            for b in reply.get("buttons") or []:
                buttons.append(b)
                print(f"     [{len(buttons)}] {b['title']}")
