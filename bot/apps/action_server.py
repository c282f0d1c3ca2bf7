"""The action server (rasa-sdk) with the model and index loaded before it accepts requests, and
``POST /prefetch`` that lets the channels start encoding a message early (``bot.rasa.prefetch``),
``POST /reload`` that loads a just-published index version at once, and ``POST /assist``: the
FAQ entries nearest a customer's message for the agents' console.

Only our servers may call it: every route but ``/health`` needs ``Authorization: Bearer <token>``
(``bot.keys.action_server_token``; Rasa sends it from ``endpoints.yml``)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from bot.keys import action_server_token
from bot.settings import Settings

log = logging.getLogger(__name__)


def serve(settings: Settings) -> int:
    from rasa_sdk.endpoint import create_app

    from bot.apps.heap import freeze_when_serving
    from bot.handoff.redact import install_log_redaction
    from bot.runtime import knowledge_base

    logging.getLogger().setLevel(logging.INFO)
    install_log_redaction()
    # One thread per query for the encoder and numpy: more save ~2 ms of a turn, but idle BLAS
    # threads spin and burned ~55 ms of CPU per turn that the Rasa server needs under load. The
    # encoder takes its threads from the settings (torch is not imported with the ONNX backend).
    from threadpoolctl import threadpool_limits

    threadpool_limits(settings.encoder_threads)
    kb = knowledge_base()
    if kb.error:
        log.error("starting without a usable FAQ index: %s", kb.error)
    app = create_app("actions", cors_origins=None)
    require_token(app, action_server_token(settings))
    add_prefetch_route(app, kb)
    add_reload_route(app, kb)
    add_assist_route(app, kb)
    freeze_when_serving(app)  # the model and index loaded above: out of the collector's way
    app.run(host=settings.host, port=settings.action_port, workers=1, access_log=False)
    return 0


def add_prefetch_route(app: Any, kb: Any) -> None:
    """``POST /prefetch {"text": ...}``: encode a message the FAQ action will likely ask about."""
    from sanic import response

    async def prefetch(request: Any) -> Any:
        text = (request.json or {}).get("text") if isinstance(request.json, dict) else None
        if not isinstance(text, str):
            return response.json({"error": 'send {"text": "<the customer\'s message>"}'}, status=400)
        kb.prefetch(text)
        return response.empty()

    app.add_route(prefetch, "/prefetch", methods=["POST"])


def add_reload_route(app: Any, kb: Any) -> None:
    """``POST /reload``: load a newly published index version now (the editor's builder calls it
    after a publish) instead of at the next look for one (SUPPORTBOT_RELOAD_INTERVAL)."""
    from sanic import response

    async def reload(request: Any) -> Any:
        await asyncio.get_running_loop().run_in_executor(None, kb.reload)  # customers' turns go on
        version = kb.version
        return response.json({"serving": version.name if version else None, "error": kb.error})

    app.add_route(reload, "/reload", methods=["POST"])


def require_token(app: Any, token: str) -> None:
    """Every route but ``/health`` answers 401 unless the caller sends ``Authorization: Bearer <token>``."""
    import hmac

    from sanic import response

    expected = f"Bearer {token}"

    async def check(request: Any) -> Any:
        if request.path == "/health":
            return None
        if not hmac.compare_digest(request.headers.get("Authorization", ""), expected):
            log.warning("refused a call to %s from %s without the token", request.path, request.ip)
            return response.json({"error": "send Authorization: Bearer <token> (the action server token, "
                                           "derived from SUPPORTBOT_SECRET_KEY)"}, status=401)
        return None

    app.register_middleware(check, "request")


ASSIST_MAX_ENTRIES = 5


def add_assist_route(app: Any, kb: Any) -> None:
    """``POST /assist {"text": ..., "k": 3}``: the FAQ entries nearest to a customer's message, best
    first, with their answers and scores, for the agents' console (agent assist). Token-protected like
    every route here (``require_token``); the console calls it on the agent's behalf."""
    from sanic import response

    async def assist(request: Any) -> Any:
        body = request.json if isinstance(request.json, dict) else {}
        text, k = body.get("text"), body.get("k", 3)
        if not isinstance(text, str):
            return response.json({"error": 'text: send {"text": "<the customer\'s message>", "k": 3}'},
                                 status=400)
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= ASSIST_MAX_ENTRIES:
            return response.json({"error": f"k: a whole number from 1 to {ASSIST_MAX_ENTRIES}"}, status=400)
        answer = await asyncio.get_running_loop().run_in_executor(None, kb.ask, text)
        version = kb.version
        entries = [{"id": h.entry_id, "score": round(h.score, 4),
                    "question": version.by_id[h.entry_id].question, "answer": version.by_id[h.entry_id].answer}
                   for h in answer.decision.hits[:k] if version is not None and h.entry_id in version.by_id]
        return response.json({"entries": entries, "decision": answer.decision.kind, "index": answer.version,
                              "unavailable": answer.unavailable})

    app.add_route(assist, "/assist", methods=["POST"])
