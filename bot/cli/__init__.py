"""The ``supportbot`` command: FAQ tooling, staff accounts, hand-offs, retention and running the bot.

One module per verb group (``kb``, ``staff``, ``handoff``, ``privacy``, ``inbox``, ``serve``,
``chat``, ``report``), each with ``add_parsers`` and its commands; they print what the operations
(``bot.kb.ops`` and the stores) return, and a problem the user can fix as one ``error:`` line with exit code 1.
"""

from __future__ import annotations

import argparse
import logging
import sys

from bot.cli import chat, handoff, inbox, kb, privacy, report, serve, staff
from bot.cli.errors import EXIT_ERROR, CliError
from bot.settings import Settings, SettingsError

__all__ = ["main", "build_parser", "CliError"]
GROUPS = (kb, serve, chat, staff, handoff, privacy, inbox, report)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="supportbot", description=__doc__.split("\n")[0])
    p.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = p.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.add_parsers(sub)
    return p


def main(argv: list[str] | None = None, settings: Settings | None = None) -> int:
    """The `supportbot` command; ``settings`` default to the environment's."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return args.handler(args, settings or Settings.from_env())
    except (CliError, SettingsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
