"""Tuned encoders kept beside the index (``kb_index/models/tuned-<training hash>/``): which one fits a
corpus, which encoder a version's queries need, and pruning. Reading only: training is ``bot.kb.tune``.

The training hash covers what training reads (the base model's name, entry ids and phrasings), not
answers: editing an answer keeps the tuned model; another base model (SUPPORTBOT_MODEL) or adding,
removing or changing a phrasing makes it stale, and a stale model is ignored (the base model serves
until ``supportbot kb tune`` runs again).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from bot.kb.corpus import Corpus, FaqEntry
from bot.kb.encoder import FALLBACK, Encoder, SentenceTransformerEncoder, load_encoder
from bot.kb.index import IndexVersion, KbIndexError

PREFIX = "tuned-"
MANIFEST = "tune.json"


def training_hash(entries: Sequence[FaqEntry], base: str) -> str:
    """A hash of what tuning reads: the base model's name, entry ids and phrasings."""
    payload = json.dumps([base, sorted([e.id, list(e.phrasings)] for e in entries)], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def models_dir(index_dir: Path) -> Path:
    return index_dir / "models"


def tuned_path(index_dir: Path, corpus: Corpus, base: str) -> Path:
    """Where the tuned model for this corpus and base model lives (whether or not it exists)."""
    return models_dir(index_dir) / f"{PREFIX}{training_hash(corpus.entries, base)[:16]}"


def fresh_tuned(index_dir: Path, corpus: Corpus, base: str) -> Path | None:
    """The model tuned from ``base`` on exactly this corpus's phrasings, if one was trained."""
    path = tuned_path(index_dir, corpus, base)
    return path if (path / MANIFEST).is_file() else None


def stale_tuned(index_dir: Path, corpus: Corpus, base: str) -> list[Path]:
    """Tuned models trained on other phrasings or from another base model."""
    folder = models_dir(index_dir)
    if not folder.is_dir():
        return []
    fresh = tuned_path(index_dir, corpus, base)
    return sorted(p for p in folder.iterdir()
                  if p.name.startswith(PREFIX) and p != fresh and (p / MANIFEST).is_file())


def read_manifest(model_dir: Path) -> dict:
    """A tuned model's tune.json ({} if the folder is not a tuned model)."""
    try:
        return json.loads((model_dir / MANIFEST).read_text("utf-8"))
    except (OSError, ValueError):
        return {}


def same_options(recorded: Mapping[str, Any], options: Any) -> bool:
    """Whether a model trained with ``recorded`` options is what ``options`` asks for (unset
    epochs match any)."""
    wanted = {k: v for k, v in options.__dict__.items() if not (k == "epochs" and v is None)}
    return all(recorded.get(k) == v for k, v in wanted.items())


def prune_models(index_dir: Path, keep: set[str]) -> None:
    """Delete tuned models no index version uses, except those named in ``keep``."""
    folder = models_dir(index_dir)
    if not folder.is_dir():
        return
    used = set(keep)
    for manifest in (index_dir / "versions").glob("*/manifest.json"):
        try:
            used.add(Path(json.loads(manifest.read_text("utf-8")).get("model_ref", "")).name)
        except (OSError, ValueError):
            continue
    for path in folder.iterdir():
        if path.name.startswith(PREFIX) and path.name not in used:
            shutil.rmtree(path, ignore_errors=True)


def corpus_encoder(corpus: Corpus, index_dir: Path, base: Encoder) -> tuple[Encoder, str | None]:
    """The encoder to index ``corpus`` with: its tuned model if one was trained on exactly these
    phrasings, else ``base``. The second value says why a tuned model was passed over, if one was."""
    tuned = fresh_tuned(index_dir, corpus, base.name)
    if tuned is not None:
        return SentenceTransformerEncoder(tuned), None
    stale = stale_tuned(index_dir, corpus, base.name)
    if stale:
        return base, (f"the tuned model {stale[-1].name} was trained on other FAQ phrasings than "
                      f"{index_dir.name} now has, or from another base model than {base.name}, so "
                      f"{base.name} is used; run "
                      "'supportbot kb tune' to adapt the model to the current FAQ")
    return base, None


def held_out_rows(version: IndexVersion) -> np.ndarray | None:
    """Rows of ``version``'s phrasings that its tuned model never trained on (None: not tuned, or
    tuned without holding any out)."""
    path = version.model_path
    held = read_manifest(path).get("held_out") if path is not None else None
    if not held:
        return None
    rows = [row for row, (text, owner) in enumerate(zip(version.texts, version.owners))
            if held.get(version.entries[owner].id) == text]
    return np.asarray(rows, dtype=np.int64) if rows else None


def servable_backend(version: IndexVersion, backend: str) -> str:
    """The first backend of ``backend``'s fallback chain that ``version``'s export record says passed
    the check on its phrasings (torch when none did, or the version has no record)."""
    checks = (version.manifest.get("encoder_export") or {}).get("checks", {})
    return next((b for b in FALLBACK.get(backend, ("torch",)) if b == "torch" or checks.get(b, {}).get("ok")),
                "torch")


def _vouched(encoder: Encoder, version: IndexVersion, usable: str) -> bool:
    if getattr(encoder, "backend", "torch") != usable:
        return False
    accepts = getattr(encoder, "accepts", None)  # an ONNX export: the one the version was checked with?
    return accepts is None or accepts(version.manifest.get("encoder_export")) is None


def version_encoder(version: IndexVersion, base: Encoder | None, loaded: Encoder | None = None,
                    backend: str | None = None, threads: int | None = None) -> Encoder:
    """The encoder that queries of ``version`` must use: ``loaded`` or ``base`` if either is that
    model through the backend the version can serve with (``servable_backend``), else that model
    loaded (its tuned model's folder, or the base model's). ``backend``: SUPPORTBOT_ENCODER_BACKEND
    (default: ``base``'s)."""
    usable = servable_backend(version, backend or str(getattr(base, "backend", "torch")))
    for encoder in (loaded, base):
        if encoder is not None and encoder.name == version.model and _vouched(encoder, version, usable):
            return encoder
    record = version.manifest.get("encoder_export") or {}
    path = version.model_path
    index_dir = version.path.parent.parent
    if path is None and base is not None and base.name == version.model:  # the base model, another backend
        return load_encoder(getattr(base, "ref", ""), usable, index_dir, threads, record)
    if path is None or not path.is_dir():
        raise KbIndexError(f"index {version.name} was built with model {version.model!r}, which is "
                           f"missing here (base model: {base.name if base else 'not loaded'}); "
                           "rebuild the index with 'supportbot kb build'")
    if usable == "torch":
        return SentenceTransformerEncoder(path, threads)
    return load_encoder(path, usable, index_dir, threads, record)
