"""``supportbot agents ...`` and ``supportbot handoff ...``: console accounts and the hand-off queue."""

from __future__ import annotations

import argparse
import getpass
import sys

from bot.handoff.auth import PasswordError, hash_password
from bot.handoff.packet import json_schema
from bot.handoff.states import ACTIVE, FINAL
from bot.handoff.store import HandoffStore
from bot.settings import Settings


class AdminError(Exception):
    pass


def add_parsers(sub: argparse._SubParsersAction) -> None:
    agents = sub.add_parser("agents", help="agent accounts for the console").add_subparsers(
        dest="agents_command", required=True)
    add = agents.add_parser("add", help="create an agent (or set a new password)")
    add.add_argument("name")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from standard input instead of prompting")
    agents.add_parser("list", help="list agents")
    rm = agents.add_parser("remove", help="delete an agent and end their sessions")
    rm.add_argument("name")
    handoff = sub.add_parser("handoff", help="hand-offs to people").add_subparsers(
        dest="handoff_command", required=True)
    handoff.add_parser("schema", help="print the hand-off packet's JSON Schema")
    ls = handoff.add_parser("list", help="list hand-offs")
    ls.add_argument("--all", action="store_true", help="include finished ones")


def _store(settings: Settings) -> HandoffStore:
    settings.path(settings.root / ".rasa").mkdir(parents=True, exist_ok=True)
    return HandoffStore.from_url(settings.handoff_db_url)


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass(f"password for {args.name}: ")
    if getpass.getpass("again: ") != first:
        raise AdminError("the two passwords differ; nothing was changed")
    return first


def agents_command(args: argparse.Namespace, settings: Settings) -> int:
    if args.agents_command == "add":
        name = args.name.strip()
        if not name or len(name) > 64 or not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
            raise AdminError("an agent name is 1-64 letters, digits, '.', '-' or '_'")
        try:
            password_hash = hash_password(_read_password(args))
        except PasswordError as exc:
            raise AdminError(str(exc)) from exc
        _store(settings).add_agent(name, password_hash)
        print(f"agent {name} can now log in to the console")
    elif args.agents_command == "list":
        for name in _store(settings).agent_names():
            print(name)
    elif args.agents_command == "remove":
        if not _store(settings).remove_agent(args.name):
            raise AdminError(f"no agent named {args.name!r}")
        print(f"removed agent {args.name}")
    return 0


def handoff_command(args: argparse.Namespace, settings: Settings) -> int:
    if args.handoff_command == "schema":
        sys.stdout.write(json_schema())
        return 0
    store = _store(settings)
    for h in store.list_handoffs(ACTIVE + FINAL if args.all else ACTIVE):
        print(f"{h.id}  {h.state:<15} {h.reason:<15} {h.created_at:%Y-%m-%d %H:%M}  "
              f"{h.agent or '-':<12} {h.conversation_id}  {h.first_question or ''}")
    return 0
