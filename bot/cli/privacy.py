"""``supportbot purge --older-than 90d`` and ``supportbot forget --sender ID | --email ADDR``:
retention and the right to erasure, across every store (``bot.privacy.retention``)."""

from __future__ import annotations

import argparse

from bot.cli.errors import EXIT_OK, CliError
from bot.settings import Settings


def add_parsers(sub: argparse._SubParsersAction) -> None:
    purge = sub.add_parser("purge", help="delete conversations, hand-offs, feed and outbox rows older "
                                         "than a period")
    purge.add_argument("--older-than", required=True, metavar="AGE",
                       help="whole days or hours, such as 90d or 12h")
    _dry_run(purge)
    purge.set_defaults(handler=run_purge)
    forget = sub.add_parser("forget", help="erase everything about one customer in every store")
    who = forget.add_mutually_exclusive_group(required=True)
    who.add_argument("--sender", metavar="ID", help="a conversation id (Rasa's sender id)")
    who.add_argument("--email", metavar="ADDR",
                     help="every conversation whose hand-off carried this address or that mentions it")
    _dry_run(forget)
    forget.set_defaults(handler=run_forget)


def _dry_run(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dry-run", action="store_true", help="count what would be deleted; delete nothing")


def run_purge(args: argparse.Namespace, settings: Settings) -> int:
    from bot.db import utcnow
    from bot.privacy.retention import Retention, parse_age

    try:
        age = parse_age(args.older_than)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    now = utcnow()
    done = Retention.from_settings(settings).purge(age, now=now, dry_run=args.dry_run)
    verb = "would delete" if args.dry_run else "deleted"
    print(f"{verb} what was last touched before {now - age:%Y-%m-%d %H:%M} UTC:")
    _report(done)
    if done.open_handoffs_kept:
        print(f"  kept {done.open_handoffs_kept} open hand-off(s) older than that: finish them first")
    return EXIT_OK


def run_forget(args: argparse.Namespace, settings: Settings) -> int:
    from bot.privacy.retention import Retention, check_email

    try:
        email = None if args.email is None else check_email(args.email)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    if args.sender is not None and not args.sender.strip():
        raise CliError("--sender takes a conversation id; got an empty one")
    retention = Retention.from_settings(settings)
    done = (retention.forget_sender(args.sender, dry_run=args.dry_run) if email is None
            else retention.forget_email(email, dry_run=args.dry_run))
    verb = "would erase" if args.dry_run else "erased"
    found = sum(v for k, v in vars(done).items() if isinstance(v, int))
    if not found:
        print(f"nothing stored about {args.sender or args.email}")
        return EXIT_OK
    ids = ", ".join(done.conversation_ids)
    print(f"{verb} conversation(s) {ids}:")
    _report(done)
    return EXIT_OK


def _report(done: object) -> None:
    d = vars(done)
    print(f"  conversations (tracker): {d['conversations']} whole, {d['tracker_events']} events")
    print(f"  hand-offs: {d['handoffs']}, with {d['handoff_messages']} messages and "
          f"{d['handoff_transitions']} transitions")
    print(f"  customer feed: {d['feed_messages']} messages")
    print(f"  webhook outbox: {d['webhook_deliveries']} deliveries")
    print(f"  email outbox:   {d['email_replies']} replies")
    print(f"  editors' inbox: {d['inbox_questions']} unanswered questions")
