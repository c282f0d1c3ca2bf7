"""The knowledge-base service the action server uses: ask a question, get a decision.

It owns the encoder and the serving index version, and swaps in a newly built version
(hot reload) without a restart; with a shared index (``bot.kb.shared``: PostgreSQL configured) each
look first brings kb_index/ to the version the shared pointer names. Each request takes one
reference to a version and uses it throughout, so a swap never mixes two versions within a request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, TypeVar

import numpy as np

from bot.kb.decision import MISS, Decision, Thresholds, decide
from bot.kb.encoder import Encoder, EncoderError, load_encoder
from bot.kb.index import IndexVersion, KbIndexError, current_name
from bot.kb.models import version_encoder
from bot.kb.query import clean_query
from bot.kb.spelling import mend
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.kb.shared import SharedIndex

log = logging.getLogger(__name__)

T = TypeVar("T")
REMEMBERED_QUERIES = 2048  # ~3 MB of vectors (and as many mended texts)


@dataclass(frozen=True)
class Answer:
    """A decision plus where it came from."""

    decision: Decision
    version: str | None
    seconds: float
    unavailable: str | None = None  # why the FAQ cannot be searched, if it cannot
    empty: bool = False  # the message had nothing to search for


class KnowledgeBase:
    def __init__(self, index_dir: Path, encoder: Encoder | None = None, model: str = "",
                 search_k: int = 20, max_query_chars: int = 1000, backend: str = "torch", threads: int = 1,
                 shared: SharedIndex | None = None):
        self.index_dir = index_dir
        self.shared = shared
        self._encoder = encoder
        self._model = model
        self._backend, self._threads = backend, threads  # SUPPORTBOT_ENCODER_BACKEND, _THREADS
        self.search_k = search_k
        self.max_query_chars = max_query_chars
        # the serving version and the encoder its queries need (a tuned model or the base one),
        # swapped together as one reference
        self._serving: tuple[IndexVersion, Encoder] | None = None
        self._key: tuple | None = None
        self._error: str | None = None
        self._refused: str | None = None  # why the shared pointer's version was refused
        self._lock = threading.Lock()
        self._reload_lock = threading.Lock()  # the watcher and a POST /reload never load at once
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self._vectors: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()  # recent, newest last
        self._mended: OrderedDict[tuple[str, str], str] = OrderedDict()  # (version, cleaned) -> mended
        self._vectors_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, encoder: Encoder | None = None) -> KnowledgeBase:
        from bot.kb.shared import SharedIndex

        return cls(settings.index_path, encoder, settings.model, settings.search_k,
                   settings.max_query_chars, settings.encoder_backend, settings.encoder_threads,
                   SharedIndex.from_settings(settings))

    @property
    def encoder(self) -> Encoder:
        """The base model (SUPPORTBOT_MODEL or the packaged one)."""
        if self._encoder is None:
            with self._lock:
                if self._encoder is None:
                    self._encoder = load_encoder(self._model, self._backend, self.index_dir, self._threads)
        return self._encoder

    @property
    def version(self) -> IndexVersion | None:
        return self._serving[0] if self._serving else None

    @property
    def serving_encoder(self) -> Encoder | None:
        return self._serving[1] if self._serving else None

    @property
    def error(self) -> str | None:
        return self._error

    def warm_up(self) -> None:
        """Load the model and the serving index now, and run one query through both."""
        import faiss

        faiss.omp_set_num_threads(1)  # single queries: one thread is far faster (10k vectors: 0.4 vs 14.5 ms)
        self.encoder.encode(["warm up"])
        self.reload()

    def _disk_key(self) -> tuple:
        name = current_name(self.index_dir)
        if name is None:
            return (None, None)
        thresholds = self.index_dir / "versions" / name / "thresholds.json"
        try:
            mtime = thresholds.stat().st_mtime_ns
        except FileNotFoundError:
            mtime = None
        return (name, mtime)

    def reload(self) -> bool:
        """Load the serving version if it changed on disk. Returns True when a swap happened.
        Whatever is wrong on disk is logged once per distinct problem; the previous version serves."""
        with self._reload_lock:
            return self._reload()

    def _reload(self) -> bool:
        if self.shared is not None:
            from bot.kb.shared import SharedIndexError

            try:
                self.shared.sync()
                if self._error and self._error == self._refused:  # the pointer moved on
                    self._error = None
                self._refused = None
            except SharedIndexError as exc:  # refused: what kb_index/CURRENT names keeps serving
                self._refused = str(exc)
                self._set_error(self._refused, self._key or ("refused",))
        try:
            key = self._disk_key()
        except KbIndexError as exc:  # an unreadable CURRENT pointer
            self._set_error(str(exc), ("unreadable", str(exc)))
            return False
        if key == self._key:
            return False
        name = key[0]
        if name is None:
            self._set_error(f"no FAQ index in {self.index_dir}; run 'supportbot kb build'", key)
            return False
        try:
            version = IndexVersion(self.index_dir / "versions" / name)
            loaded = self.serving_encoder
            encoder = version_encoder(version, self.encoder, loaded, self._backend, self._threads)
            if encoder is not loaded:
                encoder.encode(["warm up"])  # load it fully before it serves
            mend([""], version)  # its speller too (1-2 s), not on the first customer's message
        except (KbIndexError, EncoderError) as exc:
            # Keep serving the previous version if there is one.
            self._set_error(str(exc), key)
            return False
        self._serving, self._key, self._error = (version, encoder), key, None
        log.info("FAQ index %s loaded (%d entries, %d phrasings, model %s, thresholds: %s)",
                 name, len(version.entries), len(version.texts), encoder.name, version.thresholds.source)
        return True

    def _set_error(self, message: str, key: tuple) -> None:
        if message != self._error:
            log.error("FAQ index problem: %s", message)
        self._error, self._key = message, key

    def watch(self, interval: float) -> None:
        """Poll for new versions every ``interval`` seconds in a daemon thread."""
        if self._watcher is not None:
            return

        def loop() -> None:
            last = None
            while not self._stop.wait(interval):
                try:
                    self.reload()
                except Exception as exc:  # noqa: BLE001 - the watcher must never die
                    if repr(exc) != last:  # once per distinct problem, not every interval
                        log.exception("FAQ index reload failed")
                    last = repr(exc)

        self._watcher = threading.Thread(target=loop, name="kb-reload", daemon=True)
        self._watcher.start()

    def stop(self) -> None:
        self._stop.set()

    def ask(self, text: str | None) -> Answer:
        started = time.perf_counter()
        serving = self._serving  # one reference for the whole request
        if serving is None:
            reason = self._error or "the FAQ index is not loaded"
            return Answer(Decision(MISS, reason=reason), None, 0.0, unavailable=reason)
        version, encoder = serving
        query = clean_query(text, self.max_query_chars)
        if not query:
            return Answer(Decision(MISS, reason="empty message", thresholds=version.thresholds),
                          version.name, 0.0, empty=True)
        query = self._mend(version, query)
        vector = self._encode(encoder, query)
        hits = version.search(vector, self.search_k, [query])[0]
        decision = decide(hits, version.thresholds, version.overrides, version.declined_by(vector, [hits])[0],
                          query)
        return Answer(decision, version.name, time.perf_counter() - started)

    def prefetch(self, text: str | None) -> None:
        """Encode a message before the FAQ action asks about it (bot/rasa/prefetch.py)."""
        query = clean_query(text, self.max_query_chars)
        serving = self._serving
        if query and serving is not None:
            self._encode(serving[1], self._mend(serving[0], query))

    def _mend(self, version: IndexVersion, query: str) -> str:
        """The speller's text for a cleaned message, once per version: a prefetched or repeated
        message is not mended again (symspellpy costs milliseconds a message)."""
        return self._remember(self._mended, (version.name, query), lambda: mend([query], version)[0])

    def _encode(self, encoder: Encoder, query: str) -> np.ndarray:
        """One encoder pass per distinct recent query: a prefetched or repeated one is reused."""
        return self._remember(self._vectors, (encoder.name, query), lambda: encoder.encode([query]))

    def _remember(self, cache: OrderedDict, key: tuple[str, str], make: Callable[[], T]) -> T:
        """``cache[key]``, made (outside the lock) when it is not among the REMEMBERED_QUERIES most recent."""
        with self._vectors_lock:
            value = cache.get(key)
            if value is not None:
                cache.move_to_end(key)
                return value
        value = make()
        with self._vectors_lock:
            cache[key] = value
            if len(cache) > REMEMBERED_QUERIES:
                cache.popitem(last=False)
        return value

    def thresholds(self) -> Thresholds:
        version = self.version
        return version.thresholds if version else Thresholds()
