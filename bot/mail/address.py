"""Addresses and header text, checked before anything goes into a message's headers: no CR or LF
ever reaches a header (no header injection), and an address is one ``is_email`` accepts."""

from __future__ import annotations

import re
from email.headerregistry import Address
from email.utils import parseaddr

from bot.handoff.customer_input import is_email

TLS_MODES = ("none", "starttls", "tls")  # plain, STARTTLS upgrade, implicit TLS (SMTPS)
DEFAULT_PORTS = {"none": 25, "starttls": 587, "tls": 465}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def header_text(text: str, limit: int = 120) -> str:
    """One line for a header such as Subject: control characters (CR, LF, tabs) become spaces."""
    line = " ".join(_CONTROL.sub(" ", text).split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def address_problem(value: str) -> str | None:
    """What is wrong with a recipient address, or None."""
    if _CONTROL.search(value):
        return "an email address cannot contain line breaks or control characters"
    if not is_email(value):
        return f"{value[:80]!r} is not an email address (write it like name@example.com)"
    return None


def sender(value: str) -> Address:
    """``support@shop.example`` or ``Shop support <support@shop.example>``; ValueError says why not."""
    if _CONTROL.search(value):
        raise ValueError("the from-address cannot contain line breaks or control characters")
    name, addr = parseaddr(value)
    if not addr or not is_email(addr):
        raise ValueError(f"{value!r} is not a from-address; write support@example.com or "
                         "Support <support@example.com>")
    user, domain = addr.split("@")
    return Address(display_name=name, username=user, domain=domain)
