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
from bot.kb.encoder import Encoder, SentenceTransformerEncoder
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


def version_encoder(version: IndexVersion, base: Encoder | None,
                    loaded: Encoder | None = None) -> Encoder:
    """The encoder that queries of ``version`` must use: ``loaded`` or ``base`` if either is that
    model, else the model folder the version names (a tuned model)."""
    for encoder in (loaded, base):
        if encoder is not None and encoder.name == version.model:
            return encoder
    path = version.model_path
    if path is None or not path.is_dir():
        raise KbIndexError(f"index {version.name} was built with model {version.model!r}, which is "
                           f"missing here (base model: {base.name if base else 'not loaded'}); "
                           "rebuild the index with 'supportbot kb build'")
    return SentenceTransformerEncoder(path)
