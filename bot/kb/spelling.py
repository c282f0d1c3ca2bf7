"""Mend misspelt and run-together words of a customer's message before its one encoder pass.

Only a word that is neither in the FAQ's own vocabulary nor in symspellpy's English frequency
dictionary is touched: a run of known words ("whereis" -> "where is") is split, else the nearest
word one edit away is taken, the FAQ's words winning ties. A word the FAQ knows is never changed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from importlib.resources import files

from symspellpy import SymSpell, Verbosity

MIN_COUNT = 100_000  # English words rarer than this are left out (they are mostly names and noise)
SPLIT_COUNT = 10**7  # a run-together word splits only into common words (or the FAQ's)
FAQ_COUNT = 10**12  # the FAQ's words outrank every English word
WORD = re.compile(r"[a-z]+")
TOKEN = re.compile(r"([A-Za-z]+)")


@lru_cache(maxsize=1)
def english() -> dict[str, int]:
    """symspellpy's English frequency dictionary, words of at least MIN_COUNT occurrences."""
    path = files("symspellpy") / "frequency_dictionary_en_82_765.txt"
    words: dict[str, int] = {}
    for line in path.read_text("utf-8").splitlines():
        word, _, count = line.partition(" ")
        if int(count) >= MIN_COUNT:
            words[word] = int(count)
    return words


class Speller:
    """The FAQ's words plus English; ``mend`` returns the message with unknown words mended."""

    def __init__(self, texts: Iterable[str]):
        self.faq = {w for t in texts for w in WORD.findall(t.lower())}
        self.known = set(english()) | self.faq
        self.symspell = SymSpell(max_dictionary_edit_distance=1, prefix_length=7)
        for word, count in english().items():
            self.symspell.create_dictionary_entry(word, count)
        for word in self.faq:
            self.symspell.create_dictionary_entry(word, FAQ_COUNT)

    def mend(self, text: str) -> str:
        return TOKEN.sub(lambda m: self.word(m.group(1)), text)

    def word(self, token: str) -> str:
        lower = token.lower()
        if len(lower) < 3 or lower in self.known:
            return token
        found = self.symspell.lookup(lower, Verbosity.TOP, max_edit_distance=1)
        if found and found[0].term in self.faq:
            return found[0].term
        return self.split(lower) or (found[0].term if found else token)

    def split(self, lower: str) -> str | None:
        """Common or FAQ words run together (two letters or more, but 'a' and 'i'), or None."""
        if len(lower) < 5:
            return None
        parts = self.symspell.word_segmentation(lower, max_edit_distance=0).corrected_string.split()
        if len(parts) > 1 and all(p in self.faq or english().get(p, 0) >= SPLIT_COUNT for p in parts) \
                and all(len(p) > 1 or p in "ai" for p in parts):
            return " ".join(parts)
        return None


_SPELLERS: dict[str, Speller] = {}


def mend(texts: list[str], version) -> list[str]:
    """``texts`` with unknown words mended against ``version``'s phrasings (one speller per
    version path, the last few kept)."""
    key = str(version.path)
    speller = _SPELLERS.get(key)
    if speller is None:
        speller = Speller(version.texts)
        if len(_SPELLERS) >= 4:
            _SPELLERS.pop(next(iter(_SPELLERS)))
        _SPELLERS[key] = speller
    return [speller.mend(t) for t in texts]
