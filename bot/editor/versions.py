"""The FAQ's published versions (table ``faq_versions``, in the hand-off database): who published
what and when, the whole corpus as it was (so any version can be shown, compared and restored),
the files' fingerprints (to notice a change made on disk), and how its index build went.

Kinds: ``initial`` (the FAQ as the editor first found it), ``publish``, ``rollback``, ``import`` and
``disk`` (a change made outside the editor, e.g. a ``git pull``, recorded when noticed). Build
states: ``queued``, ``building``, ``serving``, ``failed``, ``superseded`` (a newer publish was
built instead) and ``unbuilt`` (recorded, not built: the next publish builds it too).
"""

from __future__ import annotations

import hashlib
import json
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Sequence

import sqlalchemy as sa

from bot.db import aware, metadata, utcnow
from bot.kb.corpus import FaqEntry

INITIAL, PUBLISH, ROLLBACK, IMPORT, DISK = "initial", "publish", "rollback", "import", "disk"
QUEUED, BUILDING, SERVING, FAILED, SUPERSEDED, UNBUILT = (
    "queued", "building", "serving", "failed", "superseded", "unbuilt")
FIELDS = ("question", "alternates", "answer", "tags", "thresholds", "file")

faq_versions = sa.Table(
    "faq_versions", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("author", sa.String(255), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("snapshot", sa.LargeBinary, nullable=False),  # zlib-compressed JSON list of entries
    sa.Column("files", sa.Text, nullable=False),  # JSON {file name: sha256 of its text}
    sa.Column("touched", sa.Text, nullable=False),  # JSON list of the entry ids it changed
    sa.Column("corpus_hash", sa.String(64), nullable=False),
    sa.Column("build_state", sa.String(16), nullable=False),
    sa.Column("build_detail", sa.Text),
    sa.Column("index_version", sa.String(255)),
    sa.Column("build_seconds", sa.Float),
    sa.Column("served_at", sa.DateTime(timezone=True)),
)


class VersionNotFound(LookupError):
    pass


def fingerprints(texts: dict[str, str]) -> dict[str, str]:
    return {name: hashlib.sha256(text.encode("utf-8")).hexdigest() for name, text in texts.items()}


def _entry_dict(e: FaqEntry) -> dict[str, Any]:
    return {"id": e.id, "question": e.question, "alternates": list(e.alternates), "answer": e.answer,
            "tags": list(e.tags), "thresholds": dict(e.thresholds), "file": e.file}


def _pack(entries: Sequence[FaqEntry]) -> bytes:
    return zlib.compress(json.dumps([_entry_dict(e) for e in entries], ensure_ascii=False).encode("utf-8"))


def _unpack(blob: bytes) -> list[FaqEntry]:
    return [FaqEntry.from_json(d) for d in json.loads(zlib.decompress(blob).decode("utf-8"))]


@dataclass(frozen=True)
class EntryDiff:
    """How one entry differs between two versions: ``added``, ``removed`` or ``changed`` (with the
    fields that changed, each as (before, after))."""

    id: str
    kind: str
    fields: dict[str, tuple[Any, Any]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind,
                "fields": {k: {"before": b, "after": a} for k, (b, a) in self.fields.items()}}


def diff(before: Sequence[FaqEntry], after: Sequence[FaqEntry]) -> list[EntryDiff]:
    """Per entry, what changed from ``before`` to ``after`` (in ``after``'s order, removed ones last)."""
    old, new = {e.id: _entry_dict(e) for e in before}, {e.id: _entry_dict(e) for e in after}
    out = []
    for entry_id, now in new.items():
        was = old.get(entry_id)
        if was is None:
            out.append(EntryDiff(entry_id, "added", {k: (None, now[k]) for k in FIELDS if now[k]}))
            continue
        changed = {k: (was[k], now[k]) for k in FIELDS if was[k] != now[k]}
        if changed:
            out.append(EntryDiff(entry_id, "changed", changed))
    out += [EntryDiff(i, "removed", {k: (was[k], None) for k in FIELDS if was[k]})
            for i, was in old.items() if i not in new]
    return out


@dataclass(frozen=True)
class Version:
    id: int
    at: datetime
    author: str
    message: str
    kind: str
    files: dict[str, str]
    touched: list[str]
    corpus_hash: str
    build_state: str
    build_detail: str | None
    index_version: str | None
    build_seconds: float | None
    served_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "at": self.at.isoformat(), "author": self.author, "message": self.message,
                "kind": self.kind, "touched": self.touched, "files": sorted(self.files),
                "build": {"state": self.build_state, "detail": self.build_detail,
                          "index_version": self.index_version, "seconds": self.build_seconds,
                          "served_at": self.served_at.isoformat() if self.served_at else None}}


_LIGHT = [c for c in faq_versions.c if c.name != "snapshot"]


class VersionStore:
    def __init__(self, engine: sa.engine.Engine):
        self.engine = engine
        metadata.create_all(engine, tables=[faq_versions])

    def add(self, author: str, message: str, kind: str, entries: Sequence[FaqEntry],
            files: dict[str, str], corpus_hash: str, build_state: str = QUEUED) -> Version:
        latest = self.latest()
        touched = [d.id for d in diff(self.entries(latest.id), entries)] if latest else [e.id for e in entries]
        with self.engine.begin() as conn:
            result = conn.execute(faq_versions.insert().values(
                at=utcnow(), author=author, message=message, kind=kind, snapshot=_pack(entries),
                files=json.dumps(files, sort_keys=True), touched=json.dumps(touched),
                corpus_hash=corpus_hash, build_state=build_state))
            version_id = int(result.inserted_primary_key[0])
        return self.get(version_id)

    def get(self, version_id: int) -> Version:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(*_LIGHT).where(faq_versions.c.id == version_id)).first()
        if row is None:
            raise VersionNotFound(f"no FAQ version {version_id}")
        return self._version(row._mapping)

    def entries(self, version_id: int) -> list[FaqEntry]:
        with self.engine.connect() as conn:
            query = sa.select(faq_versions.c.snapshot).where(faq_versions.c.id == version_id)
            blob = conn.execute(query).scalar()
        if blob is None:
            raise VersionNotFound(f"no FAQ version {version_id}")
        return _unpack(blob)

    def latest(self) -> Version | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(*_LIGHT).order_by(faq_versions.c.id.desc()).limit(1)).first()
        return self._version(row._mapping) if row else None

    def previous(self, version_id: int) -> Version | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(*_LIGHT).where(faq_versions.c.id < version_id)
                               .order_by(faq_versions.c.id.desc()).limit(1)).first()
        return self._version(row._mapping) if row else None

    def history(self, limit: int = 50, before: int | None = None) -> list[Version]:
        """The newest versions first (older than ``before`` when given)."""
        query = sa.select(*_LIGHT).order_by(faq_versions.c.id.desc()).limit(limit)
        if before is not None:
            query = query.where(faq_versions.c.id < before)
        with self.engine.connect() as conn:
            return [self._version(r._mapping) for r in conn.execute(query)]

    def changes_of(self, version_id: int) -> list[EntryDiff]:
        """What ``version_id`` changed compared with the version before it."""
        before = self.previous(version_id)
        return diff(self.entries(before.id) if before else [], self.entries(version_id))

    def last_touch(self, entry_id: str, scan: int = 200) -> Version | None:
        """The newest version that changed ``entry_id`` (among the last ``scan``)."""
        return next((v for v in self.history(scan) if entry_id in v.touched), None)

    def set_build(self, version_id: int, state: str, detail: str | None = None, *,
                  index_version: str | None = None, seconds: float | None = None) -> None:
        values: dict[str, Any] = {"build_state": state, "build_detail": detail}
        if index_version is not None:
            values["index_version"] = index_version
        if seconds is not None:
            values["build_seconds"] = round(seconds, 3)
        if state == SERVING:
            values["served_at"] = utcnow()
        with self.engine.begin() as conn:
            conn.execute(faq_versions.update().where(faq_versions.c.id == version_id).values(**values))

    def pending(self) -> list[Version]:
        """Versions waiting for a build or caught building (a restart interrupted it), oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(*_LIGHT).where(faq_versions.c.build_state.in_([QUEUED, BUILDING]))
                                .order_by(faq_versions.c.id)).all()
        return [self._version(r._mapping) for r in rows]

    @staticmethod
    def _version(row: sa.RowMapping) -> Version:
        return Version(row["id"], aware(row["at"]), row["author"], row["message"], row["kind"],
                       json.loads(row["files"]), json.loads(row["touched"]), row["corpus_hash"],
                       row["build_state"], row["build_detail"], row["index_version"], row["build_seconds"],
                       aware(row["served_at"]) if row["served_at"] else None)
