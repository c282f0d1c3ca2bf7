"""``supportbot staff ...`` (accounts with a role) and ``supportbot agents ...`` (the same for agents,
kept for existing scripts)."""

from __future__ import annotations

import argparse
import getpass
import sys

from bot.cli.errors import EXIT_OK, CliError
from bot.settings import Settings
from bot.staff.accounts import AGENT, ROLES, StaffError, StaffStore, check_name
from bot.staff.passwords import PasswordError, hash_password


def add_parsers(sub: argparse._SubParsersAction) -> None:
    staff = sub.add_parser("staff", help="staff accounts: agents, editors, admins").add_subparsers(
        dest="staff_command", required=True)
    add = staff.add_parser("add", help="create an account (or set a new password and role)")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, default=None,
                     help=f"what the account may do (a new account: {AGENT}; an existing one keeps its role)")
    _password_flag(add)
    add.set_defaults(handler=add_account)
    role = staff.add_parser("role", help="change an account's role")
    role.add_argument("name")
    role.add_argument("role", choices=ROLES)
    role.set_defaults(handler=set_role)
    staff.add_parser("list", help="list accounts and their roles").set_defaults(handler=list_accounts)
    rm = staff.add_parser("remove", help="delete an account and end its sessions")
    rm.add_argument("name")
    rm.set_defaults(handler=remove_account)

    agents = sub.add_parser("agents", help="agent accounts for the console (see also: staff)").add_subparsers(
        dest="agents_command", required=True)
    a_add = agents.add_parser("add", help="create an agent (or set a new password)")
    a_add.add_argument("name")
    _password_flag(a_add)
    a_add.set_defaults(handler=add_account, role=None)
    agents.add_parser("list", help="list accounts").set_defaults(handler=list_names)
    a_rm = agents.add_parser("remove", help="delete an account and end its sessions")
    a_rm.add_argument("name")
    a_rm.set_defaults(handler=remove_account)


def _password_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--password-stdin", action="store_true",
                   help="read the password from standard input instead of prompting")


def _store(settings: Settings) -> StaffStore:
    from bot.db import engine

    return StaffStore(engine(settings.handoff_db_url))


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass(f"password for {args.name}: ")
    if getpass.getpass("again: ") != first:
        raise CliError("the two passwords differ; nothing was changed")
    return first


def add_account(args: argparse.Namespace, settings: Settings) -> int:
    try:
        name = check_name(args.name)  # before asking for a password
        store = _store(settings)
        store.add_agent(name, hash_password(_read_password(args)), args.role)
    except (PasswordError, StaffError) as exc:
        raise CliError(str(exc)) from exc
    role = dict(store.accounts())[name]
    print(f"{role} {name} can now log in" + (" to the console" if role != "editor" else ""))
    return EXIT_OK


def set_role(args: argparse.Namespace, settings: Settings) -> int:
    if not _store(settings).set_role(args.name, args.role):
        raise CliError(f"no account named {args.name!r}")
    print(f"{args.name} is now {args.role}")
    return EXIT_OK


def list_accounts(args: argparse.Namespace, settings: Settings) -> int:
    for name, role in _store(settings).accounts():
        print(f"{name}\t{role}")
    return EXIT_OK


def list_names(args: argparse.Namespace, settings: Settings) -> int:
    for name in _store(settings).agent_names():
        print(name)
    return EXIT_OK


def remove_account(args: argparse.Namespace, settings: Settings) -> int:
    store = _store(settings)
    role = dict(store.accounts()).get(args.name)
    if role is None or not store.remove_agent(args.name):
        raise CliError(f"no account named {args.name!r}")
    print(f"removed {role} {args.name}")
    return EXIT_OK
