"""Find and mask personal data: emails, phone, card and IBAN numbers (webhooks, logs, the console,
and, per the operator's setting, what is stored).

Each kind is found by a library that knows it, so order numbers, dates, checksums and conversation
ids stay readable:
- emails: spaCy's ``LIKE_EMAIL`` token rule (a blank English pipeline, no downloaded model);
- phone numbers: ``phonenumbers`` (Google's libphonenumber) with leniency VALID: a number must be a
  real, assignable number of its country. International numbers (``+44 ...``, ``0044 ...``) are
  found anywhere; national ones (``(415) 555-2671``) in the configured region
  (``SUPPORTBOT_PHONE_REGION``). A number right after a label such as "order" or "ticket" is that
  label's id, unless written internationally;
- card numbers: 13 to 19 digits (spaces or dashes allowed) passing the Luhn check (``python-stdnum``);
- IBANs, in any case, with or without spaces: the country's format and the mod-97 check
  (``python-stdnum``).
Digits glued to a word or a dash (``probe-12345678``, uuid hex) are part of an id, never a number.
"""

from __future__ import annotations

import functools
import logging
import re
import sys
from typing import Any, Iterable

from bot.settings import PERSONAL_DATA as KINDS
from bot.settings import Settings

MASKS = {"email": "[email]", "phone": "[phone]", "card": "[card]", "iban": "[iban]"}
DEFAULT_REGION = Settings.phone_region

_CARD = re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-])")
_IBAN = re.compile(r"(?<![\w-])[A-Za-z]{2}\d{2}(?:[ ]?[A-Za-z0-9]{1,4}){3,8}(?![\w-])")
# the number is an order, invoice, ticket ... id: "order 4155552671", "ticket #4155552671"
_ID_LABEL = re.compile(r"\b(?:order|invoice|ticket|case|ref|reference|tracking|booking|id)\s*(?:no\.?|number)?"
                       r"\s*[:#]?\s*$", re.IGNORECASE)


def luhn_ok(number: str) -> bool:
    from stdnum import luhn

    digits = "".join(c for c in number if c.isdigit())
    return 13 <= len(digits) <= 19 and luhn.is_valid(digits)


def iban_ok(text: str) -> bool:
    from stdnum import iban

    return bool(iban.is_valid(text))


def _import_spacy() -> Any:
    """spaCy without torch and tensorflow: its ML library (thinc) imports both whenever they are
    installed, hundreds of MB for models a blank pipeline never runs; hidden while it loads (unless
    already loaded), so the action server stays free of torch (issue 20)."""
    hidden = [name for name in ("torch", "tensorflow") if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # "import torch" raises ImportError
    try:
        import spacy
    finally:
        for name in hidden:
            if sys.modules.get(name, False) is None:
                del sys.modules[name]
    return spacy


@functools.lru_cache(maxsize=1)
def _email_matcher() -> tuple[Any, Any]:
    spacy = _import_spacy()
    from spacy.matcher import Matcher

    nlp = spacy.blank("en")
    matcher = Matcher(nlp.vocab)
    matcher.add("email", [[{"LIKE_EMAIL": True}]])
    return nlp, matcher


def _emails(text: str) -> Iterable[tuple[int, int]]:
    if "@" not in text:
        return
    nlp, matcher = _email_matcher()
    doc = nlp.make_doc(text)
    for _, start, end in matcher(doc):
        yield doc[start:end].start_char, doc[start:end].end_char


def _ibans(text: str) -> Iterable[tuple[int, int]]:
    for m in _IBAN.finditer(text):
        candidate = m.group(0)
        while len(candidate.replace(" ", "")) >= 15:  # "DE89 3704 0044 0532 0130 00 1234": drop the tail
            if iban_ok(candidate):
                yield m.start(), m.start() + len(candidate)
                break
            if " " not in candidate:
                break
            candidate = candidate.rsplit(" ", 1)[0]


def _cards(text: str) -> Iterable[tuple[int, int]]:
    """Luhn-valid digit runs, except inside IBAN-shaped text (a mistyped IBAN is no card)."""
    shaped = [(m.start(), m.end()) for m in _IBAN.finditer(text)]
    for m in _CARD.finditer(text):
        if luhn_ok(m.group(0)) and not any(m.start() < e and s < m.end() for s, e in shaped):
            yield m.start(), m.end()


def _phones(text: str, region: str) -> Iterable[tuple[int, int]]:
    import phonenumbers

    for m in phonenumbers.PhoneNumberMatcher(text, region.upper() or None,
                                             leniency=phonenumbers.Leniency.VALID):
        glued = (m.start > 0 and (text[m.start - 1].isalnum() or text[m.start - 1] in "-_")) or (
            m.end < len(text) and (text[m.end].isalnum() or text[m.end] in "-_"))
        international = m.raw_string.lstrip("(").startswith(("+", "00"))
        if glued or (not international and _ID_LABEL.search(text[:m.start])):
            continue
        yield m.start, m.end


def find_personal_data(text: str, kinds: Iterable[str] = KINDS,
                       region: str = DEFAULT_REGION) -> list[tuple[int, int, str]]:
    """(start, end, kind) character spans, non-overlapping, in order. The first kind to claim
    characters keeps them: email, then IBAN, card, phone."""
    wanted = set(kinds)
    finders = {"email": lambda: _emails(text), "iban": lambda: _ibans(text),
               "card": lambda: _cards(text), "phone": lambda: _phones(text, region)}
    found: list[tuple[int, int, str]] = []
    for kind in ("email", "iban", "card", "phone"):
        if kind in wanted and any(c.isdigit() or c == "@" for c in text):
            for start, end in finders[kind]():
                if not any(start < e and s < end for s, e, _ in found):
                    found.append((start, end, kind))
    return sorted(found)


def redact(text: str, kinds: Iterable[str] = KINDS, region: str = DEFAULT_REGION) -> str:
    out, last = [], 0
    for start, end, kind in find_personal_data(text, kinds, region):
        out.append(text[last:start])
        out.append(MASKS[kind])
        last = end
    out.append(text[last:])
    return "".join(out)


class RedactingFilter(logging.Filter):
    """Masks personal data in every log line that passes the handler it is attached to."""

    def __init__(self, region: str = DEFAULT_REGION):
        super().__init__()
        self.region = region

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = redact(message, region=self.region) if any(c.isdigit() or c == "@" for c in message) \
            else message
        if masked != message:
            record.msg, record.args = masked, ()
        return True


def install_log_redaction(logger: logging.Logger | None = None, region: str | None = None) -> None:
    """Attach a RedactingFilter to every handler of ``logger`` (default: the root logger); phone
    numbers in national format are those of ``region`` (default: SUPPORTBOT_PHONE_REGION)."""
    if region is None:
        region = Settings.from_env().phone_region
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter(region))
