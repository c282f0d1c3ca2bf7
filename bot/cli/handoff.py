"""``supportbot handoff ...``: the hand-off queue and the packet's schema."""

from __future__ import annotations

import argparse
import sys

from bot.cli.errors import EXIT_OK
from bot.settings import Settings


def add_parsers(sub: argparse._SubParsersAction) -> None:
    handoff = sub.add_parser("handoff", help="hand-offs to people").add_subparsers(
        dest="handoff_command", required=True)
    handoff.add_parser("schema", help="print the hand-off packet's JSON Schema").set_defaults(handler=schema)
    ls = handoff.add_parser("list", help="list hand-offs")
    ls.add_argument("--all", action="store_true", help="include finished ones")
    ls.set_defaults(handler=list_handoffs)


def schema(args: argparse.Namespace, settings: Settings) -> int:
    from bot.handoff.packet import json_schema

    sys.stdout.write(json_schema())
    return EXIT_OK


def list_handoffs(args: argparse.Namespace, settings: Settings) -> int:
    from bot.db import engine
    from bot.handoff.states import ACTIVE, FINAL
    from bot.handoff.store import HandoffStore

    store = HandoffStore(engine(settings.handoff_db_url))
    for h in store.list_handoffs(ACTIVE + FINAL if args.all else ACTIVE):
        print(f"{h.id}  {h.state:<15} {h.reason:<15} {h.created_at:%Y-%m-%d %H:%M}  "
              f"{h.agent or '-':<12} {h.conversation_id}  {h.first_question or ''}")
    return EXIT_OK
