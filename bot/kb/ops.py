"""The knowledge-base operations behind ``supportbot kb``: plain functions, no printing."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bot.kb import calibrate as cal
from bot.kb.corpus import Corpus
from bot.kb.decision import Thresholds
from bot.kb.encoder import Encoder
from bot.kb.evaluate import read_queries
from bot.kb.head import HEAD_WEIGHT
from bot.kb.index import (
    ANSWER_WEIGHT,
    BuildResult,
    IndexVersion,
    build_index,
    current_path,
    embed_phrasings,
)
from bot.kb.lexical import LEXICAL_WEIGHT
from bot.kb.tune import held_out_rows


def calibrate_version(path: Path, encoder: Encoder, index_dir: Path, *,
                      vectors: np.ndarray | None = None, owners: np.ndarray | None = None,
                      answers: np.ndarray | None = None,
                      queries: Path | None = None, target_precision: float = cal.TARGET_PRECISION,
                      oos_share: float = 0.25) -> tuple[Thresholds, dict]:
    """Calibrate the version at ``path`` and store its thresholds there."""
    version = IndexVersion(path)
    if queries is not None:
        labelled = read_queries(queries, set(version.by_id))
        index_of = {e.id: i for i, e in enumerate(version.entries)}
        q_vectors = encoder.encode([q.text for q in labelled], batch_size=128)
        samples = cal.query_samples(
            version, q_vectors, [index_of[q.expected] if q.expected else -1 for q in labelled],
            [q.text for q in labelled])
        source = f"calibrated on {queries.name}, target precision {target_precision}"
    else:
        if vectors is None or owners is None:
            vectors, _ = embed_phrasings(index_dir, encoder, version.texts)
            owners = version.owners
        if answers is None:
            answers = version.answers
        oos_texts = cal.generic_oos_questions()
        oos_vectors, _ = embed_phrasings(index_dir, encoder, oos_texts)
        rows = held_out_rows(version)  # a tuned model: only the phrasings it never trained on
        samples = cal.leave_one_out(vectors, owners, answers, version.answer_weight,
                                    version.head_weight, rows=rows, lexical_weight=version.lexical_weight,
                                    texts=version.texts) + cal.query_samples(
            version, oos_vectors, [-1] * len(oos_texts), oos_texts)
        which = "phrasings held out of tuning" if rows is not None else "leave-one-out"
        source = f"calibrated on the corpus ({which} + generic out-of-scope), " \
                 f"target precision {target_precision}"
    thresholds, report = cal.choose_thresholds(samples, target_precision, oos_share,
                                               base=version.thresholds, source=source)
    cal.save(path, thresholds, report)
    return thresholds, report


def build(corpus: Corpus, index_dir: Path, encoder: Encoder, *, force: bool = False,
          progress: bool = False, calibrate: bool = True, target_precision: float = cal.TARGET_PRECISION,
          oos_share: float = 0.25, answer_weight: float = ANSWER_WEIGHT,
          head_weight: float = HEAD_WEIGHT, lexical_weight: float = LEXICAL_WEIGHT) -> BuildResult:
    """Build a new version and, unless told not to, calibrate it before it starts serving."""
    def hook(path: Path, vectors: np.ndarray, owners: np.ndarray, answers: np.ndarray) -> None:
        calibrate_version(path, encoder, index_dir, vectors=vectors, owners=owners, answers=answers,
                          target_precision=target_precision, oos_share=oos_share)

    return build_index(corpus, index_dir, encoder, force=force, progress=progress,
                       calibrate=hook if calibrate else None, answer_weight=answer_weight,
                       head_weight=head_weight, lexical_weight=lexical_weight)


def load_current(index_dir: Path) -> IndexVersion:
    return IndexVersion(current_path(index_dir))
