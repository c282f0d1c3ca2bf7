"""Does the promised precision hold? Answer quality with in-domain out-of-scope questions (issue 18).

    make quality                                  # or: .venv/bin/python bench/real_traffic.py
    .venv/bin/python bench/real_traffic.py --quick  # smoke run, a few minutes: `kb build` only, no tuning,
                                                  # no full-data CLINC150; prints, writes nothing
    .venv/bin/python bench/real_traffic.py --only banking77-heldout --work /tmp/rt  # keep the files

Each protocol turns a public set into an FAQ and labelled queries (bench/splits.py), then runs the
commands an operator runs, through the product's own CLI (``bot.cli.main``) with the environment's
settings (target precision = SUPPORTBOT_TARGET_PRECISION, 0.95): ``supportbot kb build`` (which
calibrates on the corpus alone), ``supportbot kb tune`` (which rebuilds and calibrates again), then
``supportbot kb eval --json`` on each query set. ``--answer-weight 0`` where the answers are
placeholders. Test labels only score; nothing here chooses a threshold.

Each protocol runs in its own process (its wall time and peak resident memory are reported) on files
under one fresh work folder per run (a temporary one unless ``--work``), deleted at the end unless
``--work`` was given: built indexes and tuned models are reused within a run, never across runs.
A full run writes bench/real_traffic.json and the ``real-traffic`` section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from bench import splits  # noqa: E402

STORE = ROOT / "bench" / "real_traffic.json"
SECTION = "real-traffic"
GOAL_ERROR = 0.05  # issue 18: promised vs measured answered precision within 0.05
GOAL_OOS_RECALL = 0.6  # ...while out-of-scope recall on the held-out-intent splits reaches 0.6
WEIGHTS = ("answer_weight", "head_weight", "lexical_weight")


@dataclass(frozen=True)
class Protocol:
    name: str
    title: str
    split: Callable[[], splits.Split] | None  # None: the project's demo FAQ and eval/demo_heldout.csv
    sets: dict[str, str]  # query set -> what its out-of-scope queries are
    placeholder_answers: bool = True  # build with --answer-weight 0
    quick: bool = True  # part of --quick
    default: bool = True  # part of a run without --only (else: --all)
    source: str = ""  # data and licence, for the docs


PROTOCOLS = [
    Protocol("banking77-heldout", "Banking77, 50 intents as entries (10 utterances each), the other 27 "
             "held out", lambda: splits.banking77_held_out(50, 10),
             {"test": "test queries of the 27 held-out intents"},
             source="Banking77 (Casanueva et al. 2020, CC BY 4.0)"),
    Protocol("clinc150-heldout-10", "CLINC150, 1/3 of each domain's intents held out, the others as "
             "entries (10 utterances each)", lambda: splits.clinc150_held_out(10),
             {"test": "test queries of the 50 held-out intents", "oos_test": "CLINC150's own oos_test"},
             source="CLINC150 (Larson et al. 2019, CC BY 3.0; domains from clinc/oos-eval data/domains.json)"),
    Protocol("clinc150-heldout-full", "CLINC150, same split, entries with all 100 training utterances",
             lambda: splits.clinc150_held_out(None),
             {"test": "test queries of the 50 held-out intents", "oos_test": "CLINC150's own oos_test"},
             quick=False, default=False, source="CLINC150 (Larson et al. 2019, CC BY 3.0)"),
    *[Protocol(f"nlu-{key}", f"nlu-evaluation-corpora {name}: training split as entries, `None` out of scope",
               partial(splits.nlu_corpus, key), {"test": "`None` test sentences"},
               source="nlu-evaluation-corpora (Braun et al. 2017, CC BY-SA 3.0)")
      for key, name in splits.NLU_CORPORA.items()],
    Protocol("stackfaq-single", "StackFAQ, one question per entry (the `question` field; first answer as "
             "answer), `rephr` as queries", splits.stackfaq, {"test": "none (every query has an entry)"},
             placeholder_answers=False, source="StackFAQ (Karan & Šnajder 2018, see its LICENSE)"),
    Protocol("demo", "demo FAQ (data/faq), eval/demo_heldout.csv", None,
             {"test": "the file's out-of-scope rows"}, placeholder_answers=False),
]
BY_NAME = {p.name: p for p in PROTOCOLS}


# Pure parts (unit-tested) ------------------------------------------------------------------------

def calibration_error(promised: float, measured: float | None) -> float | None:
    """|promised - measured| answered precision (None when nothing was answered)."""
    return None if measured is None else round(abs(promised - measured), 4)


def row(report: dict, promised: float) -> dict:
    """The figures a protocol's table row shows, from a ``kb eval --json`` report."""
    return {"promised": promised,
            "answered_precision": report["answered_precision"],
            "calibration_error": calibration_error(promised, report["answered_precision"]),
            "coverage": report["coverage"],
            "in_scope_accuracy": report["in_scope_accuracy"],
            "oos_recall": report["oos_recall"],
            "mrr": report["mrr"], "recall_at_1": report["recall_at_1"],
            "n": report["n"], "n_in_scope": report["n_in_scope"], "n_out_of_scope": report["n_out_of_scope"]}


def error_line(stderr: str) -> str | None:
    """The ``error: ...`` a failed supportbot command printed, with its continuation lines."""
    lines = stderr.splitlines()
    for n, line in enumerate(lines):
        if line.startswith("error: "):
            return "; ".join(x.strip() for x in [line[len("error: "):], *lines[n + 1:]] if x.strip())
    return None


def command(argv: list[str], work: Path) -> str:
    """The command as an operator types it, with the work folder written ``$WORK``."""
    text = " ".join(shlex.quote(a) for a in argv).replace(str(work), "$WORK")
    return "supportbot " + text.replace(str(ROOT) + "/", "")


# One protocol, in its own process ------------------------------------------------------------------

def supportbot(argv: list[str], settings) -> dict:
    """Run one ``supportbot`` command in this process, as the CLI would; its output captured."""
    from bot.cli import main

    out, err = io.StringIO(), io.StringIO()
    started = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(argv, settings)
    return {"rc": rc, "seconds": round(time.perf_counter() - started, 1), "stdout": out.getvalue(),
            "stderr": err.getvalue(), "error": error_line(err.getvalue()) if rc else None}


def run_protocol(protocol: Protocol, work: Path, tune: bool = True) -> dict:
    from bot.kb.index import current_path, serving_name
    from bot.settings import Settings

    folder = work / protocol.name
    index = folder / "kb_index"
    settings = Settings.from_env()
    if protocol.split is None:
        files = {"corpus": ROOT / "data" / "faq", "test": ROOT / "eval" / "demo_heldout.csv"}
        settings = replace(settings, root=ROOT, index_dir=index)  # the project's out-of-scope file
        meta: dict = {}
    else:
        split = protocol.split()
        files = split.write(folder)
        settings = replace(settings, root=folder, corpus=files["corpus"], index_dir=index,
                           out_of_scope=folder / "out_of_scope.yml")  # none: corpus-only calibration
        meta = {"entries": len(split.entries), "phrasings": sum(map(len, split.entries.values())),
                "held_out_intents": len(split.held_out)}
    weights = ["--answer-weight", "0"] if protocol.placeholder_answers else []
    paths = ["--corpus", str(files["corpus"]), "--index", str(index)]
    steps = [["kb", "build", *paths, *weights]] + ([["kb", "tune", *paths, *weights]] if tune else [])
    out: dict = {**meta, "target_precision": settings.target_precision, "steps": [], "sets": {}}
    for argv in steps:
        result = supportbot(argv, settings)
        out["steps"].append({"command": command(argv, work), "rc": result["rc"], "seconds": result["seconds"],
                             "error": result["error"]})
    if serving_name(index) is None:
        out["failure"] = next((s["error"] for s in out["steps"] if s["error"]), "no index was built")
        return out
    served = current_path(index)
    manifest = json.loads((served / "manifest.json").read_text("utf-8"))
    out["served"] = {"model": manifest.get("model"), **{k: manifest.get(k) for k in WEIGHTS}}
    calibration = served / "calibration.json"
    out["calibration"] = json.loads(calibration.read_text("utf-8")) if calibration.is_file() else None
    for name in protocol.sets:
        argv = ["kb", "eval", "--index", str(index), "--queries", str(files[name]), "--json"]
        result = supportbot(argv, settings)
        if result["rc"]:
            out["sets"][name] = {"command": command(argv, work), "error": result["error"]}
            continue
        report = json.loads(result["stdout"])
        out["sets"][name] = {"command": command(argv, work), "seconds": result["seconds"],
                             "thresholds": report["thresholds"], **row(report, settings.target_precision)}
    return out


def child(name: str, work: Path, out: Path, tune: bool) -> int:
    started = time.perf_counter()
    result = run_protocol(BY_NAME[name], work, tune)
    result["seconds"] = round(time.perf_counter() - started, 1)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["peak_rss_mb"] = round(usage.ru_maxrss / 1024)
    result["cpu_seconds"] = round(usage.ru_utime + usage.ru_stime, 1)
    result["load_average"] = [round(x, 1) for x in os.getloadavg()]  # the machine is shared: context
    out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


def run_in_process(name: str, work: Path, tune: bool) -> dict:
    """``name`` in a fresh interpreter: its own time and peak memory."""
    out = work / f"{name}.result.json"
    argv = [sys.executable, str(Path(__file__).resolve()), "--child", name, "--work", str(work),
            "--out", str(out)]
    started = time.perf_counter()
    done = subprocess.run(argv + ([] if tune else ["--no-tune"]), cwd=ROOT)
    if done.returncode or not out.is_file():
        return {"failure": f"the harness's child process failed (exit {done.returncode}); see its output above",
                "wall_seconds": round(time.perf_counter() - started, 1), "steps": [], "sets": {}}
    result = json.loads(out.read_text())
    result["wall_seconds"] = round(time.perf_counter() - started, 1)
    return result


# Report ----------------------------------------------------------------------------------------------

def fmt(value, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def cost_cells(r: dict) -> tuple[str, str]:
    """Wall time (and CPU time) of a protocol's process, and its peak memory."""
    cpu = f" ({r['cpu_seconds']:.0f} s CPU)" if "cpu_seconds" in r else ""
    return f"{r.get('wall_seconds', 0):.0f} s{cpu}", f"{r.get('peak_rss_mb', '–')} MB"


def table(results: dict) -> list[str]:
    lines = ["| protocol | out of scope | promised | answered precision | calibration error | coverage | "
             "in-scope acc. | OOS recall | MRR | recall@1 | queries (in / out) | time | peak memory |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for p in PROTOCOLS:
        r = results.get(p.name)
        if r is None:
            continue
        cost = cost_cells(r)
        if r.get("failure"):
            lines.append(f"| {p.name} | | {fmt(r.get('target_precision'), 2)} | **fails**: {r['failure']} "
                         f"| | | | | | | | {cost[0]} | {cost[1]} |")
            continue
        for name, label in p.sets.items():
            s = r["sets"].get(name, {})
            if "error" in s:
                lines.append(f"| {p.name} | {label} | | **eval fails**: {s['error']} | | | | | | | | | |")
                continue
            lines.append(
                f"| {p.name} | {label} | {fmt(s['promised'], 2)} | {fmt(s['answered_precision'])} | "
                f"{fmt(s['calibration_error'])} | {fmt(s['coverage'])} | {fmt(s['in_scope_accuracy'])} | "
                f"{fmt(s['oos_recall'])} | {fmt(s['mrr'])} | {fmt(s['recall_at_1'])} | "
                f"{s['n']} ({s['n_in_scope']} / {s['n_out_of_scope']}) | {cost[0]} | {cost[1]} |")
            cost = ("", "")  # once per protocol
    return lines


def section(results: dict) -> str:
    lines = [f"<!-- {SECTION}:start -->",
             "## Answer quality with in-domain out-of-scope questions: does the promise hold? (issue 18)", "",
             "Measured by `make quality` (`bench/real_traffic.py`; raw figures `bench/real_traffic.json`). "
             "Each protocol builds its FAQ exactly as an operator would, with the default settings: "
             "`supportbot kb build` (calibrated on the corpus alone), `supportbot kb tune` (rebuilt and "
             "calibrated again), `--answer-weight 0` where answers are placeholders, then `supportbot kb "
             "eval --json`; test labels only score. **promised** = the target precision calibration aims "
             "at (`SUPPORTBOT_TARGET_PRECISION`); **calibration error** = |promised − measured answered "
             f"precision| (goal ≤ {GOAL_ERROR}, with OOS recall ≥ {GOAL_OOS_RECALL} on the held-out-intent "
             "splits). MRR and recall@1 rank the right entry among all (whatever the decision), over "
             "in-scope queries. Time = the protocol's wall time (build, tune, eval) and, in brackets, its "
             "process's CPU time, on 2 cores shared with other work (load averages in "
             "`bench/real_traffic.json`); peak memory = that process's peak RSS.", "", *table(results), ""]
    missing = [p.name for p in PROTOCOLS if p.name not in results]
    if missing:
        lines += [f"Not measured in this run: {', '.join(missing)} (`--only` them, or `--all`).", ""]
    lines += ["Protocols (`bench/splits.py`; random choices seeded 7):", ""]
    for p in PROTOCOLS:
        r = results.get(p.name)
        if r is None:
            continue
        size = (f" {r['entries']} entries, {r['phrasings']} phrasings." if "entries" in r else "")
        served = r.get("served")
        if served:
            size += (f" Served by {served['model']} with answer / head / BM25 weights "
                     f"{served['answer_weight']:g} / {served['head_weight']:g} / {served['lexical_weight']:g}.")
        cal = r.get("calibration") or {}
        believed = (f" Calibration believed precision {cal['estimated_precision']} "
                    f"({'target reached' if cal.get('target_reached') else 'target not reached'}; "
                    f"{cal['samples_in_scope']} in-scope / {cal['samples_out_of_scope']} out-of-scope samples; "
                    f"thresholds {json.dumps({k: v for k, v in cal['thresholds'].items() if k != 'source'})})."
                    if cal else "")
        failed = "".join(f" `{s['command'].split(' --')[0]}` failed: {s['error']}." for s in r["steps"]
                         if s.get("error") and not r.get("failure"))
        if failed:
            failed += " The figures are of the index the commands before it built."
        lines.append(f"- **{p.name}**: {p.title}.{size}{believed}{failed} {p.source}".rstrip())
        cmds = [s["command"] for s in r["steps"]] + [s["command"] for s in r["sets"].values()]
        lines.append("  Commands: " + "; ".join(f"`{c}`" for c in cmds) + ".")
    lines += ["", "Reproduce: `.venv/bin/python bench/real_traffic.py --only <protocol> --work $WORK` writes "
              "each protocol's corpus and query files under `$WORK/<protocol>/` and runs the commands above; "
              "`--quick` is a smoke run (build only, no tuning).", f"<!-- {SECTION}:end -->"]
    return "\n".join(lines)


def summary(results: dict) -> str:
    out = []
    for p in PROTOCOLS:
        r = results.get(p.name)
        if r is None:
            continue
        if r.get("failure"):
            out.append(f"{p.name:22s} FAILS: {r['failure']}")
        for name, s in r.get("sets", {}).items():
            if "error" in s:
                out.append(f"{p.name:22s} {name:8s} eval fails: {s['error']}")
                continue
            out.append(f"{p.name:22s} {name:8s} precision {fmt(s['answered_precision'])} (promised "
                       f"{s['promised']}, error {fmt(s['calibration_error'])})  coverage {fmt(s['coverage'])}"
                       f"  in-scope {fmt(s['in_scope_accuracy'])}  oos {fmt(s['oos_recall'])}  mrr "
                       f"{fmt(s['mrr'])}  r@1 {fmt(s['recall_at_1'])}  n {s['n']}")
        out.append(f"{'':22s} " + ", peak ".join(cost_cells(r)) + f", load average {r.get('load_average')}")
    return "\n".join(out)


def work_folder(given: Path | None) -> Path:
    if given is None:
        return Path(tempfile.mkdtemp(prefix="real-traffic-"))
    if given.exists() and any(given.iterdir()):
        raise SystemExit(f"error: {given} is not empty; give a new folder (nothing is reused across runs)")
    given.mkdir(parents=True, exist_ok=True)
    return given


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smoke run: build only, no tuning, no full-data "
                   "CLINC150; prints the figures, writes nothing")
    p.add_argument("--only", help=f"comma-separated protocols of {','.join(BY_NAME)}")
    p.add_argument("--all", action="store_true", help="also the protocols a default run leaves out "
                   f"({', '.join(q.name for q in PROTOCOLS if not q.default)}: longer)")
    p.add_argument("--work", type=Path, help="a new folder for the run's files (kept); default: a temporary "
                   "folder deleted at the end")
    p.add_argument("--report", action="store_true", help=f"only rewrite the docs section from {STORE.name}")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--no-tune", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return child(args.child, args.work, args.out, tune=not args.no_tune)
    if args.report:
        return write_report(json.loads(STORE.read_text()))
    names = [n.strip() for n in args.only.split(",")] if args.only else \
        [q.name for q in PROTOCOLS if (q.quick or not args.quick) and (q.default or args.all)]
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        print(f"error: unknown protocol(s) {unknown}; choose from {', '.join(BY_NAME)}", file=sys.stderr)
        return 2
    if not splits.DATASETS.is_dir():
        print(f"error: public datasets not found at {splits.DATASETS}; set SUPPORTBOT_DATASETS",
              file=sys.stderr)
        return 1
    work = work_folder(args.work)
    results = {} if args.quick or not STORE.exists() else json.loads(STORE.read_text())
    try:
        for name in names:
            print(f"== {name}", flush=True)
            results[name] = run_in_process(name, work, tune=not args.quick)
            print(summary({name: results[name]}), flush=True)
            if not args.quick:
                STORE.write_text(json.dumps(results, indent=2) + "\n")
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    if args.quick:
        print("\n".join(table(results)))
        return 0
    return write_report(results)


def write_report(results: dict) -> int:
    from bench.quality import write_section

    write_section(section(results), SECTION)
    print(f"wrote {STORE.relative_to(ROOT)} and the {SECTION} section of docs/benchmarks.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
