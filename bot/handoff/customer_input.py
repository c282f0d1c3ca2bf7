"""What a customer gives a hand-off, checked before anything keeps it: an email address, a rating.

No email library is in the locked set (``email_validator`` is not installed), so the address check
is written out here: the dot-atom form of RFC 5321/5322 that mail providers hand out, with its
length limits. Addresses with quoted local parts or IP-literal domains are refused, a fair price
for never storing something that is not an address.
"""

from __future__ import annotations

import re
from typing import Any

# Finds what looks like an address inside a sentence; is_email then decides whether it is one.
EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_LOCAL_RE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_LABEL_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_TLD_RE = re.compile(r"[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59}")
MAX_EMAIL = 254  # RFC 5321's path limit less the angle brackets
MAX_LOCAL = 64

RATINGS = range(1, 6)


def is_email(value: Any) -> bool:
    """``name@example.com`` yes; ``jo..doe@example.com``, ``<img ...>``, ``a@b`` no."""
    if not isinstance(value, str) or len(value) > MAX_EMAIL or value.count("@") != 1:
        return False
    local, domain = value.split("@")
    labels = domain.split(".")
    return (len(local) <= MAX_LOCAL and _LOCAL_RE.fullmatch(local) is not None
            and len(labels) >= 2 and all(_LABEL_RE.fullmatch(label) for label in labels)
            and _TLD_RE.fullmatch(labels[-1]) is not None)


def email_in(text: str | None) -> str | None:
    """The first well-formed email address written in ``text``."""
    return next((m.group(0) for m in EMAIL_RE.finditer(text or "") if is_email(m.group(0))), None)


def rating(value: Any) -> int | None:
    """A rating is a whole number from 1 to 5 (``"4"`` or ``4``); anything else is None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdecimal() and value.strip().isascii():
        value = int(value.strip())
    return value if isinstance(value, int) and value in RATINGS else None


RATING_RE = re.compile(r"^\D*?([1-5])(?!\d)\s*(?:stars?)?[\s,.:;!-]*(.*)$", re.S)


def parse_rating(text: str, entity: Any) -> tuple[int | None, str | None]:
    """A rating message: ``"4 - quick and friendly"`` -> (4, "quick and friendly"); a button's
    ``/rate{...}`` or anything else -> its ``rating`` entity, if it is one."""
    m = None if text.startswith("/") else RATING_RE.match(text.strip())  # "/rate{...}": a button
    if m:
        return int(m.group(1)), (m.group(2).strip() or None)
    return rating(entity), None
