"""Public intent datasets as FAQ corpora plus labelled query files (``query,expected_id``).

Each intent becomes one entry: its training utterances are the question and alternates, its answer
a placeholder (so answer evidence is off for them). Out-of-scope queries expect no answer.
Data live in ``../shared/datasets`` (or ``SUPPORTBOT_DATASETS``); see its README for licences.
"""

from __future__ import annotations

import csv
import json
import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATASETS = Path(os.environ.get("SUPPORTBOT_DATASETS", ROOT.parent / "shared" / "datasets"))


def slug(intent: str) -> str:
    """An entry id for an intent name (Banking77 has 'Refund_not_showing_up', 'reverted_card_payment?')."""
    return re.sub(r"[^a-z0-9_-]+", "-", intent.lower()).strip("-")


def write_corpus(path: Path, utterances: dict[str, list[str]]) -> Path:
    """One entry per intent (JSON is valid YAML, and much faster to write for 15k phrasings)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    faqs = [{"id": slug(intent), "question": texts[0], "alternates": texts[1:],
             "answer": f"(placeholder answer for the intent '{intent}')"}
            for intent, texts in utterances.items()]
    path.write_text(json.dumps({"faqs": faqs}, ensure_ascii=False, indent=0), encoding="utf-8")
    return path


def write_queries(path: Path, rows: list[tuple[str, str | None]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["query", "expected_id"])
        w.writerows([text, slug(intent) if intent else ""] for text, intent in rows)
    return path


def clinc150(out: Path, data: Path | None = None) -> dict[str, Path]:
    """CLINC150 "full": corpus from ``train``; ``val`` and ``test`` with their out-of-scope queries."""
    raw = json.loads((data or DATASETS / "clinc150" / "data_full.json").read_text("utf-8"))
    by_intent: dict[str, list[str]] = {}
    for text, intent in raw["train"]:
        by_intent.setdefault(intent, []).append(text)
    files = {"corpus": write_corpus(out / "corpus.yml", dict(sorted(by_intent.items())))}
    for split in ("val", "test"):
        rows = [(t, i) for t, i in raw[split]] + [(t, None) for t, _ in raw[f"oos_{split}"]]
        files[split] = write_queries(out / f"{split}.csv", rows)
    return files


def banking77(out: Path, shots: int | None = None, intents: int | None = None,
              tests: int | None = None) -> dict[str, Path]:
    """Banking77: corpus from ``train`` (optionally the first ``shots`` utterances per intent, in
    file order: a fixed sample), queries from ``test`` (optionally the first ``tests`` per intent)
    for the first ``intents`` intents (all by default). No out-of-scope queries."""
    folder = DATASETS / "banking77"
    train = list(csv.DictReader(open(folder / "train.csv", newline="", encoding="utf-8")))
    test = list(csv.DictReader(open(folder / "test.csv", newline="", encoding="utf-8")))
    names = list(dict.fromkeys(r["category"] for r in train))[:intents]
    by_intent = {i: [r["text"] for r in train if r["category"] == i][:shots] for i in names}
    rows = [(r["text"], i) for i in names for r in [r for r in test if r["category"] == i][:tests]]
    return {"corpus": write_corpus(out / "corpus.yml", by_intent),
            "test": write_queries(out / "test.csv", rows)}
