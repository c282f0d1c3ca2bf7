"""Sends the e-mail outbox over SMTP (``smtplib``, in the background worker's thread like the webhook
sender; nothing here needs asyncio): plain, STARTTLS or implicit TLS, with login when credentials
are set. A refusal with a permanent (5xx) code for the recipient or the message is not retried;
anything else (server down, timeouts, 4xx, a login that fails until an operator fixes it) is."""

from __future__ import annotations

import smtplib
import ssl
from email import message_from_string
from email.policy import SMTP
from typing import Any

from bot.events.retry import DeliveryFailed, RetryingSender
from bot.mail.outbox import MailOutbox
from bot.settings import Settings


class MailSender(RetryingSender):
    kind = "email"

    def __init__(self, outbox: MailOutbox, settings: Settings, base_delay: float = 1.0):
        super().__init__(outbox.queue, base_delay, settings.smtp_max_attempts)
        self.settings = settings

    def describe(self, row: dict[str, Any]) -> str:
        return f"email {row['id']} for hand-off {row['handoff_id']}"

    def connect(self) -> smtplib.SMTP:
        s = self.settings
        host, port, timeout = s.smtp_host, s.smtp_port_number, s.smtp_timeout
        if s.smtp_tls == "tls":
            client: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=timeout,
                                                    context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(host, port, timeout=timeout)
            if s.smtp_tls == "starttls":
                client.starttls(context=ssl.create_default_context())
        if s.smtp_user:
            client.login(s.smtp_user, s.smtp_password)
        return client

    def attempt(self, row: dict[str, Any]) -> None:
        message = message_from_string(row["message"], policy=SMTP)
        try:
            client = self.connect()
            try:
                client.send_message(message)
            finally:
                try:
                    client.quit()
                except smtplib.SMTPException:
                    pass
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            raise DeliveryFailed(_describe(exc), permanent=_permanent(exc)) from exc
        except (smtplib.SMTPException, OSError) as exc:  # refused connection, TLS, timeout, login
            raise DeliveryFailed(_describe(exc)) from exc


def _codes(exc: smtplib.SMTPException) -> list[int]:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return [code for code, _ in exc.recipients.values()]
    return [getattr(exc, "smtp_code", 0)]


def _permanent(exc: smtplib.SMTPException) -> bool:
    return all(500 <= code < 600 for code in _codes(exc))


def _describe(exc: Exception) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(f"{rcpt} refused: {code} {msg.decode(errors='replace')}"
                         for rcpt, (code, msg) in exc.recipients.items())
    code, msg = getattr(exc, "smtp_code", None), getattr(exc, "smtp_error", None)
    if code is not None:
        text = msg.decode(errors="replace") if isinstance(msg, bytes) else str(msg)
        return f"{type(exc).__name__}: {code} {text}"
    return f"{type(exc).__name__}: {exc}"
