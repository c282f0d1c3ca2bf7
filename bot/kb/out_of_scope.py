"""Questions that are not ours: examples an editor marked "not ours" in the inbox (or wrote by
hand), kept in a git-friendly YAML file next to the FAQ (``SUPPORTBOT_OUT_OF_SCOPE``, default
``data/out_of_scope.yml``) that every build reads, from the editor or the CLI alike.

They are used twice. Calibration counts them as out-of-scope samples next to the generic ones
(``bot/kb/data/oos_generic.txt``). And the served version keeps their vectors: a question nearer
to one of them than to any entry (by ``DECLINE_MARGIN``) is declined (a miss), which is what makes
"not ours" stick for the paraphrases customers write next (global thresholds alone cannot: these
questions score like in-scope ones, tests/integration/test_out_of_scope.py has the figures).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from bot.kb.files import write_atomic, write_json_atomic

KEY = "out_of_scope"
MAX_TEXT_CHARS = 1000  # as long as an inbox question may be
DECLINE_MARGIN = 0.05  # nearer to an example than to the best entry by this much: declined
HEADER = """\
# Questions this bot must not answer: they sound like ours but are not (another shop's gift cards,
# someone's phone bill...). Editors add them with "not ours" in the inbox of /editor/; you may edit
# this list by hand too. Every index build reads it: calibration counts them as out-of-scope
# samples, and a customer question nearer to one of them than to any FAQ entry is declined.
# One question per item; duplicates (ignoring case) are dropped. SUPPORTBOT_OUT_OF_SCOPE moves the file.
"""
_TEXTS, _VECTORS = "out_of_scope.json", "out_of_scope.npy"  # in an index version, next to thresholds.json


class OutOfScopeError(ValueError):
    """The out-of-scope file (or texts to add to it) cannot be used; the message names the line."""


def normalised(text: str) -> str:
    return " ".join(text.split()).casefold()


def load(path: Path) -> list[str]:
    """The file's questions, first spelling of each (a missing file: none)."""
    if not path.exists():
        return []
    return _read(path)[1]


def add(path: Path, texts: Iterable[str]) -> list[str]:
    """Append ``texts`` that the file does not hold yet (ignoring case and spacing), keeping its
    comments and order; creates the file with its header comment. Returns what was added."""
    wanted = [_checked(t, f"question {n}") for n, t in enumerate(texts, 1)]
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path.parent):
        doc, known = _read(path) if path.exists() else (None, [])
        seen = {normalised(t) for t in known}
        added = []
        for text in wanted:
            if normalised(text) not in seen:
                seen.add(normalised(text))
                added.append(text)
        if not added:
            return []
        yaml = _yaml()
        if doc is None:  # a new file gets the header; an empty one keeps what comments it has
            before = path.read_text("utf-8").rstrip() + "\n" if path.exists() else HEADER
            doc = yaml.load(before.lstrip("\n") + f"{KEY}: []\n")
        if doc.get(KEY) is None or len(doc[KEY]) == 0:
            from ruamel.yaml.comments import CommentedSeq

            doc[KEY] = CommentedSeq()  # block style, not the flow "[]" of an empty list
        doc[KEY].extend(added)
        out = io.StringIO()
        yaml.dump(doc, out)
        write_atomic(path, out.getvalue())
    return added


def digest(texts: Sequence[str]) -> str:
    """What a build records of the examples it calibrated with ("" for none), so that a changed
    file alone makes the next build recalibrate."""
    if not texts:
        return ""
    payload = json.dumps(sorted({normalised(t) for t in texts}), ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


# -- the decline rule --------------------------------------------------------------------------
def declining(query_vectors: np.ndarray, top_scores: Sequence[float] | np.ndarray, examples: np.ndarray,
              skip_self: bool = False) -> np.ndarray:
    """Per query, the index of the example that declines it (its cosine is at least the query's
    best entry score plus DECLINE_MARGIN), or -1. ``skip_self``: query i is example i, held out."""
    n = len(query_vectors)
    if n == 0 or len(examples) == 0:
        return np.full(n, -1, dtype=np.int64)
    sims = np.asarray(query_vectors, dtype=np.float32) @ np.asarray(examples, dtype=np.float32).T
    if skip_self:
        np.fill_diagonal(sims, -np.inf)
    best = sims.argmax(axis=1)
    nearest = sims[np.arange(n), best]
    tops = np.asarray(top_scores, dtype=np.float64)
    return np.where(nearest >= tops + DECLINE_MARGIN, best, -1)


@dataclass(frozen=True)
class Examples:
    """The examples an index version declines by: their texts and vectors (its encoder's)."""

    texts: list[str]
    vectors: np.ndarray

    def declined_by(self, query_vectors: np.ndarray, top_scores: Sequence[float]) -> list[str | None]:
        found = declining(query_vectors, top_scores, self.vectors)
        return [self.texts[i] if i >= 0 else None for i in found]


def save_examples(version: Path, texts: Sequence[str], vectors: np.ndarray) -> None:
    """Store the examples in an index version (calibration does, before its thresholds)."""
    if texts:
        tmp = version / f".{_VECTORS}.{os.getpid()}.tmp.npy"
        np.save(tmp, np.asarray(vectors, dtype=np.float32))
        os.replace(tmp, version / _VECTORS)
    write_json_atomic(version / _TEXTS, {"texts": list(texts)})
    if not texts:
        (version / _VECTORS).unlink(missing_ok=True)


def load_examples(version: Path) -> Examples | None:
    """A version's examples; None when it has none (built before them, or none in the file)."""
    if not (version / _TEXTS).exists():
        return None
    texts = json.loads((version / _TEXTS).read_text("utf-8"))["texts"]
    if not texts:
        return None
    vectors = np.load(version / _VECTORS)
    if vectors.shape[0] != len(texts):
        raise ValueError(f"{len(texts)} out-of-scope texts but {vectors.shape[0]} vectors")
    return Examples(list(texts), vectors)


# -- the file ----------------------------------------------------------------------------------
def _yaml() -> Any:
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096  # type: ignore[assignment]  # one question per line, never folded
    return yaml


def _read(path: Path) -> tuple[Any, list[str]]:
    from ruamel.yaml import YAMLError
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    where = str(path)
    try:
        doc = _yaml().load(path.read_text("utf-8"))
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise OutOfScopeError(f"{where}{line}: malformed YAML: {getattr(exc, 'problem', None) or exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise OutOfScopeError(f"{where}: cannot be read ({exc})") from exc
    if doc is None:
        return None, []
    if not isinstance(doc, CommentedMap):
        raise OutOfScopeError(f"{where}:1: the file must hold a top-level '{KEY}:' list of questions")
    unknown = [k for k in doc if k != KEY]
    if unknown:
        line = doc.lc.key(unknown[0])[0] + 1
        raise OutOfScopeError(f"{where}:{line}: unknown key {unknown[0]!r}; the file holds only '{KEY}:'")
    items = doc.get(KEY)
    if items is None:
        return doc, []
    if not isinstance(items, CommentedSeq):
        raise OutOfScopeError(f"{where}:{doc.lc.key(KEY)[0] + 1}: '{KEY}' must be a list of questions "
                              "('- ...' lines)")
    texts, seen = [], set()
    for n, item in enumerate(items):
        line = items.lc.item(n)[0] + 1
        try:
            text = _checked(item, "this item")
        except OutOfScopeError as exc:
            raise OutOfScopeError(f"{where}:{line}: {exc}") from None
        if normalised(text) not in seen:
            seen.add(normalised(text))
            texts.append(text)
    return doc, texts


def _checked(text: Any, what: str) -> str:
    if not isinstance(text, str) or not text.strip():
        raise OutOfScopeError(f"{what} must be a question (non-empty text), got {text!r}")
    if len(text) > MAX_TEXT_CHARS:
        raise OutOfScopeError(f"{what} is longer than {MAX_TEXT_CHARS} characters; shorten it")
    return " ".join(text.split())


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """One writer at a time (two editors marking "not ours" at once), across processes."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
