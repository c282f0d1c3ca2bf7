"""What an editor asks for: save an entry (new or edited) or delete one, each with the revision
it started from, so a change made meanwhile by someone else is a conflict and never overwritten."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from typing import Any, Iterable, Sequence

from bot.kb.corpus import ID_PATTERN, MAX_TEXT_CHARS, FaqEntry

SAVE, DELETE = "save", "delete"
MAX_ITEMS = 200  # alternates or tags in one entry


class ChangeError(ValueError):
    """A change is malformed; the message names the field and says what to send."""


def revision(entry: FaqEntry) -> str:
    """A short hash of what an entry says (not where it sits in its file)."""
    payload = json.dumps([entry.id, entry.question, list(entry.alternates), entry.answer, list(entry.tags),
                          entry.thresholds], ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def entry_json(entry: FaqEntry) -> dict[str, Any]:
    """An entry as the editor's page and the version history show it."""
    return {"id": entry.id, "question": entry.question, "alternates": list(entry.alternates),
            "answer": entry.answer, "tags": list(entry.tags), "thresholds": dict(entry.thresholds),
            "file": entry.file, "revision": revision(entry)}


@dataclass(frozen=True)
class Change:
    """``save`` (``entry`` is the new content; ``entry.file`` the file it lives in or goes to) or
    ``delete``. ``base`` is the revision the editor started from; None for a new entry."""

    op: str
    id: str
    entry: FaqEntry | None = None
    base: str | None = None

    @classmethod
    def from_json(cls, raw: Any, where: str = "change") -> Change:
        if not isinstance(raw, dict):
            raise ChangeError(f"{where}: send an object with op, id, entry and base")
        op = raw.get("op")
        if op not in (SAVE, DELETE):
            raise ChangeError(f"{where}.op: must be 'save' or 'delete', got {op!r}")
        entry_id = raw.get("id")
        if not isinstance(entry_id, str) or not ID_PATTERN.match(entry_id):
            raise ChangeError(f"{where}.id: {entry_id!r} must be a slug of lower-case letters, digits, - or _")
        base = raw.get("base")
        if base is not None and not isinstance(base, str):
            raise ChangeError(f"{where}.base: the revision you started from (text), or null for a new entry")
        if op == DELETE:
            if base is None:
                raise ChangeError(f"{where}.base: deleting needs the revision you saw")
            return cls(DELETE, entry_id, None, base)
        return cls(SAVE, entry_id, _entry(raw.get("entry"), entry_id, f"{where}.entry"), base)

    def to_json(self) -> dict[str, Any]:
        return {"op": self.op, "id": self.id, "base": self.base,
                "entry": entry_json(self.entry) if self.entry else None}


def _entry(raw: Any, entry_id: str, where: str) -> FaqEntry:
    if not isinstance(raw, dict):
        raise ChangeError(f"{where}: send the entry's question, alternates, answer, tags and file")

    def text(key: str, required: bool = True) -> str:
        value = raw.get(key, "")
        if not isinstance(value, str):
            raise ChangeError(f"{where}.{key}: must be text")
        if required and not value.strip():
            raise ChangeError(f"{where}.{key}: must not be empty")
        if len(value) > MAX_TEXT_CHARS:
            raise ChangeError(f"{where}.{key}: at most {MAX_TEXT_CHARS} characters")
        return value.strip()

    def texts(key: str) -> tuple[str, ...]:
        value = raw.get(key) or []
        if not isinstance(value, list) or len(value) > MAX_ITEMS:
            raise ChangeError(f"{where}.{key}: a list of at most {MAX_ITEMS} texts")
        out = []
        for n, item in enumerate(value):
            if not isinstance(item, str) or len(item) > MAX_TEXT_CHARS:
                raise ChangeError(f"{where}.{key}[{n}]: must be text of at most {MAX_TEXT_CHARS} characters")
            if item.strip():
                out.append(item.strip())
        return tuple(out)

    thresholds = raw.get("thresholds") or {}
    if not isinstance(thresholds, dict) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in thresholds.values()):
        raise ChangeError(f"{where}.thresholds: an object of numbers (answer, clarify, margin)")
    return FaqEntry(id=entry_id, question=text("question"), answer=text("answer"),
                    alternates=texts("alternates"), tags=texts("tags"),
                    thresholds={str(k): float(v) for k, v in thresholds.items()},
                    file=text("file", required=False))


def parse_changes(raw: Any) -> list[Change]:
    """The ``changes`` list of a request body; one change per entry id."""
    if not isinstance(raw, list) or not raw:
        raise ChangeError("changes: send a non-empty list of changes")
    out = [Change.from_json(item, f"changes[{n}]") for n, item in enumerate(raw)]
    ids = [c.id for c in out]
    if len(set(ids)) < len(ids):
        raise ChangeError("changes: each entry id at most once")
    return out


def applied(entries: Sequence[FaqEntry], changes: Iterable[Change]) -> list[FaqEntry]:
    """``entries`` with ``changes`` made (order kept; a new entry goes last), without any checks."""
    by_change = {c.id: c for c in changes}
    out = []
    for entry in entries:
        change = by_change.pop(entry.id, None)
        if change is None:
            out.append(entry)
        elif change.op == SAVE and change.entry is not None:
            out.append(replace(change.entry, file=change.entry.file or entry.file))
    out += [c.entry for c in by_change.values() if c.op == SAVE and c.entry is not None]
    return out
