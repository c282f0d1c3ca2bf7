"""What Rasa does when the action server cannot run an action (down, restarting, failing).

Rasa's ``RemoteAction`` raises, its processor logs the error and drops the action: the customer
gets no reply at all and a request for a person is lost. Installed by the launcher, this wrapper
catches the failure instead (not a rejection: the action server's 400 is raised as before) and

- when the action server could not be reached (connection refused or dropped, a timeout), runs
  the hand-off actions (every action of ``actions.handoff``) and goodbye / thanks
  (``actions.closing``) here, in the Rasa process, with
  rasa_sdk's ``ActionExecutor``: the same code on the same request body. They need only the
  hand-off database, which this process already uses (console, relay); nothing here loads the
  encoder or the FAQ index. So a request for a person is stored with its transcript and the
  customer told as usual; a hand-off the action server stored just before it died is not stored
  twice (``HandoffStore.open`` returns the conversation's active one).
- answers every other action (the FAQ), and any action the action server answered with an error
  (a 500 after an action partly ran, a 401 from a wrong token: running it again here could do
  things twice or hide the misconfiguration; logged as an error), with ``utter_faq_unavailable``:
  honestly "I can't look up answers right now, try again in a few minutes or ask for a person".

Recovery needs nothing: the next turn calls the action server again.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import inspect
import logging
from typing import Any, Callable

log = logging.getLogger(__name__)

LOCAL_MODULES = ("actions.handoff", "actions.closing")
UNAVAILABLE = "utter_faq_unavailable"


@functools.lru_cache(maxsize=1)
def local_actions() -> Any:
    """An ``ActionExecutor`` holding the actions that can run without the action server."""
    from rasa_sdk import Action
    from rasa_sdk.executor import ActionExecutor

    executor = ActionExecutor()
    for name in LOCAL_MODULES:
        module = importlib.import_module(name)
        for obj in vars(module).values():
            if inspect.isclass(obj) and issubclass(obj, Action) and obj.__module__ == name:
                executor.register_action(obj)
    return executor


def unreachable(exc: BaseException) -> bool:
    """The call never got an answer (Rasa wraps aiohttp's error, or lets a timeout through)."""
    import aiohttp

    cause = exc.__cause__ or exc.__context__
    return any(isinstance(e, (aiohttp.ClientConnectionError, asyncio.TimeoutError)) for e in (exc, cause))


async def run_here(action: Any, output_channel: Any, nlg: Any, tracker: Any, domain: Any,
                   local: bool = True) -> list[Any]:
    """The events ``action`` gives without the action server: run here (when ``local``), or an
    honest message."""
    from rasa.shared.core import events

    executor = local_actions()
    if local and action.name() in executor.actions:
        try:
            result = await executor.run(action._action_call_format(tracker, domain))
            action._validate_action_result(result)
            messages = await action._utter_responses(result["responses"], output_channel, nlg, tracker)
            return [*messages, *events.deserialise_events(result["events"])]
        except Exception:  # the database is down too: the customer still hears something
            log.exception("running '%s' in the Rasa process failed too", action.name())
    return list(await action._utter_responses([{"response": UNAVAILABLE}], output_channel, nlg, tracker))


def _with_fallback(remote_run: Callable[..., Any]) -> Callable[..., Any]:
    async def run(self: Any, output_channel: Any, nlg: Any, tracker: Any, domain: Any) -> list[Any]:
        from rasa.core.actions.action import ActionExecutionRejection

        try:
            return await remote_run(self, output_channel, nlg, tracker, domain)
        except ActionExecutionRejection:
            raise
        except Exception as exc:
            cause = exc.__cause__ or exc.__context__
            local = unreachable(exc) and self.name() in local_actions().actions
            log.log(logging.WARNING if unreachable(exc) else logging.ERROR,
                    "the action server could not run '%s' for conversation %s (%s%s); %s",
                    self.name(), tracker.sender_id, exc, f": {cause!r}" if cause else "",
                    "running it here" if local else f"answering {UNAVAILABLE}")
            return await run_here(self, output_channel, nlg, tracker, domain, local)

    run.remote = remote_run  # type: ignore[attr-defined]
    return run


def install_fallback() -> None:
    from rasa.core.actions.action import RemoteAction

    remote_run = getattr(RemoteAction.run, "remote", RemoteAction.run)
    RemoteAction.run = _with_fallback(remote_run)  # type: ignore[method-assign]
