"""The editor's rules: what the FAQ holds now, publishing changes without losing anyone's, noticing
changes made on disk, history and rollback. Files are read fresh for every decision: ``data/faq``
on disk is the truth, the version table its history."""

from __future__ import annotations

import contextlib
import fcntl
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from bot.editor.changes import DELETE, SAVE, Change, entry_json, revision
from bot.editor.faq_yaml import FaqFileError, apply_changes, read_folder
from bot.editor.versions import (
    DISK,
    INITIAL,
    PUBLISH,
    ROLLBACK,
    SERVING,
    UNBUILT,
    Version,
    VersionStore,
    fingerprints,
)
from bot.kb.corpus import Corpus, FaqEntry, Issue, load_texts
from bot.kb.files import write_atomic

DEFAULT_FILE = "editor.yml"  # where a new entry goes when the editor names no file
DISK_AUTHOR = "(changed on disk)"


class Conflict(Exception):
    """Someone else changed or removed an entry since the editor opened it."""

    def __init__(self, conflicts: list[dict[str, Any]]):
        self.conflicts = conflicts
        super().__init__("; ".join(c["message"] for c in conflicts))


class Invalid(Exception):
    """The FAQ would have errors; nothing was written."""

    def __init__(self, issues: list[Issue]):
        self.issues = issues
        super().__init__("; ".join(str(i) for i in issues if i.level == "error"))


def issue_json(issue: Issue) -> dict[str, Any]:
    return {"level": issue.level, "file": issue.file, "line": issue.line, "entry_id": issue.entry_id,
            "message": issue.message}


@dataclass(frozen=True)
class Disk:
    """The FAQ folder as read now."""

    texts: dict[str, str]
    corpus: Corpus

    @property
    def located(self) -> dict[str, str]:
        return {e.id: e.file for e in self.corpus.entries}


class EditorService:
    def __init__(self, folder: Path, versions: VersionStore, lock_file: Path,
                 serving_hash: Callable[[], str | None] = lambda: None):
        self.folder = folder
        self.versions = versions
        self.lock_file = lock_file
        self.serving_hash = serving_hash  # the corpus hash of the index version serving now
        self._lock = threading.Lock()
        self._parsed: tuple[dict[str, str], Corpus] | None = None  # the last read's fingerprints, corpus

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        """One writer at a time: this process's threads and any other editor process."""
        self.lock_file.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, open(self.lock_file, "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def read(self) -> Disk:
        """The files now; parsed again only when one changed (the page asks every few seconds)."""
        texts = read_folder(self.folder)
        files = fingerprints(texts)
        parsed = self._parsed
        if parsed is None or parsed[0] != files:
            parsed = self._parsed = (files, load_texts(texts))
        return Disk(texts, parsed[1])

    # -- what is there ---------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """The latest version, and whether the files changed on disk since (recorded if they did)."""
        with self._exclusive():
            disk = self.read()
            latest, noticed = self._notice_disk(disk)
        return {"latest": latest.to_json() if latest else None,
                "changed_on_disk": noticed.to_json() if noticed else None,
                "errors": [issue_json(i) for i in disk.corpus.errors],
                "warnings": [issue_json(i) for i in disk.corpus.warnings]}

    def _notice_disk(self, disk: Disk) -> tuple[Version, Version | None]:
        """Record the files as a version when they differ from the latest one's (a change made outside
        the editor), or as the first version. Returns (latest, the disk version if one was recorded now)."""
        latest = self.versions.latest()
        files = fingerprints(disk.texts)
        if latest is not None and latest.files == files:
            return latest, None
        corpus_hash = disk.corpus.content_hash()
        state = SERVING if corpus_hash == self.serving_hash() else UNBUILT
        if latest is None:
            return self.versions.add(DISK_AUTHOR, "the FAQ as the editor first found it", INITIAL,
                                     disk.corpus.entries, files, corpus_hash, state), None
        changed = sorted(n for n in set(files) | set(latest.files) if files.get(n) != latest.files.get(n))
        noticed = self.versions.add(DISK_AUTHOR, f"changed outside the editor: {', '.join(changed)}", DISK,
                                    disk.corpus.entries, files, corpus_hash, state)
        return noticed, noticed

    # -- publishing -------------------------------------------------------------------------------

    def draft(self, changes: Sequence[Change], disk: Disk | None = None) -> tuple[Corpus, dict[str, str]]:
        """The corpus ``changes`` would make, checked by the same validator as ``kb validate``, and
        the new text of each file they touch. Nothing is written."""
        disk = disk or self.read()
        try:
            new_texts = apply_changes(disk.texts, disk.located, changes, DEFAULT_FILE)
        except FaqFileError as exc:
            raise Invalid([Issue("error", "", None, None, str(exc))]) from exc
        return load_texts({**disk.texts, **new_texts}), new_texts

    def conflicts(self, changes: Sequence[Change], disk: Disk) -> list[dict[str, Any]]:
        now = disk.corpus.by_id()
        out = []
        for change in changes:
            current = now.get(change.id)
            if current is not None and change.op == SAVE and change.entry is not None \
                    and revision(change.entry) == revision(current):
                continue  # the same content either way: nothing to lose
            if change.base is None and current is None:
                continue
            if change.base is not None and current is not None and revision(current) == change.base:
                continue
            if change.base is None:
                message = f"an entry with the id {change.id!r} exists already"
            elif current is None:
                message = f"entry {change.id!r} was deleted since you opened it"
            else:
                message = f"entry {change.id!r} was changed since you opened it"
            touch = self.versions.last_touch(change.id)
            out.append({"id": change.id, "message": message, "theirs": entry_json(current) if current else None,
                        "by": touch.author if touch else None,
                        "at": touch.at.isoformat() if touch else None, "version": touch.id if touch else None})
        return out

    def publish(self, changes: Sequence[Change], author: str, message: str, kind: str = PUBLISH) -> Version:
        """Write ``changes`` into the FAQ files and record them as a new version (queued for building).

        Raises Conflict (someone else's change would be lost) or Invalid (the FAQ would have errors);
        either way nothing is written."""
        with self._exclusive():
            disk = self.read()
            self._notice_disk(disk)
            found = self.conflicts(changes, disk)
            if found:
                raise Conflict(found)
            corpus, new_texts = self.draft(changes, disk)
            if corpus.errors:
                raise Invalid(corpus.issues)
            for name, text in new_texts.items():
                path = self.folder / name
                path.parent.mkdir(parents=True, exist_ok=True)
                write_atomic(path, text)
            texts = {**disk.texts, **new_texts}
            return self.versions.add(author, message.strip() or _describe(changes), kind, corpus.entries,
                                     fingerprints(texts), corpus.content_hash())

    def rebuild(self, author: str, message: str) -> Version:
        """A version with the FAQ as it is, to be built again (e.g. new out-of-scope examples)."""
        with self._exclusive():
            disk = self.read()
            self._notice_disk(disk)
            if disk.corpus.errors:
                raise Invalid(disk.corpus.issues)
            return self.versions.add(author, message, PUBLISH, disk.corpus.entries, fingerprints(disk.texts),
                                     disk.corpus.content_hash())

    def rollback(self, version_id: int, author: str) -> Version:
        """Make the FAQ what it was at ``version_id`` again: a new version."""
        target = {e.id: e for e in self.versions.entries(version_id)}
        disk = self.read()
        changes: list[Change] = []
        for entry in disk.corpus.entries:
            wanted = target.pop(entry.id, None)
            if wanted is None:
                changes.append(Change(DELETE, entry.id, None, revision(entry)))
            elif revision(wanted) != revision(entry) or wanted.file != entry.file:
                changes.append(Change(SAVE, entry.id, wanted, revision(entry)))
        changes += [Change(SAVE, e.id, e, None) for e in target.values()]
        if not changes:
            raise Invalid([Issue("error", "", None, None,
                                 f"the FAQ is already what version {version_id} had; nothing to roll back")])
        return self.publish(changes, author, f"roll back to version {version_id}", ROLLBACK)


def _describe(changes: Sequence[Change]) -> str:
    verbs = {SAVE: "edited", DELETE: "deleted"}
    parts = [f"{verbs[c.op] if c.base or c.op == DELETE else 'added'} {c.id}" for c in changes[:5]]
    return ", ".join(parts) + (f" and {len(changes) - 5} more" if len(changes) > 5 else "")


def entries_json(entries: Sequence[FaqEntry]) -> list[dict[str, Any]]:
    return [entry_json(e) for e in entries]
