"""What is wrong with the SMTP settings (``SUPPORTBOT_SMTP_*``, checked when the settings load)."""

from __future__ import annotations

from typing import Any

from bot.mail.address import TLS_MODES, sender


def smtp_problem(s: Any) -> str | None:
    """What is wrong with the SMTP settings of ``s``, a :class:`bot.settings.Settings` (which imports
    this module, so it is not imported here), or None."""
    if s.smtp_tls not in TLS_MODES:
        return f"SUPPORTBOT_SMTP_TLS must be one of {', '.join(TLS_MODES)}, got {s.smtp_tls!r}"
    if not 0 <= s.smtp_port <= 65535:
        return "SUPPORTBOT_SMTP_PORT must be a port number (0 for the usual one)"
    if s.smtp_max_attempts < 1 or s.smtp_timeout <= 0:
        return "SUPPORTBOT_SMTP_MAX_ATTEMPTS must be at least 1 and SUPPORTBOT_SMTP_TIMEOUT positive"
    if bool(s.smtp_user) != bool(s.smtp_password):
        return "SUPPORTBOT_SMTP_USER and SUPPORTBOT_SMTP_PASSWORD go together: set both or neither"
    if not s.smtp_host:
        return None
    if not s.smtp_from:
        return "SUPPORTBOT_SMTP_HOST is set, so SUPPORTBOT_SMTP_FROM must be set too (the replies' From)"
    try:
        sender(s.smtp_from)
    except ValueError as exc:
        return f"SUPPORTBOT_SMTP_FROM: {exc}"
    loopback = s.smtp_host in ("localhost", "127.0.0.1", "::1")
    if s.smtp_user and s.smtp_tls == "none" and not loopback:
        return ("SUPPORTBOT_SMTP_TLS=none would send SUPPORTBOT_SMTP_PASSWORD unencrypted to "
                f"{s.smtp_host}: use starttls or tls")
    return None
