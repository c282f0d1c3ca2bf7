"""Versioned FAISS indexes under ``kb_index/``: the serving pointer, loading and searching a version.

Layout::

    kb_index/CURRENT                     name of the serving version (replaced atomically)
    kb_index/versions/<name>/            index.faiss, phrasings.json, entries.json, manifest.json,
                                         thresholds.json (from calibration), and each scoring
                                         signal's files (answers.npy, head.npz)
    kb_index/cache/embeddings.sqlite     embedding cache keyed by (model, text)
    kb_index/models/tuned-<hash>/        tuned encoders (bot.kb.models)

Versions are built by ``bot.kb.build``.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from bot.kb.cache import EmbeddingCache
from bot.kb.corpus import FaqEntry
from bot.kb.decision import EntryHit, Thresholds
from bot.kb.encoder import Encoder
from bot.kb.evidence import SIGNALS, computations
from bot.kb.evidence.base import Phrasings
from bot.kb.files import sha256, write_atomic
from bot.kb.out_of_scope import load_examples
from bot.kb.query import content_words

FORMAT_VERSION = 1
FLAT_LIMIT = 20_000  # above this many phrasings an HNSW graph replaces exact search
KEEP_VERSIONS = 5
COVERED = 2  # hits that carry the query's words they cover (decision.split_between reads the best two)
VERSION_NAME = re.compile(r"[\w.-]{1,200}")  # a folder name under versions/, never a path
STALE_BUILD_S = 86_400  # a build folder this old was left by an interrupted build


class KbIndexError(RuntimeError):
    """The index is missing or unusable; the message says how to fix it."""


def _faiss():
    import faiss

    return faiss


def current_name(index_dir: Path) -> str | None:
    """The serving version's name; None when nothing was built. A pointer that is not a version
    name (not text, a path) raises KbIndexError."""
    pointer = index_dir / "CURRENT"
    try:
        name = pointer.read_bytes().decode("utf-8").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise KbIndexError(f"{pointer} is unreadable ({exc}); rebuild with 'supportbot kb build'") from exc
    if name and (not VERSION_NAME.fullmatch(name)):
        raise KbIndexError(f"{pointer} does not name a version ({name[:40]!r}); rebuild with "
                           "'supportbot kb build'")
    return name or None


def serving_name(index_dir: Path) -> str | None:
    """Like :func:`current_name`, but an unreadable pointer counts as no version."""
    try:
        return current_name(index_dir)
    except KbIndexError:
        return None


def checksums(folder: Path) -> dict[str, str]:
    """SHA-256 of every file in a version's folder (stored in its manifest, verified at load)."""
    return {f.name: sha256(f) for f in sorted(folder.iterdir()) if f.is_file()}



def verify_checksums(path: Path, manifest: Mapping[str, Any]) -> None:
    for name, expected in manifest.get("checksums", {}).items():  # versions before checksums: none
        if sha256(path / name) != expected:
            raise KbIndexError(f"{name} of index version {path} does not match its checksum (the file "
                               "is corrupt); rebuild it with 'supportbot kb build --force'")


def current_path(index_dir: Path) -> Path:
    name = current_name(index_dir)
    if name is None:
        raise KbIndexError(f"no index has been built in {index_dir}; run 'supportbot kb build'")
    return index_dir / "versions" / name


def switch_current(index_dir: Path, name: str) -> None:
    """Make ``name`` the serving version in one atomic rename."""
    write_atomic(index_dir / "CURRENT", name + "\n")


def prune_versions(index_dir: Path, keep: int = KEEP_VERSIONS) -> None:
    """Delete old versions, always keeping the serving one and the ``keep`` newest, and what an
    interrupted build left behind (hidden ``.*.tmp`` folders more than a day old)."""
    versions = index_dir / "versions"
    for left in versions.glob(".*.tmp"):
        if time.time() - left.stat().st_mtime > STALE_BUILD_S:
            shutil.rmtree(left, ignore_errors=True)
    serving = serving_name(index_dir)
    names = sorted(p.name for p in versions.iterdir() if p.is_dir() and not p.name.startswith("."))
    for name in names[:-keep]:
        if name != serving:
            shutil.rmtree(versions / name, ignore_errors=True)


def make_faiss_index(vectors: np.ndarray):
    """Exact inner-product search up to FLAT_LIMIT phrasings, an HNSW graph beyond."""
    faiss = _faiss()
    dim = vectors.shape[1]
    if len(vectors) <= FLAT_LIMIT:
        index = faiss.IndexFlatIP(dim)
    else:
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = 64
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def phrasing_table(entries: Sequence[FaqEntry]) -> tuple[list[str], np.ndarray]:
    texts: list[str] = []
    owners: list[int] = []
    for i, entry in enumerate(entries):
        for text in entry.phrasings:
            texts.append(text)
            owners.append(i)
    return texts, np.asarray(owners, dtype=np.int64)


def embed_phrasings(index_dir: Path, encoder: Encoder, texts: Sequence[str],
                    progress: bool = False) -> tuple[np.ndarray, int]:
    """Vectors for ``texts`` through the embedding cache; returns (vectors, how many were encoded)."""
    cache = EmbeddingCache(index_dir / "cache" / "embeddings.sqlite")
    backend = getattr(encoder, "backend", "torch")  # an ONNX export's vectors are cached as its own
    key = encoder.name if backend == "torch" else f"{encoder.name}@{backend}:{getattr(encoder, 'digest', '')}"
    try:
        return cache.encode(
            key, list(texts),
            lambda missing: encoder.encode(missing, progress=progress and len(missing) > 256),
        )
    finally:
        cache.close()


Evidence = Sequence[tuple[float, "np.ndarray | Mapping[int, float]"]]


def score_entries(row_scores: np.ndarray, row_ids: np.ndarray, owners: np.ndarray,
                  evidence: Evidence = (), skip: int | None = None) -> list[tuple[int, float, int]]:
    """Entries among the nearest phrasings, best first, as (entry, score, best phrasing).

    An entry's score is its best phrasing's cosine blended with further evidence, each a weight
    and a per-entry score (``bot.kb.evidence``): (phrasing + sum of weight * evidence) / (1 + sum of weights).
    """
    best: dict[int, tuple[float, int]] = {}
    for score, pid in zip(row_scores, row_ids):
        if pid < 0 or pid == skip:
            continue
        best.setdefault(int(owners[pid]), (float(score), int(pid)))  # sorted: first is best
    evidence = [(w, scores) for w, scores in evidence if w > 0]
    total = 1 + sum(w for w, _ in evidence)
    out = []
    for entry, (score, pid) in best.items():
        if evidence:
            score = (score + sum(w * float(scores[entry]) for w, scores in evidence)) / total
        out.append((entry, score, pid))
    out.sort(key=lambda t: -t[1])
    return out


class IndexVersion:
    """One loaded, immutable index version. Safe to share between threads."""

    def __init__(self, path: Path):
        self.path = path
        self.name = path.name
        try:
            self.manifest = json.loads((path / "manifest.json").read_text("utf-8"))
            if not isinstance(self.manifest, dict) or self.manifest.get("format") != FORMAT_VERSION:
                raise KbIndexError(f"index {path} has no manifest of format {FORMAT_VERSION}; rebuild "
                                   "it with 'supportbot kb build'")
            verify_checksums(path, self.manifest)
            self.entries = [FaqEntry.from_json(d)
                            for d in json.loads((path / "entries.json").read_text("utf-8"))]
            table = json.loads((path / "phrasings.json").read_text("utf-8"))
            self.owners = np.asarray([row[0] for row in table], dtype=np.int64)
            self.texts = [row[1] for row in table]
            self.index = _faiss().read_index(str(path / "index.faiss"))
        except KbIndexError:
            raise
        except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError, RuntimeError) as exc:
            raise KbIndexError(f"index version {path} is missing files or corrupt ({type(exc).__name__}: "
                               f"{exc}); rebuild it with 'supportbot kb build --force'") from exc
        if self.index.ntotal != len(self.texts):
            raise KbIndexError(f"index version {path} is inconsistent ({self.index.ntotal} vectors, "
                               f"{len(self.texts)} phrasings); rebuild with 'supportbot kb build --force'")
        self.by_id = {e.id: e for e in self.entries}
        self.overrides = {e.id: e.thresholds for e in self.entries if e.thresholds}
        self.thresholds = load_thresholds(path)
        try:
            self.out_of_scope = load_examples(path)  # written by calibration, with the thresholds
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise KbIndexError(f"index version {path} has unreadable out-of-scope examples ({exc}); "
                               "rerun 'supportbot kb calibrate'") from exc
        self.phrasings = Phrasings(self.texts, self.owners, len(self.entries), self.index.d)
        # every signal's weight (0: off), and the loaded state of those that are on, in SIGNALS order
        self.weights = {s.name: float(self.manifest.get(s.key, 0.0)) for s in SIGNALS}
        self.signals: dict[str, tuple[Any, Any]] = {}
        for name, computation in computations().items():
            if self.weights[name] > 0:
                try:
                    self.signals[name] = (computation, computation.load(path, self.phrasings))
                except (OSError, ValueError, KeyError) as exc:
                    what = " or ".join(computation.files) or f"{name} evidence"
                    raise KbIndexError(f"index version {path} has an unreadable {what} ({exc}); "
                                       "rebuild it with 'supportbot kb build --force'") from exc

    @property
    def needs_text(self) -> bool:
        """Whether a signal scores the query's words, so search needs the query texts."""
        return any(computation.needs_text for computation, _ in self.signals.values())

    @property
    def model(self) -> str:
        return str(self.manifest["model"])

    @property
    def model_path(self) -> Path | None:
        """The folder of the model this version was built with, if it is not the base model."""
        ref = self.manifest.get("model_ref", "")
        return self.path.parent.parent / ref if ref else None

    def state(self, signal: str) -> Any:
        """A signal's loaded state (the answers' vectors, the head, BM25), None when it is off."""
        return self.signals[signal][1] if signal in self.signals else None

    def declined_by(self, vectors: np.ndarray, hits: Sequence[Sequence[EntryHit]]) -> list[str | None]:
        """Per query (``vectors``, their ``hits`` from :meth:`search`), the out-of-scope example
        that declines it (``bot.kb.out_of_scope``), or None; for ``decide(..., declined_by=)``."""
        if self.out_of_scope is None:
            return [None] * len(hits)
        return self.out_of_scope.declined_by(vectors, [h[0].score if h else -1.0 for h in hits])

    def search(self, vectors: np.ndarray, k: int,
               queries: Sequence[str] | None = None) -> list[list[EntryHit]]:
        """Per query, the entries among the k nearest phrasings, best first. ``queries`` (the texts
        the vectors encode) are needed when the version scores words too (``needs_text``)."""
        if self.needs_text and (queries is None or len(queries) != len(vectors)):
            raise ValueError(f"index version {self.name} scores words too: pass the query texts")
        k = min(k, len(self.texts))
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        scores, ids = self.index.search(vectors, k)
        found = [np.unique(self.owners[i[i >= 0]]) for i in ids]
        per_signal = [(self.weights[name], computation.scores(state, vectors, queries, found))
                      for name, (computation, state) in self.signals.items()]
        lexical = self.state("lexical") if queries is not None else None
        out = []
        for row, (s, i) in enumerate(zip(scores, ids)):
            evidence = [(weight, rows[row]) for weight, rows in per_signal]
            ranked = score_entries(s, i, self.owners, evidence)
            said = content_words(queries[row]) if lexical is not None and queries is not None else []
            out.append([EntryHit(self.entries[e].id, score, self.texts[pid],
                                 *(lexical.covered(said, e) if lexical is not None and n < COVERED else ()))
                        for n, (e, score, pid) in enumerate(ranked)])
        return out


def load_thresholds(path: Path) -> Thresholds:
    file = path / "thresholds.json"
    if not file.exists():
        return Thresholds()
    try:
        return Thresholds.from_json(json.loads(file.read_text("utf-8")))
    except (ValueError, TypeError) as exc:
        raise KbIndexError(f"{file} is invalid ({exc}); rerun 'supportbot kb calibrate'") from exc
