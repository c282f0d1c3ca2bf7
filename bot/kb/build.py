"""Build a new index version from a corpus and publish it: embed, fit each scoring signal,
calibrate, then switch ``CURRENT`` in one rename. A failure leaves the serving version untouched."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np

from bot.kb.corpus import Corpus
from bot.kb.encoder import Encoder
from bot.kb.evidence import SIGNALS, computations, resolve_weights
from bot.kb.evidence.base import BuildInput
from bot.kb.files import publishing, write_json_atomic
from bot.kb.index import (
    FORMAT_VERSION,
    KbIndexError,
    checksums,
    embed_phrasings,
    make_faiss_index,
    phrasing_table,
    prune_versions,
    serving_name,
    switch_current,
)
from bot.kb.onnx_export import ensure_export

# calibrate(path of the new version, phrasing vectors, owners) before it starts serving
Calibrate = Callable[[Path, np.ndarray, np.ndarray], None]
# the encoder_export record of a version from its phrasings and their vectors (bot.kb.onnx_export)
ExportCheck = Callable[[list[str], np.ndarray], dict]


@dataclass
class BuildResult:
    name: str
    path: Path
    manifest: dict[str, Any]
    up_to_date: bool = False


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


def _unchanged(index_dir: Path, corpus_hash: str, encoder: Encoder, weights: dict[str, float],
               out_of_scope: str = "") -> str | None:
    """The serving version's name if it was built from exactly this corpus, model, weights and
    out-of-scope examples."""
    name = serving_name(index_dir)
    if not name:
        return None
    try:
        manifest = json.loads((index_dir / "versions" / name / "manifest.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    same = (manifest.get("corpus_hash") == corpus_hash and manifest.get("model") == encoder.name
            and manifest.get("format") == FORMAT_VERSION and manifest.get("out_of_scope", "") == out_of_scope
            and "encoder_export" in manifest  # built before ONNX exports: build once more to export
            and all(manifest.get(key, 0.0) == w for key, w in weights.items()))
    return name if same else None


def build_index(corpus: Corpus, index_dir: Path, encoder: Encoder, *, force: bool = False,
                progress: bool = False, calibrate: Calibrate | None = None, out_of_scope: str = "",
                export_check: ExportCheck | None = None, **weights: float) -> BuildResult:
    """Embed every phrasing of ``corpus`` and publish a new index version.

    ``weights`` are the scoring signals' (``answer_weight=0.5``...; ``bot.kb.evidence``; unset
    ones take their defaults, 0 turns one off). Nothing is switched until the new version is
    complete on disk, calibrated by ``calibrate`` if given. ``out_of_scope``: the digest of the
    out-of-scope examples ``calibrate`` uses (``bot.kb.out_of_scope.digest``), in the manifest.
    ``export_check(texts, vectors)``: the version's ``encoder_export`` record (default: export the
    torch ``encoder`` and check it here); required to build with an ONNX encoder (the editor does).
    """
    if corpus.errors:
        raise KbIndexError("the corpus has errors; fix them first ('supportbot kb validate')")
    try:
        chosen = resolve_weights(weights)
    except ValueError as exc:
        raise KbIndexError(str(exc)) from exc
    if not corpus.entries:
        raise KbIndexError("the corpus has no entries; nothing to index")
    backend = getattr(encoder, "backend", "torch")
    if backend != "torch" and export_check is None:  # who checks the export against torch?
        raise KbIndexError(f"a build with the {backend} export needs an export_check (against torch)")
    signals = computations()
    chosen = {s.key: signals[s.name].usable_weight(chosen[s.key], len(corpus.entries)) for s in SIGNALS}
    index_dir.mkdir(parents=True, exist_ok=True)
    corpus_hash = corpus.content_hash()
    if not force:
        serving = _unchanged(index_dir, corpus_hash, encoder, chosen, out_of_scope)
        if serving:
            path = index_dir / "versions" / serving
            return BuildResult(serving, path, json.loads((path / "manifest.json").read_text("utf-8")), True)

    started = time.perf_counter()
    texts, owners = phrasing_table(corpus.entries)
    vectors, n_encoded = embed_phrasings(index_dir, encoder, texts, progress)
    exported = (export_check(texts, vectors) if export_check is not None  # ONNX, checked on these phrasings
                else ensure_export(encoder, index_dir, texts, vectors))
    serving = serving_name(index_dir)
    build = BuildInput(corpus.entries, texts, owners, vectors,
                       lambda more: embed_phrasings(index_dir, encoder, more, progress),
                       index_dir / "versions" / serving if serving else None)
    stamp = datetime.now(timezone.utc)
    name = f"{stamp.strftime('%Y%m%dT%H%M%S%fZ')}-{corpus_hash[:8]}"
    (index_dir / "versions").mkdir(exist_ok=True)
    with publishing(index_dir / "versions" / name) as tmp:
        index = make_faiss_index(vectors)
        _faiss_write(index, tmp / "index.faiss")
        for s in SIGNALS:
            if chosen[s.key] > 0:
                n_encoded += signals[s.name].fit(build, tmp)
        write_json_atomic(tmp / "phrasings.json", [[int(o), t] for o, t in zip(owners, texts)])
        write_json_atomic(tmp / "entries.json", [e.to_json() for e in corpus.entries])
        manifest = {
            "checksums": checksums(tmp),  # of what is written so far: not the thresholds, rewritable
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
            **chosen,
            "out_of_scope": out_of_scope,
            "encoder_export": exported,
            "built_at": stamp.isoformat(),
            "build_seconds": round(time.perf_counter() - started, 3),
        }
        write_json_atomic(tmp / "manifest.json", manifest)
        if calibrate is not None:
            calibrate(tmp, vectors, owners)
    switch_current(index_dir, name)
    prune_versions(index_dir)
    return BuildResult(name, index_dir / "versions" / name, manifest)


def _faiss_write(index: Any, path: Path) -> None:
    import faiss

    faiss.write_index(index, str(path))
