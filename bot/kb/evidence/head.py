"""A light classifier head on the phrasing embeddings: multinomial logistic regression over entries.

Nearest-phrasing search looks at one phrasing at a time; the head weighs all of an entry's
phrasings against all the others' and so separates look-alike entries better (see the ablation in
docs/benchmarks.md). Its probability is blended into each entry's score (``bot.kb.evidence``). It is
fitted at build time in seconds and stored with the index version as ``head.npz``; a query costs one
small matrix product on the vector the encoder already made.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from bot.kb.evidence.base import BuildInput, Phrasings

FILE = "head.npz"
REGULARISATION = 10.0  # sklearn's C: the best of 1, 10 and 100 on CLINC150 and Banking77
MAX_ENTRIES = 1000  # beyond this the head is skipped: fitting and scoring grow with the entries
FOLDS = 2  # cross-fitting for calibration


@dataclass(frozen=True)
class Head:
    weights: np.ndarray  # (entries, dim)
    bias: np.ndarray  # (entries,)

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        """Per vector, the probability of each entry; rows sum to 1."""
        logits = vectors @ self.weights.T + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        np.exp(logits, out=logits)
        return logits / logits.sum(axis=1, keepdims=True)

    def save(self, path: Path, fitted_on: str = "") -> None:
        np.savez(path, weights=self.weights, bias=self.bias, fitted_on=np.array(fitted_on))

    @classmethod
    def load(cls, path: Path) -> Head:
        with np.load(path) as data:
            return cls(np.ascontiguousarray(data["weights"], dtype=np.float32),
                       np.ascontiguousarray(data["bias"], dtype=np.float32))


def usable(n_entries: int) -> bool:
    return 2 <= n_entries <= MAX_ENTRIES


def fit_head(vectors: np.ndarray, owners: np.ndarray, n_entries: int) -> Head:
    """Fit the head on phrasing vectors labelled with their entry index."""
    from sklearn.linear_model import LogisticRegression

    present = np.unique(owners)
    model = LogisticRegression(C=REGULARISATION, max_iter=300).fit(vectors, owners)
    # entries with no phrasing in ``vectors`` (possible in a cross-fitting fold) never win
    weights = np.zeros((n_entries, vectors.shape[1]), dtype=np.float32)
    bias = np.full(n_entries, -1e4, dtype=np.float32)
    if len(present) == 2:  # sklearn fits one coefficient row for two classes
        coef = np.vstack([-model.coef_[0] / 2, model.coef_[0] / 2])
        intercept = np.array([-model.intercept_[0] / 2, model.intercept_[0] / 2])
    else:
        coef, intercept = model.coef_, model.intercept_
    weights[present], bias[present] = coef, intercept
    return Head(weights, bias)


def fitted_on(vectors: np.ndarray, owners: np.ndarray, n_entries: int) -> str:
    """A digest of what a head is fitted from: the same digest, the same head."""
    digest = hashlib.sha256(f"{REGULARISATION}:{n_entries}:{vectors.shape}".encode())
    digest.update(np.ascontiguousarray(vectors, dtype=np.float32).tobytes())
    digest.update(np.ascontiguousarray(owners, dtype=np.int64).tobytes())
    return digest.hexdigest()


def _stored_digest(path: Path) -> str:
    try:
        with np.load(path) as data:
            return str(data["fitted_on"]) if "fitted_on" in data.files else ""
    except (OSError, ValueError):
        return ""


def round_robin_folds(owners: np.ndarray, folds: int) -> np.ndarray:
    """Each phrasing's fold: an entry's phrasings are dealt round-robin into ``folds`` folds."""
    fold_of = np.zeros(len(owners), dtype=np.int64)
    for entry in np.unique(owners):
        rows = np.flatnonzero(owners == entry)
        fold_of[rows] = np.arange(len(rows)) % folds
    return fold_of


def cross_fitted_probabilities(vectors: np.ndarray, owners: np.ndarray, n_entries: int,
                               folds: int = FOLDS) -> np.ndarray:
    """Each phrasing's entry probabilities from a head that never saw it.

    Calibration's leave-one-out must not ask a head trained on the very phrasing it scores: that
    head would be sure of every answer and the thresholds would come out too low. Each entry's
    phrasings are dealt round-robin into ``folds`` folds; a phrasing is scored by the head fitted on
    the other folds. A fold fit on fewer phrasings is a little weaker than the served head, so the
    estimate errs on the careful side, as leave-one-out itself does.
    """
    fold_of = round_robin_folds(owners, folds)
    out = np.zeros((len(owners), n_entries), dtype=np.float32)
    for fold in range(folds):
        test, train = fold_of == fold, fold_of != fold
        if not test.any():
            continue
        if len(np.unique(owners[train])) < 2:
            out[test] = 1.0 / n_entries  # too little to learn from: no opinion
            continue
        out[test] = fit_head(vectors[train], owners[train], n_entries).probabilities(vectors[test])
    return out


class HeadEvidence:
    name = "head"
    needs_text = False
    files = (FILE,)

    def usable_weight(self, weight: float, n_entries: int) -> float:
        return weight if usable(n_entries) else 0.0

    def fit(self, build: BuildInput, folder: Path) -> int:
        """Fit the head, or copy the serving version's when it was fitted on the very same phrasing
        vectors (an answer-text edit): the fit is most of such a build's time."""
        digest = fitted_on(build.vectors, build.owners, len(build.entries))
        previous = build.previous / FILE if build.previous is not None else None
        if previous is not None and _stored_digest(previous) == digest:
            shutil.copyfile(previous, folder / FILE)
        else:
            fit_head(build.vectors, build.owners, len(build.entries)).save(folder / FILE, digest)
        return 0

    def load(self, folder: Path, phrasings: Phrasings) -> Head:
        return Head.load(folder / FILE)

    def scores(self, state: Head, vectors: np.ndarray, queries: Sequence[str] | None,
               found: Sequence[np.ndarray]) -> list[Any]:
        return list(state.probabilities(vectors))

    def held_out(self, state: Head, vectors: np.ndarray, phrasings: Phrasings,
                 rows: np.ndarray) -> np.ndarray:
        return cross_fitted_probabilities(vectors, phrasings.owners, phrasings.n_entries)[rows]

    def for_stand_ins(self, state: Any, scores: list[Any], labels: np.ndarray, vectors: np.ndarray,
                      phrasings: Phrasings) -> list[Any]:
        return scores  # the head learns from phrasings only, never answers: nothing to leave out
