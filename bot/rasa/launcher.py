"""Runs the ``rasa`` command line with two speed-ups found by profiling FAQ turns.

- Rasa 3.6 checks its whole events JSON Schema against the JSON Schema meta-schema on every
  action server reply (``jsonschema.validate`` re-checks the schema each call): about 15 ms of a
  ~90 ms FAQ turn on a 2-core machine. Here the validator is compiled once; replies are still
  validated against the same schema and fail with the same error.
- Reading a conversation looks up every stored event's class by walking all ``Event``
  subclasses (``Event.resolve_by_type``): ~14 % of the Rasa server's time in a 40-turn
  conversation. Here the lookup is remembered per event name (the classes never change).
- Every call to the action server opened a new HTTP client session, so a new TCP connection
  (~5 % of the Rasa server's time under load). Here an endpoint keeps one session per event loop
  and its connections alive (for less time than Sanic's 5 s, so the server never closes one
  the client is about to reuse).
- Every action call carries the whole conversation (~400 bytes of JSON per event, ~8 events per
  turn), serialised by Rasa and parsed by the action server on every FAQ turn. Actions listed
  under ``latest_turn_only`` in ``endpoints.yml``'s ``action_endpoint`` (ours: the FAQ action,
  which reads only the latest message and the slots) get the events of the latest turn only;
  slots, latest message and everything else are sent as before.

It also masks personal data in the server's logs once Rasa has configured them,
keeps its start-up objects out of the garbage collector once serving (``bot.apps.heap``), answers
cross-origin requests on the customer channels only (``bot.rasa.channels.origins``), reads a
``/intent{...}`` message as an intent only when the bot offered it as a button
(``bot.rasa.typed_intents``), keys every action call by its conversation for the load balancer
(``bot.rasa.routing``), and installs ``bot.rasa.fallback``: when the action server is down,
hand-off actions run in this process and the FAQ says honestly that it cannot look answers up.

Usage: ``python -m bot.rasa.launcher run --model ...`` (any ``rasa`` arguments).
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import os
import sys
from typing import Any

KEEP_ALIVE_S = 2.0  # below the action server's (Sanic's default 5 s)
MAX_BODY_BYTES = 64 * 1024


@functools.lru_cache(maxsize=1)
def _response_validator() -> Any:
    from jsonschema import validators
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    cls = validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _validate_action_result(self: Any, result: dict[str, Any]) -> bool:
    from jsonschema import ValidationError
    from rasa.shared.constants import DOCS_BASE_URL

    try:
        _response_validator().validate(result)
    except ValidationError as e:
        e.message += (". Failed to validate Action server response from API, make sure your response "
                      f"from the Action endpoint is valid. For more information visit {DOCS_BASE_URL}"
                      "/custom-actions")
        raise
    return True


class _KeptSession:
    """``async with endpoint.session() as s`` without closing ``s`` afterwards."""

    def __init__(self, session: Any):
        self.session = session

    async def __aenter__(self) -> Any:
        return self.session

    async def __aexit__(self, *exc: object) -> None:
        return None


def _kept_session(self: Any) -> _KeptSession:
    """``EndpointConfig.session`` (same headers, auth and timeout), kept per event loop."""
    import aiohttp
    from rasa.core.constants import DEFAULT_REQUEST_TIMEOUT

    loop = asyncio.get_running_loop()
    kept = getattr(self, "_kept_session", None)
    if kept is None or kept[0] is not loop or kept[1].closed:
        auth = (aiohttp.BasicAuth(self.basic_auth["username"], self.basic_auth["password"])
                if self.basic_auth else None)
        session = aiohttp.ClientSession(
            headers=self.headers, auth=auth, timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
            connector=aiohttp.TCPConnector(keepalive_timeout=KEEP_ALIVE_S))
        kept = self._kept_session = (loop, session)
    return _KeptSession(kept[1])


class _LatestTurn:
    """A tracker as an action call sees it, with the events from the latest user message on."""

    def __init__(self, tracker: Any):
        self.tracker = tracker
        self.sender_id = tracker.sender_id

    def current_state(self, verbosity: Any) -> dict[str, Any]:
        from rasa.shared.core.events import UserUttered
        from rasa.shared.core.trackers import EventVerbosity

        state = self.tracker.current_state(EventVerbosity.NONE)
        events = self.tracker.events
        start = len(events)
        for event in reversed(events):
            start -= 1
            if isinstance(event, UserUttered):
                break
        state["events"] = [e.as_dict() for e in itertools.islice(events, max(start, 0), None)]
        return state


def _action_call_format(full: Any) -> Any:
    def action_call_format(self: Any, tracker: Any, domain: Any) -> dict[str, Any]:
        if self.name() in (self.action_endpoint.kwargs.get("latest_turn_only") or ()):
            tracker = _LatestTurn(tracker)
        return full(self, tracker, domain)

    action_call_format.full = full  # type: ignore[attr-defined]
    return action_call_format


def install_speedups() -> None:
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.core.events import Event
    from rasa.utils.endpoints import EndpointConfig

    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]
    EndpointConfig.session = _kept_session  # type: ignore[method-assign]
    full = getattr(RemoteAction._action_call_format, "full", RemoteAction._action_call_format)
    RemoteAction._action_call_format = _action_call_format(full)  # type: ignore[method-assign]
    if not hasattr(Event.resolve_by_type, "cache_info"):  # unknown names still raise, uncached
        Event.resolve_by_type = staticmethod(  # type: ignore[method-assign]
            functools.lru_cache(maxsize=256)(Event.resolve_by_type))


def install_app_hooks() -> None:
    """CORS for the customer channels only (``bot.rasa.channels.origins``), and once Rasa has
    configured its log handlers and the server runs (the model loaded): mask personal data in logs
    and freeze the start-up objects (``bot.apps.heap``)."""
    import rasa.core.run
    import rasa.server

    from bot.rasa.channels.origins import configure_cors

    rasa.server.configure_cors = configure_cors  # type: ignore[assignment]

    configure_app = getattr(rasa.core.run.configure_app, "original", rasa.core.run.configure_app)

    async def after_start(app: Any, loop: Any) -> None:
        from bot.apps.heap import freeze_startup_objects
        from bot.handoff.redact import install_log_redaction

        install_log_redaction()
        freeze_startup_objects()

    @functools.wraps(configure_app)
    def configured(*args: Any, **kwargs: Any) -> Any:
        app = configure_app(*args, **kwargs)
        # no request needs more (messages are at most SUPPORTBOT_MAX_MESSAGE_CHARS): a bigger body
        # is a 413 before it is read whole (Sanic's default is 100 MB); errors Sanic itself raises
        # (that one, a route not found) answer JSON like ours, not an HTML page
        app.config.REQUEST_MAX_SIZE = MAX_BODY_BYTES
        app.config.FALLBACK_ERROR_FORMAT = "json"
        app.register_listener(after_start, "after_server_start")
        return app

    configured.original = configure_app  # type: ignore[attr-defined]
    rasa.core.run.configure_app = configured  # type: ignore[assignment]


def main() -> None:
    from bot.apps.environment import rasa_variables
    from bot.rasa.fallback import install_fallback
    from bot.rasa.routing import install_conversation_routing
    from bot.rasa.tracker_store import install_fail_loudly
    from bot.rasa.typed_intents import install_typed_intent_check
    from bot.settings import Settings

    for key, value in rasa_variables(Settings.from_env()).items():  # started alone, not by the supervisor
        os.environ.setdefault(key, value)

    install_speedups()
    install_conversation_routing()
    install_fallback()
    install_app_hooks()
    install_typed_intent_check()
    install_fail_loudly()
    from rasa.__main__ import main as rasa_main

    sys.argv = ["rasa", *sys.argv[1:]]
    rasa_main()


if __name__ == "__main__":
    main()
