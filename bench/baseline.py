"""The stock-Rasa FAQ bot that our bot is benchmarked against (issue 5).

Generated from the same ``data/faq/`` corpus the way the Rasa docs teach FAQs: one retrieval intent
``faq/<entry id>`` per entry with its question and alternates as examples, its answer as the
response ``utter_faq/<entry id>``, a ResponseSelector, and FallbackClassifier for "no answer".
Tuned as a Rasa user would: the same featurizers as our NLU pipeline, 100 epochs for DIET and the
ResponseSelector, an ``out_of_scope`` intent trained on the generic out-of-scope questions we ship
(``bot/kb/data/oos_generic.txt``; never the evaluation queries), fallback threshold 0.5.

    python bench/baseline.py                 # generate + train into bench/baseline-bot/ (cached)
    python bench/baseline.py --eval eval/demo_heldout.csv
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.kb.corpus import load_corpus  # noqa: E402
from bot.kb.decision import ANSWER, MISS, Decision, EntryHit  # noqa: E402
from bot.kb.evaluate import metrics, read_queries  # noqa: E402

OUT = ROOT / "bench" / "baseline-bot"
FALLBACK_THRESHOLD = 0.5
EPOCHS = 100


def config(epochs: int = EPOCHS) -> dict:
    return {
        "recipe": "default.v1", "language": "en", "assistant_id": "faq-baseline",
        "pipeline": [
            {"name": "WhitespaceTokenizer"}, {"name": "RegexFeaturizer"},
            {"name": "LexicalSyntacticFeaturizer"},
            {"name": "CountVectorsFeaturizer"},
            {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4},
            {"name": "DIETClassifier", "epochs": epochs, "constrain_similarities": True, "random_seed": 42},
            {"name": "EntitySynonymMapper"},
            {"name": "ResponseSelector", "epochs": epochs, "retrieval_intent": "faq",
             "constrain_similarities": True, "random_seed": 42},
            {"name": "FallbackClassifier", "threshold": FALLBACK_THRESHOLD, "ambiguity_threshold": 0.1},
        ],
        "policies": [{"name": "MemoizationPolicy"}, {"name": "RulePolicy"}],
    }


class _Literal(str):
    pass


yaml.add_representer(_Literal, lambda d, s: d.represent_scalar("tag:yaml.org,2002:str", s, style="|"))


def generate(corpus_dir: Path, out: Path, epochs: int = EPOCHS) -> str:
    """Write the Rasa project; returns a fingerprint of everything that affects training."""
    corpus = load_corpus(corpus_dir)
    oos = [line.strip() for line in (ROOT / "bot" / "kb" / "data" / "oos_generic.txt").read_text().splitlines()
           if line.strip() and not line.startswith("#")]
    nlu = [{"intent": f"faq/{e.id}", "examples": _Literal("".join(f"- {p}\n" for p in e.phrasings))}
           for e in corpus.entries]
    nlu.append({"intent": "out_of_scope", "examples": _Literal("".join(f"- {q}\n" for q in oos))})
    domain = {
        "version": "3.1", "intents": ["faq", "out_of_scope"],
        "responses": {**{f"utter_faq/{e.id}": [{"text": e.answer.strip()}] for e in corpus.entries},
                      "utter_out_of_scope": [{"text": "Sorry, I can't help with that."}],
                      "utter_default": [{"text": "Sorry, I don't have an answer to that."}]},
    }
    rules = {"version": "3.1", "rules": [
        {"rule": "answer an FAQ", "steps": [{"intent": "faq"}, {"action": "utter_faq"}]},
        {"rule": "out of scope", "steps": [{"intent": "out_of_scope"}, {"action": "utter_out_of_scope"}]},
        {"rule": "no answer", "steps": [{"intent": "nlu_fallback"}, {"action": "utter_default"}]},
    ]}
    files = {"config.yml": config(epochs), "domain.yml": domain, "data/nlu.yml": {"version": "3.1", "nlu": nlu},
             "data/rules.yml": rules, "endpoints.yml": {}, "credentials.yml": {"rest": None}}
    h = hashlib.sha256()
    for name, content in files.items():
        text = yaml.dump(content, sort_keys=False, allow_unicode=True, width=1000)
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text(text)
        h.update(name.encode() + text.encode())
    return h.hexdigest()


def train(out: Path, fingerprint: str) -> float:
    """Train unless the same project was trained before; returns seconds spent (0 when cached)."""
    stamp, model = out / "models" / "baseline.fingerprint", out / "models" / "baseline.tar.gz"
    if model.exists() and stamp.exists() and stamp.read_text() == fingerprint:
        return 0.0
    started = time.perf_counter()
    subprocess.run([str(Path(sys.executable).with_name("rasa")), "train", "--fixed-model-name", "baseline",
                    "--out", "models"], cwd=out, check=True)
    stamp.write_text(fingerprint)
    return time.perf_counter() - started


def evaluate(out: Path, queries_file: Path, known: set[str]) -> dict:
    """The same metrics as ``supportbot kb eval``, for the baseline's predictions."""
    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)  # else every parse is printed
    queries = read_queries(queries_file, known)
    agent = Agent.load(str(out / "models" / "baseline.tar.gz"))

    async def parse_all() -> list[dict]:
        return [await agent.parse_message(q.text) for q in queries]

    decisions = []
    for parsed in asyncio.run(parse_all()):
        ranking = ((parsed.get("response_selector") or {}).get("faq") or {}).get("ranking") or []
        hits = tuple(EntryHit(r["intent_response_key"].split("/", 1)[1], float(r["confidence"]), "")
                     for r in ranking)
        answered = (parsed.get("intent") or {}).get("name") == "faq" and hits
        decisions.append(Decision(ANSWER if answered else MISS, hits=hits))
    return metrics([q.expected for q in queries], decisions)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", type=Path, default=ROOT / "data" / "faq")
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--eval", type=Path, help="labelled queries CSV (query,expected_id)")
    p.add_argument("--json-out", type=Path, help="also write the --eval metrics to this file")
    p.add_argument("--epochs", type=int, default=EPOCHS, help="for DIET and the ResponseSelector")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    seconds = train(args.out, generate(args.corpus, args.out, args.epochs))
    print(f"baseline model: {args.out / 'models' / 'baseline.tar.gz'}"
          + (f" (trained in {seconds:.0f} s)" if seconds else " (up to date)"))
    if args.eval:
        known = {e.id for e in load_corpus(args.corpus).entries}
        result = evaluate(args.out, args.eval, known)
        print(json.dumps(result, indent=2))
        if args.json_out:
            args.json_out.write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
