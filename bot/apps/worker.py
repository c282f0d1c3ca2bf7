"""The background worker (``supportbot worker``, started by ``supportbot run``): drains the outboxes,
the webhook deliveries and the agents' e-mail replies to tickets, with retries and back-off
(``bot.events.retry``), so deliveries go on whichever pages or channels are configured."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

from bot.settings import Settings

log = logging.getLogger(__name__)


def serve(settings: Settings, stop: threading.Event | None = None, interval: float = 1.0) -> int:
    from bot.db import engine
    from bot.events.outbox import Outbox
    from bot.events.retry import RetryingSender, run_senders
    from bot.events.webhooks import WebhookSender
    from bot.handoff.redact import install_log_redaction
    from bot.mail.outbox import MailOutbox
    from bot.mail.smtp import MailSender

    logging.getLogger().setLevel(logging.INFO)  # the command line configured the handler
    install_log_redaction()
    stop = stop or threading.Event()

    def finish(signum: int, frame: Any) -> None:
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, finish)
        signal.signal(signal.SIGINT, finish)
    db = engine(settings.handoff_db_url)
    senders: list[RetryingSender] = []
    urls = settings.webhook_urls
    log.info("worker started; webhooks to %s", ", ".join(urls) if urls else "nobody (none configured)")
    if urls:
        senders.append(WebhookSender(Outbox(db), settings.handoff_webhook_secret))
    if settings.smtp_host:
        log.info("email replies through %s:%d (%s)", settings.smtp_host, settings.smtp_port_number,
                 settings.smtp_tls)
        senders.append(MailSender(MailOutbox(db), settings))
    else:
        log.info("email replies off (SUPPORTBOT_SMTP_HOST is not set)")
    if senders:  # drains what is due, also deliveries queued before a restart
        run_senders(senders, stop, interval)
    else:
        stop.wait()
    log.info("worker stopped")
    return 0
