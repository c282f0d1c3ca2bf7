"""Mask personal data before anything leaves the system (webhooks, logs, optionally the console).

A blank English spaCy pipeline (no downloaded model): its ``LIKE_EMAIL`` token rule finds email
addresses; regular expressions over the doc propose phone, card and IBAN spans, and card numbers
must pass the Luhn check and IBANs the ISO 7064 mod-97 check, so order numbers stay readable.
"""

from __future__ import annotations

import functools
import logging
import re
from typing import Any

MASKS = {"EMAIL": "[email]", "PHONE": "[phone]", "CARD": "[card]", "IBAN": "[iban]"}
_PATTERNS = {
    "IBAN": re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?\b"),
    "CARD": re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])"),
    "PHONE": re.compile(r"(?<![\w+(])(?:\+|00|\()?\d[\d ()./-]{6,18}\d(?!\w)"),
}
_DATE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}")


def luhn_ok(number: str) -> bool:
    digits = [int(d) for d in number if d.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_ok(text: str) -> bool:
    s = text.replace(" ", "")
    if not 15 <= len(s) <= 34:
        return False
    rearranged = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def _phone_ok(text: str) -> bool:
    digits = sum(c.isdigit() for c in text)
    return 7 <= digits <= 15 and not _DATE.fullmatch(text.strip("()"))


_CHECKS = {"IBAN": iban_ok, "CARD": luhn_ok, "PHONE": _phone_ok}


@functools.lru_cache(maxsize=1)
def _pipeline() -> tuple[Any, Any]:
    import spacy
    from spacy.matcher import Matcher

    nlp = spacy.blank("en")
    matcher = Matcher(nlp.vocab)
    matcher.add("EMAIL", [[{"LIKE_EMAIL": True}]])
    return nlp, matcher


def find_personal_data(text: str) -> list[tuple[int, int, str]]:
    """(start, end, label) character spans, non-overlapping, in order."""
    from spacy.util import filter_spans

    nlp, matcher = _pipeline()
    doc = nlp.make_doc(text)
    spans = [doc[s:e] for _, s, e in matcher(doc)]
    spans = [doc.char_span(sp.start_char, sp.end_char, label="EMAIL") for sp in spans]
    for label, pattern in _PATTERNS.items():  # IBAN before CARD before PHONE: first claim wins
        for m in pattern.finditer(text):
            if _CHECKS[label](m.group(0)):
                span = doc.char_span(m.start(), m.end(), label=label, alignment_mode="expand")
                if span is not None and not any(_overlap(span, other) for other in spans):
                    spans.append(span)
    return [(sp.start_char, sp.end_char, sp.label_) for sp in sorted(filter_spans(spans),
                                                                        key=lambda s: s.start_char)]


def _overlap(a: Any, b: Any) -> bool:
    return a.start_char < b.end_char and b.start_char < a.end_char


def redact(text: str) -> str:
    out, last = [], 0
    for start, end, label in find_personal_data(text):
        out.append(text[last:start])
        out.append(MASKS[label])
        last = end
    out.append(text[last:])
    return "".join(out)


class RedactingFilter(logging.Filter):
    """Masks personal data in every log line that passes the handler it is attached to."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = redact(message) if any(c.isdigit() or c == "@" for c in message) else message
        if masked != message:
            record.msg, record.args = masked, ()
        return True


def install_log_redaction(logger: logging.Logger | None = None) -> None:
    """Attach a RedactingFilter to every handler of ``logger`` (default: the root logger)."""
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
