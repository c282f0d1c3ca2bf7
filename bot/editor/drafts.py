"""Try before publishing: what the live bot answers and what a draft would answer, side by side.

A draft is built exactly as a publish would build it (same encoder, signals and calibration) into
``kb_index/drafts`` (sharing the embedding cache, so only new phrasings are encoded), once per
distinct draft; asking it is then a search. The regression view asks both versions every recent
real question and every ``eval/`` query and lists those answered differently.
"""

from __future__ import annotations

import csv
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from bot.editor.recipe import Recipe
from bot.kb.corpus import Corpus
from bot.kb.decision import Decision, decide
from bot.kb.encoder import Encoder
from bot.kb.index import IndexVersion, current_path
from bot.kb.query import clean_query
from bot.settings import Settings

KEEP_DRAFTS = 4
MAX_EVAL_QUERIES = 2000


@dataclass(frozen=True)
class Side:
    """One version and the encoder its queries need."""

    version: IndexVersion
    encoder: Encoder

    def decide(self, texts: Sequence[str], vectors: Any, k: int) -> list[Decision]:
        hits = self.version.search(vectors, k, list(texts))
        return [decide(h, self.version.thresholds, self.version.overrides, query=t)
                for h, t in zip(hits, texts)]


def decision_json(decision: Decision, version: IndexVersion) -> dict[str, Any]:
    t = decision.thresholds
    return {**decision.to_json(), "version": version.name,
            "thresholds": {"answer": t.answer, "clarify": t.clarify, "margin": t.margin, "source": t.source},
            "question": version.by_id[decision.top.entry_id].question if decision.top else None}


class Drafts:
    def __init__(self, settings: Settings, encoder_for: Callable[[Corpus], Encoder],
                 encoder_of: Callable[[IndexVersion], Encoder]):
        self.settings = settings
        self.encoder_for = encoder_for  # the encoder a publish of this corpus would build with
        self.encoder_of = encoder_of  # the encoder a built version's queries need
        self.folder = settings.index_path / "drafts"
        self._built: OrderedDict[str, Side] = OrderedDict()
        self._lock = threading.Lock()

    def live(self) -> Side:
        version = IndexVersion(current_path(self.settings.index_path))
        return Side(version, self.encoder_of(version))

    def draft(self, corpus: Corpus) -> Side:
        """The version a publish of ``corpus`` would serve (built once per distinct corpus)."""
        key = corpus.content_hash()
        with self._lock:
            if key in self._built:
                self._built.move_to_end(key)
                return self._built[key]
            self.folder.mkdir(parents=True, exist_ok=True)
            cache = self.folder / "cache"
            if not cache.exists():
                cache.symlink_to(Path("..") / "cache", target_is_directory=True)
            encoder = self.encoder_for(corpus)
            recipe = Recipe.from_settings(self.settings)

            def calibrate(path: Path, vectors: Any, owners: Any) -> None:
                recipe.calibrate(path, encoder, self.folder, vectors)

            result = recipe.build(corpus, self.folder, encoder, calibrate, export_check=_never_served)
            side = Side(IndexVersion(result.path), encoder)
            self._built[key] = side
            if len(self._built) > KEEP_DRAFTS:
                self._built.popitem(last=False)
            return side

    def compare(self, texts: Sequence[str], corpus: Corpus) -> list[tuple[str, Decision, Decision, Side, Side]]:
        """Per text: (text, live decision, draft decision, live side, draft side)."""
        texts = [t for t in (clean_query(t, self.settings.max_query_chars) for t in texts) if t]
        if not texts:
            return []
        live, draft = self.live(), self.draft(corpus)
        k = self.settings.search_k
        live_vectors = live.encoder.encode(texts, batch_size=64)
        same = draft.encoder is live.encoder
        draft_vectors = live_vectors if same else draft.encoder.encode(texts, batch_size=64)
        return [(t, a, b, live, draft) for t, a, b in
                zip(texts, live.decide(texts, live_vectors, k), draft.decide(texts, draft_vectors, k))]

    def try_question(self, question: str, corpus: Corpus) -> dict[str, Any]:
        rows = self.compare([question], corpus)
        if not rows:
            raise ValueError("question: type what a customer would ask")
        text, a, b, live, draft = rows[0]
        return {"question": text, "live": decision_json(a, live.version),
                "draft": decision_json(b, draft.version)}

    def regression(self, corpus: Corpus, recent: Sequence[str]) -> dict[str, Any]:
        """Which recent real questions and ``eval/`` queries the draft answers differently."""
        labelled = eval_queries(self.settings.root / "eval")
        questions = list(dict.fromkeys(recent)) + [q for q, _ in labelled]
        expected = dict(labelled)
        changed = []
        for text, a, b, live, draft in self.compare(questions, corpus):
            if _outcome(a) == _outcome(b):
                continue
            changed.append({"question": text, "source": "eval" if text in expected else "recent",
                            "expected": expected.get(text), "live": decision_json(a, live.version),
                            "draft": decision_json(b, draft.version)})
        return {"asked": len(questions), "recent": len(set(recent)), "eval": len(labelled), "changed": changed}


def _never_served(texts: Sequence[str], vectors: Any) -> dict:
    """A draft's export record: no action server serves it, so its export is neither made nor checked."""
    return {"skipped": "a draft: never served"}


def _outcome(d: Decision) -> tuple:
    return d.kind, d.entry_id, [o.entry_id for o in d.options]


def eval_queries(folder: Path) -> list[tuple[str, str]]:
    """(query, expected entry id or "") from every CSV in ``eval/`` with a ``query`` column."""
    out: list[tuple[str, str]] = []
    for path in sorted(folder.glob("*.csv")) if folder.is_dir() else []:
        with open(path, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                if row.get("query"):
                    out.append((row["query"], row.get("expected_id") or ""))
    return out[:MAX_EVAL_QUERIES]
