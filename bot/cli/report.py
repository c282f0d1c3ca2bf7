"""``supportbot report``: the analytics page's figures in a terminal (``bot.analytics``, the same
computation and tables), or one table as CSV."""

from __future__ import annotations

import argparse
from typing import Any

from bot.cli.errors import EXIT_OK, CliError
from bot.settings import Settings


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="the analytics figures (conversations, containment, FAQ rates, "
                                      "hand-offs, ratings, votes, top entries, unanswered groups)")
    p.add_argument("--since", default="7d", help="the first day: a number of days such as 7d (with today), "
                                                 "'today' or a date such as 2026-11-01 (default 7d)")
    p.add_argument("--until", default=None, help="the last day, written like --since (default today)")
    p.add_argument("--csv", metavar="TABLE", help="print only this table as CSV (summary, days, reasons, "
                                                  "ratings, votes, entries, groups)")
    p.add_argument("--no-groups", action="store_true",
                   help="leave out the inbox's groups (they need the served encoder: a few seconds to load)")
    p.add_argument("--definitions", action="store_true", help="also print what each figure means")
    p.set_defaults(handler=run_report)


def _groups(settings: Settings) -> list[dict[str, Any]]:
    from bot.cli.kb import _version, _version_encoder
    from bot.db import engine
    from bot.editor.drafts import Side
    from bot.editor.inbox import MAX_QUESTIONS, groups_json
    from bot.inbox.store import GAPS, InboxStore

    store = InboxStore(engine(settings.handoff_db_url), settings.phone_region)
    version = _version(settings.index_path)
    side = Side(version, _version_encoder(version, settings))
    return groups_json(store, side, store.questions(GAPS, MAX_QUESTIONS), settings.index_path)["groups"]


def run_report(args: argparse.Namespace, settings: Settings) -> int:
    from bot.analytics.definitions import DEFINITIONS
    from bot.analytics.period import PeriodError, parse_period
    from bot.analytics.service import Analytics
    from bot.analytics.tables import to_csv, to_text

    try:
        period = parse_period(args.since, args.until, settings.handoff_timezone)
    except PeriodError as exc:
        raise CliError(f"--{str(exc)}") from exc
    analytics = Analytics.from_settings(settings, groups=None if args.no_groups else lambda: _groups(settings))
    analytics.refresh()
    tables, why = analytics.tables(period)
    if args.csv:
        table = next((t for t in tables if t.name == args.csv), None)
        if table is None:
            names = ", ".join(t.name for t in tables)
            raise CliError(f"--csv {args.csv!r}: no such table; the tables are {names}")
        print(to_csv(table), end="")
        return EXIT_OK
    print(f"{period.first} to {period.last} ({period.tz} days)\n")
    for table in tables:
        print(to_text(table) + "\n")
    if why:
        print(why)
    if args.definitions:
        for key, text in DEFINITIONS.items():
            print(f"{key}: {text}")
    return EXIT_OK
