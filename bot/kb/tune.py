"""Adapt the encoder to one FAQ corpus: contrastive fine-tuning on the corpus's own phrasings.

Every entry's question and alternates are positives for each other; the other entries' phrasings
in the same batch are the negatives (sentence-transformers' MultipleNegativesRankingLoss, both
directions). Batches never hold two pairs of one entry, so no phrasing is pushed away from its
own entry. The result is saved beside the index::

    kb_index/models/tuned-<training hash>/   a sentence-transformers folder + tune.json

The training hash covers what training reads (the base model's name, entry ids and phrasings), not
answers: editing an answer keeps the tuned model; another base model (SUPPORTBOT_MODEL) or adding,
removing or changing a phrasing makes it stale, and a stale model is ignored (the base model serves
until ``supportbot kb tune`` runs again).

Calibration needs phrasings the model has not seen: leave-one-out on phrasings it was trained on
is optimistic (they sit closer to their entry than a customer's words would). So, by default, one
alternate of every entry with HOLD_OUT_MIN or more phrasings is held out of training (still indexed
and served), recorded in tune.json, and corpus-only calibration of a tuned version uses those.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from bot.kb.corpus import Corpus, FaqEntry
from bot.kb.encoder import Encoder, SentenceTransformerEncoder, model_name, packaged_model_path
from bot.kb.index import IndexVersion, KbIndexError

PREFIX = "tuned-"
MANIFEST = "tune.json"


class TuneError(RuntimeError):
    """Tuning cannot run; the message says what to fix."""


MIN_STEPS = 48  # small corpora get several passes: one pass over 600 phrasings is ~10 steps
MAX_TOKENS = 64  # training truncation; support phrasings are short (Banking77: p99 53 tokens)
HOLD_OUT_MIN = 3  # entries with this many phrasings lend one alternate to calibration


@dataclass(frozen=True)
class TuneOptions:
    epochs: int | None = None  # None: enough passes for MIN_STEPS steps, at least one
    batch_size: int = 64
    learning_rate: float = 5e-5
    warmup: float = 0.1
    scale: float = 20.0
    seed: int = 13
    hold_out: bool = True  # keep one alternate per entry out of training, for calibration

    def __post_init__(self) -> None:
        if self.epochs is not None and self.epochs < 1:
            raise TuneError(f"epochs must be at least 1, got {self.epochs}")
        if self.batch_size < 2:
            raise TuneError(f"the batch size must be at least 2, got {self.batch_size}")
        if not 0 < self.learning_rate < 1:
            raise TuneError(f"the learning rate must be in (0, 1), got {self.learning_rate}")


@dataclass(frozen=True)
class TuneResult:
    path: Path
    manifest: dict
    up_to_date: bool = False


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


def held_out_phrasings(entries: Sequence[FaqEntry], seed: int) -> dict[str, str]:
    """One alternate (never the question) per entry with HOLD_OUT_MIN+ phrasings, chosen by seed."""
    return {e.id: random.Random(f"{seed}:{e.id}").choice(e.phrasings[1:])
            for e in entries if len(e.phrasings) >= HOLD_OUT_MIN}


def read_manifest(model_dir: Path) -> dict:
    """A tuned model's tune.json ({} if the folder is not a tuned model)."""
    try:
        return json.loads((model_dir / MANIFEST).read_text("utf-8"))
    except (OSError, ValueError):
        return {}


def same_options(recorded: dict, options: TuneOptions) -> bool:
    """Whether a model trained with ``recorded`` options is what ``options`` asks for (unset
    epochs match any)."""
    wanted = {k: v for k, v in options.__dict__.items() if not (k == "epochs" and v is None)}
    return all(recorded.get(k) == v for k, v in wanted.items())


def training_batches(entries: Sequence[Sequence[str]], batch_size: int,
                     rng: random.Random) -> list[tuple[list[str], list[str]]]:
    """One epoch of (anchors, positives) batches; each phrasing is an anchor once per epoch.

    A batch holds at most one pair per entry (its other pairs would be false negatives).
    Entries with one phrasing have no positive and only serve as nobody's pair.
    """
    queues: list[list[tuple[str, str]]] = []
    for phrasings in entries:
        if len(phrasings) < 2:
            queues.append([])
            continue
        order = list(phrasings)
        rng.shuffle(order)
        queues.append([(order[i], order[(i + 1) % len(order)]) for i in range(len(order))])
    batches = []
    while True:
        open_entries = [i for i, q in enumerate(queues) if q]
        if len(open_entries) < 2:
            break
        # the fullest queues first, so entries run out together; ties broken at random
        open_entries.sort(key=lambda i: (-len(queues[i]), rng.random()))
        chosen = open_entries[:batch_size]
        rng.shuffle(chosen)
        pairs = [queues[i].pop() for i in chosen]
        batches.append(([a for a, _ in pairs], [p for _, p in pairs]))
    rng.shuffle(batches)
    return batches


def tune(corpus: Corpus, index_dir: Path, base_model: str = "", options: TuneOptions = TuneOptions(),
         force: bool = False, progress: bool = False,
         log: Callable[[str], None] = lambda _: None) -> TuneResult:
    """Fine-tune the base model on ``corpus`` and save it under ``kb_index/models/``.

    Deterministic for a given corpus, base model, options and thread count. Cheap to rerun: an
    up-to-date tuned model is kept unless ``force``.
    """
    if corpus.errors:
        raise TuneError("the corpus has errors; fix them first ('supportbot kb validate')")
    trainable = [e for e in corpus.entries if len(e.phrasings) >= 2]
    if len(trainable) < 2:
        raise TuneError("tuning needs at least two entries with two or more phrasings "
                        "(a question plus alternates)")
    base_name = model_name(base_model)
    target = tuned_path(index_dir, corpus, base_name)
    existing = read_manifest(target)
    if not force and existing and same_options(existing.get("options", {}), options):
        return TuneResult(target, existing, up_to_date=True)

    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from tqdm import tqdm
    from transformers import get_linear_schedule_with_warmup

    base = Path(base_model) if base_model else packaged_model_path()
    rng = random.Random(options.seed)
    torch.manual_seed(options.seed)
    np.random.seed(options.seed)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    model = SentenceTransformer(str(base), device="cpu")
    loss_fn = MultipleNegativesRankingLoss(model, scale=options.scale,
                                           directions=("query_to_doc", "doc_to_query"))
    held_out = held_out_phrasings(corpus.entries, options.seed) if options.hold_out else {}
    phrasings = [[p for p in e.phrasings if p != held_out.get(e.id)] for e in corpus.entries]
    epochs = [training_batches(phrasings, options.batch_size, rng)]
    n_epochs = options.epochs or max(1, -(-MIN_STEPS // len(epochs[0])))
    epochs += [training_batches(phrasings, options.batch_size, rng) for _ in range(n_epochs - 1)]
    steps = sum(len(b) for b in epochs)
    # the word-embedding table is half the model's weights; updating it buys little and costs time
    model[0].auto_model.embeddings.word_embeddings.weight.requires_grad_(False)
    served_length, model.max_seq_length = model.max_seq_length, min(model.max_seq_length, MAX_TOKENS)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad],
                                  lr=options.learning_rate)
    schedule = get_linear_schedule_with_warmup(optimizer, int(steps * options.warmup), steps)
    started = time.perf_counter()
    losses: list[float] = []
    model.train()
    with tqdm(total=steps, desc="tuning", unit="batch", disable=not progress) as bar:
        for batches in epochs:
            for anchors, positives in batches:
                features = [model.preprocess(anchors), model.preprocess(positives)]
                loss = loss_fn(features, None)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                schedule.step()
                optimizer.zero_grad()
                losses.append(loss.detach().item())
                bar.set_postfix(loss=f"{losses[-1]:.3f}")
                bar.update()
    model.eval()
    model.max_seq_length = served_length
    seconds = time.perf_counter() - started
    first, last = losses[: max(1, steps // 10)], losses[-max(1, steps // 10):]
    manifest = {
        "name": target.name,
        "base_model": str(base) if base_model else f"{base_name} (packaged)",
        "training_hash": training_hash(corpus.entries, base_name),
        "entries": len(trainable),
        "phrasings": sum(len(p) for p in phrasings),
        "held_out": held_out,
        "options": {**options.__dict__, "epochs": n_epochs},
        "steps": steps,
        "loss_first_tenth": round(sum(first) / len(first), 4),
        "loss_last_tenth": round(sum(last) / len(last), 4),
        "train_seconds": round(seconds, 1),
        "torch_threads": torch.get_num_threads(),
        "trained_at": datetime.now(timezone.utc).isoformat(),
    }
    models_dir(index_dir).mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        model.save(str(tmp))
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log(f"tuned {manifest['entries']} entries in {steps} steps, {seconds:.0f} s; loss "
        f"{manifest['loss_first_tenth']} -> {manifest['loss_last_tenth']}")
    return TuneResult(target, manifest)


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
