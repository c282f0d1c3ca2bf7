"""Versioned FAISS indexes under ``kb_index/``: build, switch atomically, load and search.

Layout::

    kb_index/CURRENT                     name of the serving version (replaced atomically)
    kb_index/versions/<name>/            index.faiss, phrasings.json, entries.json, answers.npy,
                                         head.npz (classifier head), manifest.json,
                                         thresholds.json (from calibration)
    kb_index/cache/embeddings.sqlite     embedding cache keyed by (model, text)
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from bot.kb.cache import EmbeddingCache
from bot.kb.corpus import Corpus, FaqEntry
from bot.kb.decision import EntryHit, Thresholds
from bot.kb.encoder import Encoder
from bot.kb.head import HEAD_WEIGHT, Head, fit_head, usable
from bot.kb.lexical import LEXICAL_WEIGHT, Lexical

FORMAT_VERSION = 1
ANSWER_WEIGHT = 0.5  # weight of the answer text as evidence next to the best phrasing
FLAT_LIMIT = 20_000  # above this many phrasings an HNSW graph replaces exact search
KEEP_VERSIONS = 5


class KbIndexError(RuntimeError):
    """The index is missing or unusable; the message says how to fix it."""


def _faiss():
    import faiss

    return faiss


def current_name(index_dir: Path) -> str | None:
    try:
        name = (index_dir / "CURRENT").read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return name or None


def current_path(index_dir: Path) -> Path:
    name = current_name(index_dir)
    if name is None:
        raise KbIndexError(f"no index has been built in {index_dir}; run 'supportbot kb build'")
    return index_dir / "versions" / name


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_json_atomic(path: Path, data: Any) -> None:
    _write_atomic(path, json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def switch_current(index_dir: Path, name: str) -> None:
    """Make ``name`` the serving version in one atomic rename."""
    _write_atomic(index_dir / "CURRENT", name + "\n")


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


@dataclass
class BuildResult:
    name: str
    path: Path
    manifest: dict[str, Any]
    up_to_date: bool = False


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
    try:
        return cache.encode(
            encoder.name, list(texts),
            lambda missing: encoder.encode(missing, progress=progress and len(missing) > 256),
        )
    finally:
        cache.close()


def answer_text(markdown: str) -> str:
    """An answer as plain words for embedding: no Markdown marks, no URLs."""
    return " ".join(re.sub(r"https?://\S+|[*_`#>\[\]()|]", " ", markdown).split())


Evidence = Sequence[tuple[float, "np.ndarray | Mapping[int, float]"]]


def score_entries(row_scores: np.ndarray, row_ids: np.ndarray, owners: np.ndarray,
                  evidence: Evidence = (), skip: int | None = None) -> list[tuple[int, float, int]]:
    """Entries among the nearest phrasings, best first, as (entry, score, best phrasing).

    An entry's score is its best phrasing's cosine blended with further evidence, each a weight
    and a per-entry score (the answer text's cosine, the head's probability):
    (phrasing + sum of weight * evidence) / (1 + sum of weights).
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


def model_ref(encoder: Encoder, index_dir: Path) -> str:
    """How a version names its model: "" for the packaged one, a path relative to the index
    folder for a tuned one (``models/tuned-…``), else the folder given in SUPPORTBOT_MODEL."""
    ref = getattr(encoder, "ref", "")
    if not ref:
        return ""
    try:
        return Path(ref).resolve().relative_to(index_dir.resolve()).as_posix()
    except ValueError:
        return ref


def build_index(corpus: Corpus, index_dir: Path, encoder: Encoder, *, force: bool = False,
                progress: bool = False, calibrate: Any = None,
                answer_weight: float = ANSWER_WEIGHT, head_weight: float = HEAD_WEIGHT,
                lexical_weight: float = LEXICAL_WEIGHT) -> BuildResult:
    """Embed every phrasing of ``corpus`` and publish a new index version.

    Nothing is switched until the new version is complete on disk; any failure leaves the
    serving version untouched. ``calibrate``, if given, is called as ``calibrate(path, vectors,
    owners, answer_vectors)`` before the switch and may write thresholds into the new version.
    The classifier head is fitted when ``head_weight`` > 0 and the corpus is not too large for it;
    ``lexical_weight`` > 0 adds BM25 evidence (``bot.kb.lexical``).
    """
    if corpus.errors:
        raise KbIndexError("the corpus has errors; fix them first ('supportbot kb validate')")
    for what, weight in (("answer", answer_weight), ("head", head_weight), ("lexical", lexical_weight)):
        if not 0 <= weight <= 10:
            raise KbIndexError(f"the {what} weight must be between 0 and 10 (0 turns it off), got {weight}")
    if not corpus.entries:
        raise KbIndexError("the corpus has no entries; nothing to index")
    index_dir.mkdir(parents=True, exist_ok=True)
    corpus_hash = corpus.content_hash()
    head_weight = head_weight if usable(len(corpus.entries)) else 0.0
    name_now = current_name(index_dir)
    if name_now and not force:
        try:
            manifest_now = json.loads(
                (index_dir / "versions" / name_now / "manifest.json").read_text("utf-8"))
        except (OSError, ValueError):
            manifest_now = {}
        if (manifest_now.get("corpus_hash") == corpus_hash
                and manifest_now.get("model") == encoder.name
                and manifest_now.get("format") == FORMAT_VERSION
                and manifest_now.get("answer_weight") == answer_weight
                and manifest_now.get("head_weight", 0.0) == head_weight
                and manifest_now.get("lexical_weight", 0.0) == lexical_weight):
            return BuildResult(name_now, index_dir / "versions" / name_now, manifest_now, True)

    started = time.perf_counter()
    texts, owners = phrasing_table(corpus.entries)
    vectors, n_encoded = embed_phrasings(index_dir, encoder, texts, progress)
    answers = np.zeros((len(corpus.entries), vectors.shape[1]), dtype=np.float32)
    if answer_weight > 0:
        answers, n_answers = embed_phrasings(
            index_dir, encoder, [answer_text(e.answer) for e in corpus.entries], progress)
        n_encoded += n_answers
    head = fit_head(vectors, owners, len(corpus.entries)) if head_weight > 0 else None
    index = make_faiss_index(vectors)
    stamp = datetime.now(timezone.utc)
    name = f"{stamp.strftime('%Y%m%dT%H%M%S%fZ')}-{corpus_hash[:8]}"
    versions = index_dir / "versions"
    versions.mkdir(exist_ok=True)
    tmp = versions / f".building-{name}"
    final = versions / name
    try:
        tmp.mkdir()
        _faiss().write_index(index, str(tmp / "index.faiss"))
        np.save(tmp / "answers.npy", answers)
        if head is not None:
            head.save(tmp / "head.npz")
        write_json_atomic(tmp / "phrasings.json",
                          [[int(o), t] for o, t in zip(owners, texts)])
        write_json_atomic(tmp / "entries.json", [e.to_json() for e in corpus.entries])
        manifest = {
            "format": FORMAT_VERSION,
            "name": name,
            "corpus_hash": corpus_hash,
            "corpus_files": [str(f) for f in corpus.files],
            "model": encoder.name,
            "model_ref": model_ref(encoder, index_dir),
            "dim": int(vectors.shape[1]),
            "entries": len(corpus.entries),
            "phrasings": len(texts),
            "encoded": n_encoded,
            "index_type": type(index).__name__,
            "answer_weight": answer_weight,
            "head_weight": head_weight,
            "lexical_weight": lexical_weight,
            "built_at": stamp.isoformat(),
            "build_seconds": round(time.perf_counter() - started, 3),
        }
        write_json_atomic(tmp / "manifest.json", manifest)
        if calibrate is not None:
            calibrate(tmp, vectors, owners, answers)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    switch_current(index_dir, name)
    prune_versions(index_dir)
    return BuildResult(name, final, manifest)


def prune_versions(index_dir: Path, keep: int = KEEP_VERSIONS) -> None:
    """Delete old versions, always keeping the serving one and the ``keep`` newest."""
    versions = index_dir / "versions"
    serving = current_name(index_dir)
    names = sorted(p.name for p in versions.iterdir() if p.is_dir() and not p.name.startswith("."))
    for name in names[:-keep]:
        if name != serving:
            shutil.rmtree(versions / name, ignore_errors=True)


class IndexVersion:
    """One loaded, immutable index version. Safe to share between threads."""

    def __init__(self, path: Path):
        self.path = path
        self.name = path.name
        try:
            self.manifest = json.loads((path / "manifest.json").read_text("utf-8"))
            if self.manifest.get("format") != FORMAT_VERSION:
                raise KbIndexError(f"index {path} has format {self.manifest.get('format')}, "
                                  f"expected {FORMAT_VERSION}; rebuild it with 'supportbot kb build'")
            self.entries = [FaqEntry.from_json(d)
                            for d in json.loads((path / "entries.json").read_text("utf-8"))]
            table = json.loads((path / "phrasings.json").read_text("utf-8"))
            self.owners = np.asarray([row[0] for row in table], dtype=np.int64)
            self.texts = [row[1] for row in table]
            self.index = _faiss().read_index(str(path / "index.faiss"))
            self.answers = np.load(path / "answers.npy")
        except KbIndexError:
            raise
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise KbIndexError(f"index version {path} is missing files or corrupt ({exc}); "
                              "rebuild it with 'supportbot kb build --force'") from exc
        if self.index.ntotal != len(self.texts):
            raise KbIndexError(f"index version {path} is inconsistent ({self.index.ntotal} vectors, "
                              f"{len(self.texts)} phrasings); rebuild with 'supportbot kb build --force'")
        self.by_id = {e.id: e for e in self.entries}
        self.overrides = {e.id: e.thresholds for e in self.entries if e.thresholds}
        self.thresholds = load_thresholds(path)
        self.answer_weight = float(self.manifest.get("answer_weight", 0.0))
        self.head_weight = float(self.manifest.get("head_weight", 0.0))
        self.lexical_weight = float(self.manifest.get("lexical_weight", 0.0))
        self.lexical = (Lexical(self.texts, self.owners, len(self.entries))
                        if self.lexical_weight > 0 else None)
        try:
            self.head = Head.load(path / "head.npz") if self.head_weight > 0 else None
        except (OSError, ValueError, KeyError) as exc:
            raise KbIndexError(f"index version {path} has an unreadable head.npz ({exc}); "
                               "rebuild it with 'supportbot kb build --force'") from exc

    @property
    def model(self) -> str:
        return str(self.manifest["model"])

    @property
    def model_path(self) -> Path | None:
        """The folder of the model this version was built with, if it is not the base model."""
        ref = self.manifest.get("model_ref", "")
        return self.path.parent.parent / ref if ref else None

    def search(self, vectors: np.ndarray, k: int,
               queries: Sequence[str] | None = None) -> list[list[EntryHit]]:
        """Per query, the entries among the k nearest phrasings, best first. ``queries`` (the texts
        the vectors encode) are needed when the version scores words too (``lexical_weight``)."""
        if self.lexical is not None and (queries is None or len(queries) != len(vectors)):
            raise ValueError(f"index version {self.name} scores words too: pass the query texts")
        k = min(k, len(self.texts))
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        scores, ids = self.index.search(vectors, k)
        head = self.head.probabilities(vectors) if self.head is not None else None
        out = []
        for row, (vector, s, i) in enumerate(zip(vectors, scores, ids)):
            evidence: list = []
            if self.answer_weight > 0:  # only the entries found: cheap however large the FAQ
                found = np.unique(self.owners[i[i >= 0]])
                evidence.append((self.answer_weight,
                                 dict(zip(found.tolist(), (self.answers[found] @ vector).tolist()))))
            if head is not None:
                evidence.append((self.head_weight, head[row]))
            if self.lexical is not None and queries is not None:
                evidence.append((self.lexical_weight, self.lexical.scores(queries[row])))
            ranked = score_entries(s, i, self.owners, evidence)
            out.append([EntryHit(self.entries[e].id, score, self.texts[pid]) for e, score, pid in ranked])
        return out


def load_thresholds(path: Path) -> Thresholds:
    file = path / "thresholds.json"
    if not file.exists():
        return Thresholds()
    try:
        return Thresholds.from_json(json.loads(file.read_text("utf-8")))
    except (ValueError, TypeError) as exc:
        raise KbIndexError(f"{file} is invalid ({exc}); rerun 'supportbot kb calibrate'") from exc
