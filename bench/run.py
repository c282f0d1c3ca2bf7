"""Benchmarks (not timed tests): print measured figures and write docs/benchmarks.md.

    make bench        # or: .venv/bin/python bench/run.py [--skip-clinc]

--skip-clinc leaves out CLINC150 (building it and training the stock-Rasa bot on it take ~40
minutes here) and keeps the CLINC150 figures of the last full run in the report, marked as such.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench import processes  # noqa: E402
from bot.access.conversations import token_for  # noqa: E402
from bot.apps.environment import process_env  # noqa: E402
from bot.apps.supervisor import Servers, ensure_index  # noqa: E402
from bot.apps.training import train_if_needed  # noqa: E402
from bot.kb.corpus import FaqEntry, load_corpus  # noqa: E402
from bot.kb.encoder import load_encoder  # noqa: E402
from bot.kb.evaluate import evaluate, read_queries  # noqa: E402
from bot.kb.index import IndexVersion, current_path  # noqa: E402
from bot.kb.models import version_encoder  # noqa: E402
from bot.kb.ops import build  # noqa: E402
from bot.kb.serving import KnowledgeBase  # noqa: E402
from bot.settings import Settings  # noqa: E402

KEY_SETTINGS = Settings(root=ROOT)  # where the servers' secret key is
# every server a benchmark starts listens on BENCH_PORT + a small offset (parallel sessions: set your own)
BENCH_PORT = int(os.environ.get("SUPPORTBOT_BENCH_PORT", "25000"))


def pct(values, q):
    return float(np.percentile(np.asarray(values) * 1000, q))


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


def bench_build(encoder) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        build(load_corpus(ROOT / "data" / "faq"), Path(tmp) / "demo", encoder)
        return {"demo_build_s": time.perf_counter() - t}


def bench_scale(work: Path) -> list[dict]:
    subprocess.run([sys.executable, str(ROOT / "bench" / "scale.py"), "--json-out", str(work / "scale.json")],
                   check=True)
    return json.loads((work / "scale.json").read_text())


def bench_retrieval(encoder, index_dir: Path, texts: list[str]) -> dict:
    kb = KnowledgeBase(index_dir, encoder=encoder)
    kb.warm_up()
    times = []
    for text in texts:
        t = time.perf_counter()
        kb.ask(text)
        times.append(time.perf_counter() - t)
    return {"retrieval_p50_ms": pct(times, 50), "retrieval_p95_ms": pct(times, 95)}


LOAD_LEVELS = ((1, 40), (8, 10), (32, 10))  # (concurrent customers, turns each), as fast as possible
# Customers who read and type: each of 32 sends a message every PACED_PERIOD_S seconds (or as soon
# as the reply came, if later): about 32 / 0.75 = 43 turns/s offered.
PACED = (32, 10)
PACED_PERIOD_S = 0.75
# 15,000 training examples: 100 epochs of DIET + ResponseSelector would take ~2.5 h on 2 cores;
# training accuracy is 0.99 after 2 epochs.
CLINC_BASELINE_EPOCHS = 20
OPENERS = ("", "hi, ", "hello! ", "quick question: ", "hey there, ", "sorry to bother you, ", "um ", "so ")
CLOSERS = ("", " thanks", "?", " please", " thank you!", " asap", " :)", " cheers")


def unique_messages(texts: list[str], start: int, n: int) -> list[str]:
    """``n`` distinct messages (a held-out question with an opener and a closer, the way people
    type), numbered from ``start``: no message is ever sent twice in one run, so no cache of
    ours or Rasa's serves a repeat."""
    combos = [(o, c) for o in OPENERS for c in CLOSERS]
    out = []
    for i in range(start, start + n):
        text = texts[i % len(texts)]
        opener, closer = combos[(i // len(texts)) % len(combos)]
        out.append(f"{opener}{text}{closer}")
    return out


def load(url: str, texts: list[str], customers: int, turns_each: int, label: str, start: int,
         period: float = 0.0) -> dict:
    """Each customer its own conversation, sending ``turns_each`` FAQ questions one after another
    (the messages from ``unique_messages(texts, start, ...)``: the same ones for every bot); with
    ``period``, customer c sends its n-th message at (c / customers + n) * period, or when the
    previous reply came if that is later."""
    from concurrent.futures import ThreadPoolExecutor

    began = time.perf_counter()

    def customer(c: int) -> tuple[list[float], int]:
        times, errors = [], 0
        sender = f"load-{label}-{customers}-{period}-{c}"
        with httpx.Client(timeout=60, headers=as_customer(sender)) as client:
            for n, text in enumerate(unique_messages(texts, start + c * turns_each, turns_each)):
                if period:
                    time.sleep(max(0.0, began + (c / customers + n) * period - time.perf_counter()))
                t = time.perf_counter()
                try:
                    r = client.post(url, json={"sender": sender, "message": text})
                    ok = r.status_code == 200 and bool(r.json())
                except httpx.HTTPError:
                    ok = False
                times.append(time.perf_counter() - t)
                errors += not ok
        return times, errors

    started = time.perf_counter()
    with ThreadPoolExecutor(customers) as pool:
        results = list(pool.map(customer, range(customers)))
    wall = time.perf_counter() - started
    times = [t for ts, _ in results for t in ts]
    return {"customers": customers, "period_s": period, "turns": len(times),
            "errors": sum(e for _, e in results),
            "p50_ms": pct(times, 50), "p95_ms": pct(times, 95), "p99_ms": pct(times, 99),
            "turns_per_s": round(len(times) / wall, 1)}


def as_customer(sender: str) -> dict[str, str]:
    """The conversation's token, signed here as our server would issue it (stock Rasa ignores it)."""
    return {"Authorization": f"Bearer {token_for(KEY_SETTINGS, sender)}"}


def cpu_s(pid: int) -> float:
    """CPU time (user + system) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load_levels(url: str, texts: list[str], label: str, pids: dict[str, int] | None = None) -> list[dict]:
    """Warm up, then every level of LOAD_LEVELS; message numbering leaves 0..len(texts) to the
    sequential run, so every bot gets exactly the same messages, none sent before. With ``pids``
    (name: server process), each level also gives the CPU milliseconds per turn each used
    (``cpu_ms_per_turn``): a figure other sessions on the same cores hardly move, unlike times."""
    load(url, texts, 1, 20, f"{label}-warm", start=50 * len(texts))
    out, start = [], len(texts)
    for customers, turns_each, period in [(c, n, 0.0) for c, n in LOAD_LEVELS] + [(*PACED, PACED_PERIOD_S)]:
        before = {name: cpu_s(pid) for name, pid in (pids or {}).items()}
        level = load(url, texts, customers, turns_each, label, start, period)
        if pids:
            level["cpu_ms_per_turn"] = {name: round(1000 * (cpu_s(pid) - before[name]) / level["turns"], 1)
                                        for name, pid in pids.items()}
        out.append(level)
        start += customers * turns_each
    return out


def served(url: str, question: str, text: str, timeout: float = 900) -> float:
    """Ask ``question`` (a new conversation each time) until a reply contains ``text``; the
    moment it first did (perf_counter)."""
    deadline = time.perf_counter() + timeout
    with httpx.Client(timeout=30) as client:
        while time.perf_counter() < deadline:
            try:
                sender = f"fresh-{time.time_ns()}"
                r = client.post(url, json={"sender": sender, "message": question}, headers=as_customer(sender))
                if any(text in (m.get("text") or "") for m in r.json()):
                    return time.perf_counter()
            except (httpx.HTTPError, ValueError):
                pass  # e.g. the baseline swapping its model
            time.sleep(0.05)
    raise RuntimeError(f"{text!r} was not served within {timeout:.0f} s")


def freshness(url: str, question: str, old: str, edit, publish, how: str) -> dict:
    """Edit one answer on disk (``edit(marker)``), publish it the bot's way (``publish()``), and
    time how long until the running bot serves the new text."""
    served(url, question, old[:40], timeout=30)  # the old answer is what it serves now
    marker = f"(edited {time.time_ns()})"
    started = time.perf_counter()
    edit(marker)
    publish()
    published = time.perf_counter()
    done = served(url, question, marker)
    return {"publish_s": published - started, "served_after_publish_s": done - published,
            "total_s": done - started, "how": how}


def edit_faq_answer(corpus_dir: Path, entry_id: str, marker: str) -> None:
    import yaml

    for path in sorted(corpus_dir.glob("*.yml")):
        data = yaml.safe_load(path.read_text())
        for entry in data.get("faqs", []):
            if entry["id"] == entry_id:
                entry["answer"] = entry["answer"].rstrip() + f" {marker}\n"
                path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
                return
    raise KeyError(entry_id)


def bench_baseline_load(texts: list[str], work: Path, fresh: FaqEntry) -> tuple[list[dict], dict]:
    """The stock-Rasa bot (bench/baseline.py, already trained) served by `rasa run`: the same load,
    then freshness the Rasa way: edit the response in domain.yml, `rasa train` (with the cache of
    the earlier training, as on a developer's machine), load the new model into the running server
    (PUT /model)."""
    from bot.apps.supervisor import wait_for
    from bot.apps.training import rasa_bin

    bot_dir = ROOT / "bench" / "baseline-bot"
    port = BENCH_PORT + 6
    with open(work / "baseline-rasa.log", "w") as log:
        proc = subprocess.Popen([rasa_bin(), "run", "--model", "models/baseline.tar.gz", "--interface",
                                 "127.0.0.1", "--port", str(port), "--enable-api"], cwd=bot_dir, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_for(f"http://127.0.0.1:{port}/", 180, proc)
            url = f"http://127.0.0.1:{port}/webhooks/rest/webhook"
            levels = load_levels(url, texts, "baseline")
            project = work / "baseline-edit"
            shutil.copytree(bot_dir, project, symlinks=True)
            model = project / "models" / "edited.tar.gz"

            def edit(marker: str) -> None:
                import yaml

                domain = yaml.safe_load((project / "domain.yml").read_text())
                response = domain["responses"][f"utter_faq/{fresh.id}"][0]
                response["text"] = response["text"].rstrip() + f" {marker}"
                (project / "domain.yml").write_text(yaml.safe_dump(domain, allow_unicode=True, sort_keys=False))

            def publish() -> None:
                subprocess.run([rasa_bin(), "train", "--fixed-model-name", "edited", "--out", "models"],
                               cwd=project, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                httpx.put(f"http://127.0.0.1:{port}/model", json={"model_file": str(model)},
                          timeout=600).raise_for_status()

            fresh_result = freshness(url, fresh.question, fresh.answer, edit, publish,
                                     "edit domain.yml; rasa train (cached); PUT /model")
            return levels, fresh_result
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)


def freshness_entry(version: IndexVersion, encoder) -> FaqEntry:
    """The first entry that our index answers its own question with (the baseline trains on it)."""
    from bot.kb.decision import ANSWER, decide

    for entry in version.entries:
        hits = version.search(encoder.encode([entry.question]), 20, [entry.question])[0]
        decision = decide(hits, version.thresholds, version.overrides)
        if decision.kind == ANSWER and decision.entry_id == entry.id:
            return entry
    raise RuntimeError("no FAQ entry answers its own question")


def bench_turns(index_dir: Path, faq_dir: Path, texts: list[str], fresh: FaqEntry) -> dict:
    # synthetic customers write far faster than people: no per-conversation rate limit here
    # ports of its own (the editor's too: `make run` may hold 5057), databases in the bench's folder
    settings = Settings(root=ROOT, index_dir=index_dir, rasa_port=BENCH_PORT + 5, action_port=BENCH_PORT + 55,
                        editor_port=BENCH_PORT + 57,
                        tracker_db=str(index_dir.parent / "bench-tracker.db"),
                        handoff_db=str(index_dir.parent / "bench-handoff.db"),
                        out_of_scope=index_dir.parent / "out_of_scope.yml", messages_per_minute=10**9)
    train_if_needed(settings)
    out = {}
    with Servers(settings, log_dir=index_dir.parent / "logs") as servers, httpx.Client() as client:
        def turns(messages, label):
            times = []
            senders = [f"bench-{label}-{k}" for k in range(20)]
            headers = [as_customer(sender) for sender in senders]
            for n, text in enumerate(messages):
                t = time.perf_counter()
                r = client.post(servers.rest_url, json={"sender": senders[n % 20], "message": text},
                                headers=headers[n % 20], timeout=30)
                times.append(time.perf_counter() - t)
                r.raise_for_status()
            return times

        turns(unique_messages(texts, 60 * len(texts), 20), "warm")
        faq = turns(texts, "faq")
        greet = turns(["hello"] * len(texts), "greet")
        out["load"] = load_levels(servers.rest_url, texts, "ours")

        def publish() -> None:  # what an editor runs; the action server reloads by itself
            subprocess.run([sys.executable, "-m", "bot.cli", "kb", "build", "--corpus", str(faq_dir),
                            "--index", str(index_dir)], cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, env=process_env(settings))

        out["freshness"] = freshness(servers.rest_url, fresh.question, fresh.answer,
                                     lambda marker: edit_faq_answer(faq_dir, fresh.id, marker), publish,
                                     "edit data/faq/*.yml; supportbot kb build; hot reload")
    out.update(faq_turn_p50_ms=pct(faq, 50), faq_turn_p95_ms=pct(faq, 95),
               greeting_turn_p50_ms=pct(greet, 50), greeting_turn_p95_ms=pct(greet, 95),
               turns=len(texts))
    return out


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--skip-clinc", action="store_true")
    args = p.parse_args()
    encoder = load_encoder()
    results: dict = {"machine": machine()}
    print(results["machine"])
    work = Path(tempfile.mkdtemp(prefix="supportbot-bench-"))
    try:
        index_dir, faq_dir = work / "kb_index", work / "faq"
        shutil.copytree(ROOT / "data" / "faq", faq_dir)  # the freshness run edits this copy
        # what `make run` does: build, and tune the encoder to the FAQ (bot.apps.supervisor.ensure_index)
        ensure_index(Settings(root=work, corpus=Path("faq"), index_dir=Path("kb_index")))
        version = IndexVersion(current_path(index_dir))
        serving = version_encoder(version, encoder)  # the tuned model
        queries = read_queries(ROOT / "eval" / "demo_heldout.csv", set(version.by_id))
        results["heldout"], _ = evaluate(version, serving, queries)
        results["heldout"]["thresholds"] = version.thresholds.to_json()
        print("held-out:", json.dumps(results["heldout"]))
        subprocess.run([sys.executable, str(ROOT / "bench" / "baseline.py"), "--eval",
                        str(ROOT / "eval" / "demo_heldout.csv"), "--json-out", str(work / "baseline.json")],
                       check=True, stdout=subprocess.DEVNULL)
        results["baseline_heldout"] = json.loads((work / "baseline.json").read_text())
        print("stock Rasa baseline, held-out:", json.dumps(results["baseline_heldout"]))
        texts = [q.text for q in queries if q.expected][:200]
        results["build"] = bench_build(encoder)
        print("build:", results["build"])
        results["retrieval"] = bench_retrieval(serving, index_dir, texts)
        print("retrieval:", results["retrieval"])
        results["scale"] = bench_scale(work)
        fresh = freshness_entry(version, serving)
        results["turns"] = bench_turns(index_dir, faq_dir, texts, fresh)
        results["processes"] = processes.measure()
        print("processes:", results["processes"])
        print("turns:", results["turns"])
        results["baseline_load"], results["baseline_freshness"] = bench_baseline_load(texts, work, fresh)
        print("baseline load:", results["baseline_load"])
        print("freshness: ours", results["turns"]["freshness"], "baseline", results["baseline_freshness"])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    clinc = ROOT / "eval" / "clinc150"
    if not args.skip_clinc:
        subprocess.run([sys.executable, str(ROOT / "scripts" / "clinc150.py")], check=True)
        subprocess.run([sys.executable, str(ROOT / "bench" / "baseline.py"),
                        "--corpus", str(clinc / "corpus.yml"),
                        "--out", str(ROOT / "bench" / "baseline-clinc150"),
                        "--epochs", str(CLINC_BASELINE_EPOCHS), "--eval", str(clinc / "test.csv"),
                        "--json-out", str(clinc / "baseline.json")], check=True)
    raw = ROOT / "bench" / "results.json"
    earlier = json.loads(raw.read_text()) if raw.exists() else {}
    for key, name in (("clinc150", "results.json"), ("baseline_clinc150", "baseline.json")):
        results[key] = json.loads((clinc / name).read_text()) if (clinc / name).exists() else {}
        if args.skip_clinc and not results[key] and earlier.get(key):
            results[key] = earlier[key]  # the CLINC150 figures of the last full run, marked as such
            results["clinc150_measured"] = earlier.get("clinc150_measured") or earlier["machine"]
    raw.write_text(json.dumps(results, indent=2) + "\n")
    write_report(results)
    print("wrote docs/benchmarks.md and bench/results.json")
    return 0


def served_clinc150() -> dict | None:
    """CLINC150 test figures of the served configuration, as `make quality` measured them."""
    from bench.quality import CLINC_TARGET, LEXICAL

    try:
        rows = json.loads((ROOT / "bench" / "quality.json").read_text())["clinc150"]["rows"]
        return {**rows[f"tuned + head + BM25 {LEXICAL}"], "target": CLINC_TARGET}
    except (OSError, ValueError, KeyError):
        return None


def write_report(r: dict) -> None:
    h, b, rt, t = r["heldout"], r["build"], r["retrieval"], r["turns"]
    lines = [
        "# Benchmarks", "",
        f"Measured by `make bench` (`bench/run.py`) on {r['machine']}. Raw figures: "
        "`bench/results.json`. These machines are noisy: compare figures from one run.", "",
        "## Answer quality: demo held-out queries (`eval/demo_heldout.csv`)", "",
        f"{h['n']} queries ({h['n_in_scope']} in scope, {h['n_out_of_scope']} out of scope), "
        "thresholds from `kb calibrate` on the corpus alone (never on these queries):", "",
        "| metric | value | goal |", "|---|---|---|",
        f"| answered precision | {h['answered_precision']:.3f} | ≥ 0.97 |",
        f"| coverage | {h['coverage']:.3f} | ≥ 0.85 |",
        f"| in-scope accuracy | {h['in_scope_accuracy']:.3f} | |",
        f"| out-of-scope recall | {h['oos_recall']:.3f} | |",
        f"| MCC | {h['mcc']:.3f} | |",
        f"| recall@1 / recall@3 / MRR | {h['recall_at_1']:.3f} / {h['recall_at_3']:.3f} / "
        f"{h['mrr']:.3f} | |",
        f"| clarify rate / clarify hit | {h['clarify_rate']:.3f} / {h['clarify_hit']:.3f} | |",
        "", f"Thresholds: `{json.dumps({k: v for k, v in h['thresholds'].items() if k != 'source'})}`.",
        "The index is what `make run` serves: built, then `kb tune` (the encoder adapted to the FAQ), "
        "with BM25 and answer-text evidence (defaults).",
        "Reproduce: `supportbot kb build && supportbot kb tune && supportbot kb eval --queries "
        "eval/demo_heldout.csv`.",
        "",
    ]
    if r.get("baseline_heldout"):
        base = r["baseline_heldout"]
        lines += [
            "### Against stock Rasa (retrieval intents + ResponseSelector), same queries", "",
            "The baseline is generated from the same `data/faq/` by `bench/baseline.py` (configuration "
            "documented there: same featurizers, DIET + ResponseSelector 100 epochs, an out_of_scope intent "
            "from our generic out-of-scope list, FallbackClassifier 0.5) and answers when Rasa predicts "
            "`faq`.", "",
            "| metric | ours | stock Rasa | ours / stock |", "|---|---|---|---|",
        ]
        for key, label in [("in_scope_accuracy", "in-scope accuracy"), ("oos_recall", "out-of-scope recall"),
                           ("answered_precision", "answered precision"), ("mcc", "MCC")]:
            ratio = f"{h[key] / base[key]:.2f}" if base[key] else "—"
            lines.append(f"| {label} | {h[key]:.3f} | {base[key]:.3f} | {ratio} |")
        lines.append("")
    if r.get("clinc150"):
        lines += [
            "## Answer quality: CLINC150 (full), test split", "",
            "Corpus from `train` (one entry per intent, 100 phrasings each), built by "
            "`scripts/clinc150.py` (`make clinc`): frozen all-MiniLM-L6-v2, nearest phrasing per "
            "entry, no other evidence (answers are placeholders); the last row of ours is the "
            "configuration `make run` serves (tuned encoder + head + BM25), from `make quality`. "
            "Thresholds from the corpus alone or from `val`; `test` only scored. Data: Larson et al. "
            "2019, CC BY 3.0."
            + (" The frozen rows are from an earlier full run (this one used `--skip-clinc`; nothing "
               "they measure changed)." if r.get("clinc150_measured") else ""), "",
            "| system / thresholds | in-scope accuracy | out-of-scope recall | answered precision"
            " | MCC |", "|---|---|---|---|---|",
        ]
        for name, m in r["clinc150"].items():
            mode, target = name.split("@")
            lines.append(f"| ours frozen, from {mode}, target precision {target} | "
                         f"{100 * m['in_scope_accuracy']:.1f} % | {100 * m['oos_recall']:.1f} % | "
                         f"{m['answered_precision']:.3f} | {m['mcc']:.3f} |")
        served = served_clinc150()
        if served:
            lines.append(f"| ours as served (tuned + head + BM25), from val, target precision "
                         f"{served['target']} | {100 * served['in_scope_accuracy']:.1f} % | "
                         f"{100 * served['oos_recall']:.1f} % | {served['answered_precision']:.3f} | "
                         f"{served['mcc']:.3f} |")
        base = r.get("baseline_clinc150")
        if base:
            lines.append(f"| stock Rasa, retrieval intents + ResponseSelector ({CLINC_BASELINE_EPOCHS} "
                         f"epochs), measured | {100 * base['in_scope_accuracy']:.1f} % | "
                         f"{100 * base['oos_recall']:.1f} % | {base['answered_precision']:.3f} | "
                         f"{base['mcc']:.3f} |")
        lines += ["| published BERT (threshold on val) | 96.2 % | 52.3 % | | |",
                  "| published MLP on USE | 93.4 % | 49.1 % | | |",
                  "| published Rasa (2019) | 90.9 % | 31.2 % | | |", "",
                  (f"As served, ours: {100 * served['in_scope_accuracy']:.1f} % in scope and "
                   f"{100 * served['oos_recall']:.1f} % out-of-scope recall against BERT's 96.2 / 52.3; "
                   if served else "") + "frozen embeddings alone stay well below BERT's in-scope "
                  "accuracy.", ""]
    lines += [
        "## Latency", "",
        "| what | p50 | p95 | target |", "|---|---|---|---|",
        f"| FAQ turn over REST through both servers ({t['turns']} sequential turns) | "
        f"{t['faq_turn_p50_ms']:.1f} ms | {t['faq_turn_p95_ms']:.1f} ms | p95 ≤ 100 ms |",
        f"| greeting turn, same run (no custom action) | {t['greeting_turn_p50_ms']:.1f} ms | "
        f"{t['greeting_turn_p95_ms']:.1f} ms | |",
        f"| retrieval alone (encode + search + decide) | {rt['retrieval_p50_ms']:.1f} ms | "
        f"{rt['retrieval_p95_ms']:.1f} ms | p95 ≤ 20 ms |", "",
        f"FAQ turn / greeting turn p95 ratio: {t['faq_turn_p95_ms'] / t['greeting_turn_p95_ms']:.2f}.", "",
    ]
    if t.get("load") and r.get("baseline_load"):
        lines += [
            "## Latency under load: ours vs stock Rasa, same run", "",
            "FAQ questions from the held-out set over REST, every message distinct (an opener and closer "
            "added to a held-out question), the same messages for both bots. Each customer is its own "
            "conversation. *As fast as possible*: the next message goes as soon as the reply came. *Paced*: "
            f"each customer sends a message every {PACED_PERIOD_S} s (a very fast typist), about "
            f"{PACED[0] / PACED_PERIOD_S:.0f} turns/s offered. Ours: Rasa + action server, SQL tracker "
            "store (SQLite). Stock Rasa: `rasa run` of the `bench/baseline.py` bot, in-memory tracker store, "
            "no custom action.", "",
            "| customers | load | system | turns | errors | p50 | p95 | p99 | turns/s | p95 ours/stock "
            "| turns/s ours/stock |", "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for ours, stock in zip(t["load"], r["baseline_load"]):
            how = f"paced {ours['period_s']} s" if ours.get("period_s") else "as fast as possible"
            for name, m in (("ours", ours), ("stock Rasa", stock)):
                ratios = (f"{ours['p95_ms'] / stock['p95_ms']:.2f} | "
                          f"{ours['turns_per_s'] / stock['turns_per_s']:.2f}" if name == "ours" else " | ")
                lines.append(f"| {m['customers']} | {how} | {name} | {m['turns']} | {m['errors']} "
                             f"| {m['p50_ms']:.0f} ms | {m['p95_ms']:.0f} ms | {m['p99_ms']:.0f} ms "
                             f"| {m['turns_per_s']} | {ratios} |")
        lines += ["", "Targets (issue 5): ours p95 at 1 customer no worse than stock; at 32 customers no "
                  "errors, ≥ 40 turns/s, p95 < 300 ms. With 32 customers sending as fast as possible, "
                  "latency is 32 / throughput by Little's law (40 turns/s means 800 ms on average), so "
                  "p95 < 300 ms needs > 107 turns/s from one machine; the paced rows are the ones "
                  "to hold against that target.", "",
                  "What a turn of ours does that stock Rasa's does not: a call to the action server (the "
                  "tracker sent as JSON, the reply validated), SQL persistence of every event (stock: in "
                  "memory, lost on restart), the hand-off relay and the customer feed. One Rasa process "
                  "serves all customers and saturates one core; the action server uses part of the "
                  "other.", "",
                  "Found by profiling the Rasa server under the paced load (py-spy) and fixed (issue 5): "
                  "DIETClassifier took ~20 % of its time, for small talk and routing only, now Rasa's "
                  "LogisticRegressionClassifier (3 ms per message instead of 9; see config.yml); each turn "
                  "re-read and re-parsed the whole conversation through the ORM (~15 %), now only rows newer "
                  "than the last read; the hand-off relay looked its hand-off up once per event and the "
                  "customer feed opened a write transaction per message (~9 %), now one read per turn; every "
                  "action call opened a new HTTP connection (~5 %), now one kept session; "
                  "MemoizationPolicy computed states for nothing (no stories, ~8 %), now dropped; the FAQ "
                  "action was sent the whole conversation (~400 bytes of JSON per event, growing every "
                  "turn), now the latest turn. One customer waited for the encoder: the channels' prefetch "
                  "was only scheduled, and Rasa's NLU and policies never yield to the event loop, so it "
                  "left with the action call; now the turn goes on once the prefetch is on the wire, and "
                  "a single message skips sentence-transformers' per-call set-up (~2 ms).", ""]
    if t.get("freshness") and r.get("baseline_freshness"):
        ours, stock = t["freshness"], r["baseline_freshness"]
        lines += [
            "## Freshness of an FAQ edit", "",
            "From saving one changed answer on disk to the running bot serving the new text (asked "
            "every 50 ms in new conversations), same entry for both bots.", "",
            "| system | how | publish | then served after | total |", "|---|---|---|---|---|",
            f"| ours | {ours['how']} | {ours['publish_s']:.1f} s | {ours['served_after_publish_s']:.1f} s "
            f"| {ours['total_s']:.1f} s |",
            f"| stock Rasa | {stock['how']} | {stock['publish_s']:.1f} s | "
            f"{stock['served_after_publish_s']:.1f} s | {stock['total_s']:.1f} s |", "",
            f"Ours is {stock['total_s'] / ours['total_s']:.0f}× faster (target ≥ 20×). `kb build` includes "
            "loading the model in a new process, re-encoding only the changed answer (embedding cache) "
            "and re-calibrating; the action server swaps the new version in within "
            "`SUPPORTBOT_RELOAD_INTERVAL` (1 s).", "",
        ]
    if r.get("scale"):
        lines += [
            "## Scale of the index", "",
            "Synthetic phrasings (two per entry) built with `kb build`'s code path (`bench/scale.py`, one "
            "process per size; memory is what loading the serving index adds to a process). Search is "
            "the serving call (`IndexVersion.search`: FAISS k=20, per-entry aggregation, BM25 over the "
            "entries), one thread.", "",
            "| phrasings | index | build | of which encoding | rebuild, all cached | search p50 | search p95 "
            "| resident memory |", "|---|---|---|---|---|---|---|---|",
        ]
        for m in r["scale"]:
            lines.append(f"| {m['phrasings']:,} | {m['index_type']} | {m['build_s']:.1f} s | "
                         f"{100 * m['encoding_share']:.1f} % | {m['rebuild_cached_s']:.2f} s | "
                         f"{m['search_p50_ms']:.2f} ms | {m['search_p95_ms']:.2f} ms | "
                         f"{m['resident_mb']:.0f} MB |")
        lines += ["", "Targets (issue 5): 100k phrasings search p95 < 5 ms, build bounded by encoding time.",
                  "",
                  f"Demo FAQ (89 entries) from scratch incl. calibration: {b['demo_build_s']:.1f} s.", ""]
    if r.get("processes"):
        mem = r["processes"]["resident_mb"]
        lines += [
            "## Resident memory of each process", "",
            "What a first `make run` leaves running (`bench/processes.py`: `supportbot run` on an empty "
            "index, so it builds and tunes first; VmRSS after 20 FAQ turns). Building and tuning run "
            "in a child process that exits, so the supervisor keeps none of it.", "",
            "| process | resident memory |", "|---|---|",
            *[f"| {name} | {mb:.0f} MB |" for name, mb in mem.items()],
            "", f"From start to the first answer: {r['processes']['first_run_ready_s']:.0f} s "
            "(build, tune, servers; the Rasa model was already trained).", "",
        ]
    report = ROOT / "docs" / "benchmarks.md"
    kept = re.finditer(r"<!-- (\w+):start -->.*?<!-- \1:end -->", report.read_text("utf-8"), re.S) \
        if report.exists() else ()  # bench/quality.py and bench/lexical.py own those sections
    report.write_text("\n".join(lines) + "".join(f"\n{k.group(0)}\n" for k in kept))


if __name__ == "__main__":
    sys.exit(main())
