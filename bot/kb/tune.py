"""Adapt the encoder to one FAQ corpus: contrastive fine-tuning on the corpus's own phrasings.

Every entry's question and alternates are positives for each other; the other entries' phrasings
in the same batch are the negatives (sentence-transformers' MultipleNegativesRankingLoss, both
directions). Batches never hold two pairs of one entry, so no phrasing is pushed away from its
own entry. The result is saved beside the index::

    kb_index/models/tuned-<training hash>/   a sentence-transformers folder + tune.json

Which tuned model fits a corpus, and which one a version serves with: ``bot.kb.models``.

Calibration needs phrasings the model has not seen: leave-one-out on phrasings it was trained on
is optimistic (they sit closer to their entry than a customer's words would). So, by default, one
alternate of every entry with HOLD_OUT_MIN or more phrasings is held out of training (still indexed
and served), recorded in tune.json, and corpus-only calibration of a tuned version uses those.
"""

from __future__ import annotations

import json
import os
import random
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from bot.kb.corpus import Corpus, FaqEntry
from bot.kb.encoder import model_name, packaged_model_path
from bot.kb.files import publishing
from bot.kb.models import MANIFEST, models_dir, read_manifest, same_options, training_hash, tuned_path


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


def held_out_phrasings(entries: Sequence[FaqEntry], seed: int) -> dict[str, str]:
    """One alternate (never the question) per entry with HOLD_OUT_MIN+ phrasings, chosen by seed."""
    return {e.id: random.Random(f"{seed}:{e.id}").choice(e.phrasings[1:])
            for e in entries if len(e.phrasings) >= HOLD_OUT_MIN}


def untunable(corpus: Corpus) -> str | None:
    """Why ``corpus`` gives tuning nothing to learn from, or None.

    Tuning pulls an entry's phrasings together: a FAQ with one question per entry has no pairs.
    Pairs of a question and sentences of its answer were tried on StackFAQ and gained nothing
    (MRR 0.947 tuned, 0.948 untuned; docs/benchmarks.md), so such a FAQ keeps the base model."""
    trainable = sum(1 for e in corpus.entries if len(e.phrasings) >= 2)
    if trainable >= 2:
        return None
    return (f"tuning needs at least two entries with two or more phrasings (a question plus "
            f"alternates); {trainable} of {len(corpus.entries)} entries have alternates, so the base "
            "model serves as it is (alternates, e.g. customers' questions from the inbox, make tuning "
            "possible)")


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


def _export(model: object, folder: Path, target: Path, log: Callable[[str], None]) -> None:
    """The tuned model's ONNX export, published with it (``bot.kb.onnx_export``; the build that
    follows checks it on the phrasings). A failure only costs the ONNX backend: the build retries."""
    from bot.kb.onnx_export import export

    try:
        export(model, folder, folder / "onnx", ref=str(target), name=target.name)
    except Exception as exc:  # noqa: BLE001 - torch serves the tuned model instead
        log(f"the ONNX export of the tuned model failed ({exc}); the build will try again")


def tune(corpus: Corpus, index_dir: Path, base_model: str = "", options: TuneOptions = TuneOptions(),
         force: bool = False, progress: bool = False,
         log: Callable[[str], None] = lambda _: None) -> TuneResult:
    """Fine-tune the base model on ``corpus`` and save it under ``kb_index/models/``.

    Deterministic for a given corpus, base model, options and thread count. Cheap to rerun: an
    up-to-date tuned model is kept unless ``force``.
    """
    if corpus.errors:
        raise TuneError("the corpus has errors; fix them first ('supportbot kb validate')")
    reason = untunable(corpus)
    if reason:
        raise TuneError(reason)
    trainable = [e for e in corpus.entries if len(e.phrasings) >= 2]
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
    with publishing(target, replace=True) as tmp:
        model.save(str(tmp))
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        _export(model, tmp, target, log)
    log(f"tuned {manifest['entries']} entries in {steps} steps, {seconds:.0f} s; loss "
        f"{manifest['loss_first_tenth']} -> {manifest['loss_last_tenth']}")
    return TuneResult(target, manifest)


