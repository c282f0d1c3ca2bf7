"""Index versions shared by nodes that do not share a disk, through PostgreSQL (SUPPORTBOT_HANDOFF_URL).

A row names the serving version (the pointer: its name and the SHA-256 of its blob), and each built
version is stored beside it as a blob (a tar of its folder; a tuned model it needs, once). Each action
server, at every look for a new version (SUPPORTBOT_RELOAD_INTERVAL), compares the pointer with what it
unpacked last; when it moved, the blob is checked (its digest, then the manifest's checksum of every
file, ``bot.kb.index``), unpacked into the node's own ``kb_index/versions/`` and only then is the local
``CURRENT`` switched. A blob that fails is refused, saying why, and the version serving keeps serving.
A build (``supportbot kb build``, the editor's builder) holds a PostgreSQL advisory lock: a second one
waits, then finds the first one's version (up to date: nothing is built twice).

Why a row in PostgreSQL, not a Redis key: the blob and the pointer change in one transaction, so the
pointer never names a version a node cannot fetch, and it survives restarts (our Redis keeps nothing).
Without PostgreSQL nothing here is used: ``kb_index/CURRENT`` alone names the version.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
import sys
import tarfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import sqlalchemy as sa

from bot.kb.files import publishing, write_atomic
from bot.kb.index import (
    FORMAT_VERSION,
    VERSION_NAME,
    KbIndexError,
    prune_versions,
    serving_name,
    switch_current,
    verify_checksums,
)
from bot.settings import Settings

log = logging.getLogger(__name__)
LOCK_KEY = 0x5B0E_1DE7  # the advisory lock every build takes
MARKER = "SHARED"  # kb_index/SHARED: "<name> <digest>" of the pointer this folder holds
KEEP_BLOBS = 5

_meta = sa.MetaData()
blobs = sa.Table(
    "kb_index_blobs", _meta,
    sa.Column("digest", sa.String(64), primary_key=True),
    sa.Column("path", sa.String(300), nullable=False, index=True),  # versions/<name>, models/tuned-…
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)
pointer_table = sa.Table(
    "kb_index_pointer", _meta,
    sa.Column("id", sa.Integer, primary_key=True),  # one row: 1
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("moved_at", sa.Float, nullable=False),
)


class SharedIndexError(RuntimeError):
    """The shared pointer or a blob cannot be used; the message says what to do."""


@dataclass(frozen=True)
class Pointer:
    name: str
    digest: str


def pack(folder: Path) -> bytes:
    """A folder's files as a gzipped tar, the same bytes for the same files (no times, no owners)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for f in sorted(p for p in folder.rglob("*") if p.is_file()):
            info = tarfile.TarInfo(f.relative_to(folder).as_posix())
            info.size, info.mode = f.stat().st_size, 0o644
            with open(f, "rb") as fh:
                tar.addfile(info, fh)
    return gzip.compress(buf.getvalue(), compresslevel=1, mtime=0)


def unpack(data: bytes, into: Path) -> None:
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data))) as tar:
        tar.extractall(into, filter="data")  # refuses absolute paths, links out, devices


class SharedIndex:
    def __init__(self, engine: sa.engine.Engine, index_dir: Path):
        self.engine, self.index_dir = engine, index_dir
        self._refused: dict[str, str] = {}  # digest -> why, so a bad blob is fetched once
        _meta.create_all(engine)

    @classmethod
    def from_settings(cls, settings: Settings, index_dir: Path | None = None) -> SharedIndex | None:
        """The shared index when hand-offs live in PostgreSQL; None otherwise (one node)."""
        if not settings.handoff_db_url.startswith("postgresql"):
            return None
        from bot.db import engine

        return cls(engine(settings.handoff_db_url), index_dir or settings.index_path)

    # -- the pointer --------------------------------------------------------------------------

    def pointer(self) -> Pointer | None:
        with self.engine.connect() as c:
            row = c.execute(sa.select(pointer_table.c.name, pointer_table.c.digest)
                            .where(pointer_table.c.id == 1)).first()
        return Pointer(row.name, row.digest) if row else None

    def local(self) -> Pointer | None:
        """The pointer this node's kb_index/ last unpacked or published."""
        try:
            name, digest = (self.index_dir / MARKER).read_text("utf-8").split()
        except (OSError, ValueError):
            return None
        return Pointer(name, digest)

    def _mark(self, p: Pointer) -> None:
        write_atomic(self.index_dir / MARKER, f"{p.name} {p.digest}\n")

    def publish(self, name: str) -> Pointer:
        """Store version ``name`` (and a tuned model it needs, if not yet stored) and move the pointer
        to it, in one transaction."""
        folder = self.index_dir / "versions" / name
        data = pack(folder)
        p = Pointer(name, hashlib.sha256(data).hexdigest())
        model = self._model_ref(folder)
        with self.engine.begin() as c:
            if model and c.execute(sa.select(blobs.c.digest).where(blobs.c.path == model)).first() is None:
                self._store(c, model, pack(self.index_dir / model))
            self._store(c, f"versions/{name}", data, p.digest)
            moved = {"name": p.name, "digest": p.digest, "moved_at": time.time()}
            if c.execute(sa.update(pointer_table).where(pointer_table.c.id == 1).values(**moved)).rowcount == 0:
                c.execute(sa.insert(pointer_table).values(id=1, **moved))
            old = c.execute(sa.select(blobs.c.digest).where(blobs.c.path.like("versions/%"))
                            .order_by(blobs.c.created_at.desc()).offset(KEEP_BLOBS)).scalars().all()
            c.execute(sa.delete(blobs).where(blobs.c.digest.in_([d for d in old if d != p.digest])))
        self._mark(p)
        log.info("FAQ index %s published to the shared store (%d bytes)", name, len(data))
        return p

    @staticmethod
    def _store(c: Any, path: str, data: bytes, digest: str | None = None) -> None:
        digest = digest or hashlib.sha256(data).hexdigest()
        if c.execute(sa.select(blobs.c.digest).where(blobs.c.digest == digest)).first() is None:
            c.execute(sa.insert(blobs).values(digest=digest, path=path, size=len(data), data=data,
                                              created_at=time.time()))

    @staticmethod
    def _model_ref(folder: Path) -> str:
        """The tuned model under kb_index/ a version needs ("" for the packaged model)."""
        try:
            ref = str(json.loads((folder / "manifest.json").read_text("utf-8")).get("model_ref", ""))
        except (OSError, ValueError, AttributeError):
            return ""
        return ref if ref.startswith("models/") and ".." not in ref else ""

    # -- following it -------------------------------------------------------------------------

    def sync(self) -> bool:
        """Make this node's kb_index/CURRENT what the pointer names. True when it switched.
        Raises SharedIndexError (the local version stays) when the named blob is missing or corrupt."""
        try:
            p = self.pointer()
        except sa.exc.SQLAlchemyError as exc:
            raise SharedIndexError(f"the shared index pointer is unreadable ({type(exc).__name__}); "
                                   "this node keeps serving its own version") from exc
        if p is None or (p == self.local() and serving_name(self.index_dir) == p.name):
            return False
        if p.digest in self._refused:
            raise SharedIndexError(self._refused[p.digest])
        try:
            self._fetch(p)
        except SharedIndexError as exc:
            serving = serving_name(self.index_dir) or "no version"
            why = (f"shared index version {p.name} ({p.digest[:12]}) refused: {exc}; {serving} keeps "
                   "serving here. Rebuild with 'supportbot kb build --force' or publish again in the editor")
            self._refused[p.digest] = why
            raise SharedIndexError(why) from exc
        switch_current(self.index_dir, p.name)
        self._mark(p)
        prune_versions(self.index_dir)
        log.info("FAQ index %s unpacked from the shared store", p.name)
        return True

    def _blob(self, digest: str | None, path: str) -> bytes:
        where = blobs.c.digest == digest if digest else blobs.c.path == path
        with self.engine.connect() as c:
            row = c.execute(sa.select(blobs.c.digest, blobs.c.data).where(where)).first()
        if row is None:
            raise SharedIndexError(f"its blob ({path}) is missing from the database")
        if hashlib.sha256(row.data).hexdigest() != row.digest:
            raise SharedIndexError(f"its blob ({path}) does not match its SHA-256 (corrupt)")
        return bytes(row.data)

    def _fetch(self, p: Pointer) -> None:
        if not VERSION_NAME.fullmatch(p.name):
            raise SharedIndexError(f"the pointer does not name a version ({p.name[:40]!r})")
        data = self._blob(p.digest, f"versions/{p.name}")
        (self.index_dir / "versions").mkdir(parents=True, exist_ok=True)
        try:
            with publishing(self.index_dir / "versions" / p.name, replace=True) as tmp:
                unpack(data, tmp)
                manifest = json.loads((tmp / "manifest.json").read_text("utf-8"))
                if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_VERSION:
                    raise KbIndexError(f"it has no manifest of format {FORMAT_VERSION}")
                verify_checksums(tmp, manifest)
                model = self._model_ref(tmp)
                if model and not (self.index_dir / model).is_dir():
                    with publishing(self.index_dir / model) as into:
                        unpack(self._blob(None, model), into)
        except (KbIndexError, OSError, ValueError, tarfile.TarError, EOFError) as exc:
            raise SharedIndexError(f"its files are unusable ({exc})") from exc

    # -- building once ------------------------------------------------------------------------

    @contextmanager
    def build_lock(self, wait: float = 600.0, on_wait: Callable[[], None] = lambda: None) -> Iterator[None]:
        """Hold the one build lock (waiting up to ``wait`` seconds, calling ``on_wait`` once if it
        must wait), with this node's kb_index/ first brought to the pointer's version."""
        deadline = time.monotonic() + wait
        with self.engine.connect() as c:
            told = False
            while not c.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY}).scalar():
                if not told:
                    on_wait()
                    told = True
                if time.monotonic() > deadline:
                    raise SharedIndexError(f"another FAQ build held the build lock for {wait:.0f} s; "
                                           "try again when it has finished")
                time.sleep(0.2)
            try:
                try:
                    self.sync()
                except SharedIndexError as exc:  # a new build replaces what cannot be used
                    log.warning("%s", exc)
                yield
            finally:
                c.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})


def build_once(settings: Settings, corpus: Any, index: Path, **options: Any) -> Any:
    """``supportbot kb build``: ``bot.kb.ops.build_corpus`` under the shared build lock, publishing
    the version it serves; just that without PostgreSQL or for another index folder."""
    from bot.kb import ops

    shared = SharedIndex.from_settings(settings) if index == settings.index_path else None
    if shared is None:
        return ops.build_corpus(settings, corpus, index, **options)

    def waiting() -> None:
        print("another FAQ build is running; waiting for it to finish", file=sys.stderr, flush=True)

    try:
        with shared.build_lock(on_wait=waiting):
            built = ops.build_corpus(settings, corpus, index, **options)
            shared.publish(built.result.name)
    except (SharedIndexError, sa.exc.SQLAlchemyError) as exc:
        raise ops.KbOpsError(f"{exc}\nthe shared index pointer was not moved") from exc
    return built


def publish_serving(settings: Settings) -> Pointer | None:
    """``make cluster``'s start-up build, built before PostgreSQL ran: publish the version this node's
    kb_index/ serves unless the pointer names it already (under the build lock). None without
    PostgreSQL or a serving version."""
    shared = SharedIndex.from_settings(settings)
    name = serving_name(settings.index_path)
    if shared is None or not name:
        return None
    with shared.build_lock():
        p = shared.pointer()
        if p is not None and p.name == name:
            return p
        log.info("publishing the start-up build %s to the shared index", name)
        return shared.publish(name)
