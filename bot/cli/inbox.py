"""``supportbot inbox``: what customers asked that the FAQ did not answer (``bot.inbox``), newest
first, masked; the open ones (an editor acts on a group in the editor page) or, with
``--handled``, those editors acted on."""

from __future__ import annotations

import argparse

from bot.cli.errors import EXIT_OK, CliError
from bot.settings import Settings


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("inbox", help="list questions the FAQ missed or whose options were refused")
    p.add_argument("--limit", type=int, default=50, help="at most this many, newest first (default 50)")
    p.add_argument("--clarified", action="store_true",
                   help="also list questions answered with a 'did you mean' the customer did not refuse")
    p.add_argument("--groups", action="store_true",
                   help="group the questions by meaning (the served encoder), most customers first")
    p.add_argument("--handled", action="store_true",
                   help="list the questions editors acted on (alternates, new entry, not ours), latest first")
    p.set_defaults(handler=run_inbox)


def run_inbox(args: argparse.Namespace, settings: Settings) -> int:
    from bot.db import engine
    from bot.inbox.store import ACTIONS, CLARIFY, GAPS, InboxStore

    if args.limit < 1:
        raise CliError("--limit must be at least 1")
    store = InboxStore(engine(settings.handoff_db_url), settings.phone_region)
    kinds = (*GAPS, CLARIFY) if args.clarified else GAPS
    counts, handled = store.counts(), store.handled_counts()
    print("inbox: " + ", ".join(f"{counts.get(k, 0)} {k.replace('_', ' ')}" for k in kinds)
          + f"; handled: {sum(handled.values())} ("
          + ", ".join(f"{handled.get(a, 0)} {a.replace('_', ' ')}" for a in ACTIONS) + ")")
    if args.handled:
        for h in store.handled(limit=args.limit):
            to = f" -> {h.entry_id}" if h.entry_id else ""
            print(f"{h.at:%Y-%m-%d %H:%M}  {h.action}{to} by {h.by}  (#{h.action_id}, asked "
                  f"{h.question.at:%Y-%m-%d}, {h.question.kind.replace('_', ' ')})\n    {h.question.question}")
        return EXIT_OK
    if args.groups:
        return _print_groups(store.questions(kinds, limit=100_000), settings, args.limit)
    for q in store.questions(kinds, args.limit):
        near = f"{q.nearest_entry} ({q.score:.2f})" if q.nearest_entry and q.score is not None \
            else q.nearest_entry or "-"
        print(f"{q.at:%Y-%m-%d %H:%M}  {q.kind:<13}  nearest {near:<28}  {q.conversation_id}\n    {q.question}")
        if q.proposed_answer:
            print(f"    proposed by {q.proposed_by}: {q.proposed_answer}")
    return EXIT_OK


def _print_groups(questions: list, settings: Settings, limit: int) -> int:
    from bot.cli.kb import _version, _version_encoder
    from bot.inbox.groups import group_questions

    version = _version(settings.index_path)
    encoder = _version_encoder(version, settings)

    def nearest(text: str, vector) -> list[tuple[str, float]]:
        hits = version.search(vector[None, :], settings.search_k, [text])[0]
        return [(h.entry_id, h.score) for h in hits[:3]]

    for n, g in enumerate(group_questions(questions, encoder.encode, nearest)[:limit], 1):
        near = ", ".join(f"{entry} ({score:.2f})" for entry, score in g.nearest) or "-"
        print(f"{n}. {g.count} question(s) from {g.customers} customer(s), {g.first_seen:%Y-%m-%d} to "
              f"{g.last_seen:%Y-%m-%d}; nearest {near}")
        for example in g.examples:
            print(f"     {example}")
    return EXIT_OK
