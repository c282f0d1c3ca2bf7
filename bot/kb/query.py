"""What a customer's message becomes before it is encoded, and how many words of substance it has."""

from __future__ import annotations

import re
from functools import lru_cache

SHORT_WORDS = 2  # a message of at most this many words is short (its own thresholds, bot/kb/short.py)
_WORD = re.compile(r"[^\W_]+")  # letters and digits of any script; "don't" is "don" and "t"
# forms of "do" and the halves of contractions, which scikit-learn's list lacks
_MORE_STOP_WORDS = {"does", "did", "doing", "don", "doesn", "didn", "isn", "aren", "wasn", "won", "ll", "ve"}


def clean_query(text: str | None, max_chars: int) -> str:
    """Collapse whitespace and cut overlong messages; the empty string means nothing to search."""
    text = " ".join((text or "").split())
    return text[:max_chars]


@lru_cache(maxsize=1)
def _stop_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS) | _MORE_STOP_WORDS


def words(text: str) -> list[str]:
    """The message's lower-cased words of two letters or digits or more, in order."""
    return [w for w in _WORD.findall(text.lower()) if len(w) > 1]


def content_words(text: str) -> list[str]:
    """:func:`words` that are not English stop words (scikit-learn's list), in order:
    "how long does shipping to Canada take?" -> ["long", "shipping", "canada"]."""
    stop = _stop_words()
    return [w for w in words(text) if w not in stop]


def is_short(text: str) -> bool:
    """Whether a message says too little to tell related entries apart: ``SHORT_WORDS`` words or
    fewer ("refund?", "shipping canada"). Counting content words instead also caught whole
    questions ("how fast do you deliver": nlu-chatbot's coverage fell from 0.84 to 0.67)."""
    return len(words(text)) <= SHORT_WORDS
