"""``supportbot run | actions | worker | editor | train``: the processes."""

from __future__ import annotations

import argparse

from bot.cli.errors import EXIT_OK, CliError
from bot.settings import Settings


def add_parsers(sub: argparse._SubParsersAction) -> None:
    sub.add_parser("run", help="build the index, train if needed, start the servers"
                   ).set_defaults(handler=run)
    sub.add_parser("actions", help="start the action server only").set_defaults(handler=actions)
    sub.add_parser("worker", help="start the background worker only (webhook deliveries)"
                   ).set_defaults(handler=worker)
    sub.add_parser("editor", help="start the FAQ editor's page and its background builder only"
                   ).set_defaults(handler=editor)
    sub.add_parser("train", help="train the Rasa model if its training data changed"
                   ).set_defaults(handler=train)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from bot.apps.supervisor import run as supervise

    return supervise(settings)


def actions(args: argparse.Namespace, settings: Settings) -> int:
    from bot.apps.action_server import serve

    return serve(settings)


def worker(args: argparse.Namespace, settings: Settings) -> int:
    from bot.apps.worker import serve

    return serve(settings)


def editor(args: argparse.Namespace, settings: Settings) -> int:
    from bot.apps.editor_server import serve

    return serve(settings)


def train(args: argparse.Namespace, settings: Settings) -> int:
    from bot.apps.training import TrainError, model_path, train_if_needed

    try:
        if not train_if_needed(settings):
            print(f"the Rasa model {model_path(settings)} is up to date")
    except TrainError as exc:
        raise CliError(str(exc)) from exc
    return EXIT_OK
