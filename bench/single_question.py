"""FAQs with one question per entry, built and served with the default commands.

    .venv/bin/python bench/single_question.py [--set stackfaq|demo-questions] [--tune]
                                              [--no-calibrate] [--limit N] [--json]

``stackfaq``: each StackFAQ thread becomes one entry, its ``question`` alone (no alternates) and
its first ``answer`` as the answer; its ``rephr`` user rephrasings (``*`` placeholders skipped) are
the labelled queries. There are no out-of-scope queries, so answered precision is the share of
answered rephrasings that got their own thread. Data: Karan & Šnajder 2018
(../shared/datasets/stackfaq, MIT licence).
``demo-questions``: the demo FAQ (data/faq) with its alternates dropped, scored on
eval/demo_heldout.csv (customer wordings, out-of-scope ones included).

Thresholds come from ``kb build``'s corpus-only calibration (the settings' defaults: weights,
target precision); the queries only score. ``--tune`` runs ``kb tune`` first, as ``supportbot run``
does.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench.datasets import DATASETS  # noqa: E402
from bot.kb import ops  # noqa: E402
from bot.kb.corpus import load_corpus  # noqa: E402
from bot.kb.evaluate import evaluate, read_queries  # noqa: E402
from bot.kb.index import IndexVersion, current_path  # noqa: E402
from bot.kb.models import version_encoder  # noqa: E402
from bot.settings import Settings  # noqa: E402

SOURCE = DATASETS / "stackfaq" / "stackExchange-FAQ.json"


def threads(limit: int | None = None) -> list[dict]:
    pairs = json.loads(SOURCE.read_text("utf-8"))["root"]["qapair"]
    return pairs[:limit] if limit else pairs


def write_set(out: Path, name: str = "stackfaq", limit: int | None = None) -> tuple[Path, Path]:
    """The corpus (``faq.yml``, one question per entry) and its queries (a CSV)."""
    out.mkdir(parents=True, exist_ok=True)
    if name == "demo-questions":
        return write_demo_questions(out)
    faqs, rows = [], []
    for n, thread in enumerate(threads(limit)):
        entry_id = f"thread-{n:03d}"
        answers = thread["answer"] if isinstance(thread["answer"], list) else [thread["answer"]]
        faqs.append({"id": entry_id, "question": " ".join(thread["question"].split()),
                     "answer": answers[0].strip()})
        rows += [(" ".join(r.split()), entry_id) for r in thread["rephr"] if r and r.strip() != "*"]
    corpus = out / "faq.yml"
    corpus.write_text(json.dumps({"faqs": faqs}, ensure_ascii=False, indent=0), encoding="utf-8")
    queries = out / "queries.csv"
    with open(queries, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["query", "expected_id"])
        writer.writerows(rows)
    return corpus, queries


def write_demo_questions(out: Path) -> tuple[Path, Path]:
    corpus = load_corpus(ROOT / "data" / "faq")
    faqs = [{"id": e.id, "question": e.question, "answer": e.answer} for e in corpus.entries]
    path = out / "faq.yml"
    path.write_text(json.dumps({"faqs": faqs}, ensure_ascii=False, indent=0), encoding="utf-8")
    return path, ROOT / "eval" / "demo_heldout.csv"


def run(work: Path, name: str = "stackfaq", *, tune: bool = False, calibrate: bool = True,
        limit: int | None = None, encoder=None, **overrides: float) -> dict:
    """Build (and tune) the set in ``work`` the way ``kb build`` / ``kb tune`` do; score the queries."""
    corpus_path, queries_path = write_set(work, name, limit)
    settings = Settings(root=work, corpus=corpus_path, index_dir=work / "kb_index",
                        out_of_scope=work / "out_of_scope.yml")
    base = encoder or ops.base_encoder(settings)
    corpus = ops.read_corpus(corpus_path)
    out: dict = {"entries": len(corpus.entries)}
    if tune:
        tuned = ops.tune_corpus(settings, corpus, settings.index_path, build=False, say=print)
        out["tuned"] = tuned.manifest.get("name")
    built = ops.build_corpus(settings, corpus, settings.index_path, force=True, calibrate=calibrate,
                             encoder=base, **overrides)
    version = IndexVersion(current_path(settings.index_path))
    queries = read_queries(queries_path, set(version.by_id))
    report, _ = evaluate(version, version_encoder(version, base), queries, k=settings.search_k)
    calibration = version.path / "calibration.json"
    out.update(report)
    out["thresholds"] = version.thresholds.to_json()
    out["calibration"] = json.loads(calibration.read_text("utf-8")) if calibration.exists() else None
    out["build_seconds"] = round(built.seconds, 1)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--set", default="stackfaq", choices=("stackfaq", "demo-questions"))
    p.add_argument("--tune", action="store_true", help="run kb tune before building")
    p.add_argument("--no-calibrate", action="store_true", help="default thresholds (the old code's only way)")
    p.add_argument("--limit", type=int, help="only the first N threads")
    p.add_argument("--answer-weight", type=float)
    p.add_argument("--work", type=Path, help="folder for the corpus and index (default: a temporary one)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    overrides = {"answer_weight": args.answer_weight} if args.answer_weight is not None else {}
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        report = run(work, args.set, tune=args.tune, calibrate=not args.no_calibrate, limit=args.limit,
                     **overrides)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{args.set}: {report['entries']} entries (one question each), {report['n']} queries "
          f"({report['n_out_of_scope']} out of scope){' (tuned)' if args.tune else ''}")
    for key in ("mrr", "recall_at_1", "recall_at_3", "answered_precision", "coverage", "oos_recall",
                "clarify_rate", "clarify_hit"):
        print(f"{key:>20}: {report[key]}")
    t = report["thresholds"]
    print(f"{'thresholds':>20}: answer {t['answer']}, margin {t['margin']}, clarify {t['clarify']}")
    print(f"{'source':>20}: {t['source']}")
    cal = report["calibration"]
    if cal:
        print(f"{'promised':>20}: {cal['target_precision']} (estimated {cal['estimated_precision']}, "
              f"in-scope accuracy {cal['estimated_in_scope_accuracy']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
