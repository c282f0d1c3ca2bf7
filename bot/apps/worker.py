"""The background worker (``supportbot worker``, started by ``supportbot run``): delivers the
webhook outbox, so deliveries go on whichever pages or channels are configured."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

from bot.settings import Settings

log = logging.getLogger(__name__)


def serve(settings: Settings, stop: threading.Event | None = None) -> int:
    from bot.db import engine
    from bot.events.outbox import Outbox
    from bot.events.webhooks import WebhookSender
    from bot.handoff.redact import install_log_redaction

    logging.getLogger().setLevel(logging.INFO)  # the command line configured the handler
    install_log_redaction()
    stop = stop or threading.Event()

    def finish(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, finish)
    signal.signal(signal.SIGINT, finish)
    urls = settings.webhook_urls
    log.info("worker started; webhooks to %s", ", ".join(urls) if urls else "nobody (none configured)")
    if urls:  # drains what is due, also deliveries queued before a restart
        WebhookSender(Outbox(engine(settings.handoff_db_url)), settings.handoff_webhook_secret).run(stop)
    else:
        stop.wait()
    log.info("worker stopped")
    return 0
