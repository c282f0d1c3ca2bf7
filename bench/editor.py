"""Publish-to-served time of the FAQ editor, next to the stock-Rasa way of changing an FAQ.

    python bench/editor.py [--rounds 10] [--port 25205] [--stock-retrains 2]

Ours: the bot as ``supportbot run`` starts it (``Servers``: action server, worker, editor, Rasa)
on its own ports, serving a copy of ``data/faq`` and of its tuned index. An editor account logs in
to the editor's JSON API; then ``--rounds`` rounds of each, alternating:

- *answer edit*: one entry's answer gets a new marker; from the moment the publish POST is sent,
  a new customer asks the entry's question over REST (a new conversation each time, every
  ``POLL_S`` after the previous reply) until a reply carries the marker;
- *new alternate*: a held-out question the bot today misses or answers with another entry
  (``eval/demo_heldout.csv``) is added as an alternate of its entry (first checked with the
  editor's own "try it": the draft must answer it with that entry), and a new customer asks
  exactly it until the reply is that entry's answer.

For each round: the publish request, the builder's own seconds (status ``build.seconds``: from
the build's start until the action server was told), when ``CURRENT`` switched (its mtime), when
the action server had loaded the version (its log) and when calibration was done.

Stock Rasa: the FAQ as retrieval intents and responses (``bench/baseline.py``: ``faq/<id>``
intents, a ResponseSelector; Rasa's default pipeline as its docs configure FAQs), trained once
(cached in ``bench/baseline-bot``), served by ``rasa run --enable-api``; then, in a copy with
Rasa's training cache: one changed response, ``rasa train``, ``PUT /model``, until a new customer
gets the new text; and (with ``--stock-retrains 2``) one added example the same way.

Peak resident memory (VmHWM) of every server. Prints the figures, writes ``bench/editor.json`` and
the ``<!-- editor:start -->`` section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

import httpx
import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench.compare import write_section  # noqa: E402
from bench.run import as_customer, freshness_entry, machine  # noqa: E402
from bot.apps.supervisor import Servers, ensure_index, wait_for  # noqa: E402
from bot.apps.training import rasa_bin, train_if_needed  # noqa: E402
from bot.kb.decision import ANSWER, decide  # noqa: E402
from bot.kb.encoder import load_encoder  # noqa: E402
from bot.kb.evaluate import read_queries  # noqa: E402
from bot.kb.index import IndexVersion, current_path  # noqa: E402
from bot.kb.models import version_encoder  # noqa: E402
from bot.settings import Settings  # noqa: E402

POLL_S = 0.02  # pause between one customer's reply and the next customer's question
SERVED_TIMEOUT_S = 30.0
TARGETS = {"edit": 1.0, "alternate": 3.0}  # issue 17: seconds from clicking publish to served
PASSWORD = secrets.token_urlsafe(16)
TITLE = "Publishing an FAQ edit: the editor against a stock-Rasa retrain"
PREPARED = ROOT / "bench" / "work" / "editor"  # the tuned index, kept between runs (not committed)
LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) ")


def peak_mb(pid: int) -> float | None:
    """The process's peak resident memory (VmHWM), None once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


@dataclass
class Poll:
    served_s: float  # from the publish POST being sent until the reply with the new text arrived
    sent_s: float  # ... until that customer's question was sent
    polls: int


def poll_served(url: str, question: str, served: Callable[[list[dict]], bool], t0: float,
                timeout: float = SERVED_TIMEOUT_S) -> Poll:
    """Ask ``question`` as a new customer each time until ``served(replies)``."""
    polls = 0
    with httpx.Client(timeout=30) as client:
        while time.perf_counter() - t0 < timeout:
            sender = f"bench-editor-{time.time_ns()}"
            sent = time.perf_counter()
            polls += 1
            try:
                r = client.post(url, json={"sender": sender, "message": question}, headers=as_customer(sender))
                replies = r.json() if r.status_code == 200 else []
            except (httpx.HTTPError, ValueError):
                replies = []
            if served(replies):
                return Poll(time.perf_counter() - t0, sent - t0, polls)
            time.sleep(POLL_S)
    raise RuntimeError(f"{question!r}: not served within {timeout:.0f} s of publishing")


def texts_of(replies: list[dict]) -> str:
    return "\n".join(m.get("text") or "" for m in replies)


class Editor:
    """The editor's JSON API, logged in as an editor."""

    def __init__(self, servers: Servers):
        from bot.db import engine
        from bot.staff.accounts import StaffStore
        from bot.staff.passwords import hash_password

        s = servers.settings
        StaffStore(engine(s.handoff_db_url)).add_agent("bench-editor", hash_password(PASSWORD), "editor")
        self.client = httpx.Client(base_url=f"http://{s.host}:{s.editor_port}/editor/api", timeout=60)
        r = self.client.post("/login", json={"name": "bench-editor", "password": PASSWORD})
        r.raise_for_status()
        self.client.headers["X-CSRF-Token"] = r.json()["csrf"]

    def entry(self, entry_id: str) -> dict:
        entries = self.client.get("/entries").json()["entries"]
        return next(e for e in entries if e["id"] == entry_id)

    def status(self) -> dict:
        return self.client.get("/status").json()["latest"]

    def wait_calibrated(self, timeout: float = 120) -> tuple[dict, float]:
        """The latest version once its build is done (serving, calibrated), and when (perf_counter)."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            latest = self.status()
            if latest["build"]["state"] in ("serving", "failed"):
                return latest, time.perf_counter()
            time.sleep(0.05)
        raise RuntimeError(f"no build finished within {timeout:.0f} s: {latest}")

    def try_alternate(self, e: dict, question: str) -> dict:
        r = self.client.post("/try", json={"question": question, "changes": [self.saved(e, alternates=[
            *e["alternates"], question])]})
        r.raise_for_status()
        return r.json()

    @staticmethod
    def saved(e: dict, **fields: Any) -> dict:
        return {"op": "save", "id": e["id"], "base": e["revision"], "entry": {**e, **fields}}


def action_reloads(log: Path, name: str) -> list[float]:
    """When the action server's log says it loaded index version ``name`` (epoch seconds)."""
    out = []
    for line in log.read_text("utf-8", "replace").splitlines():
        m = LOG_TIME.match(line)
        if m and f"FAQ index {name} loaded" in line:
            stamp = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S").timestamp()
            out.append(stamp + int(m.group(2)) / 1000)
    return out


def publish_round(kind: str, editor: Editor, servers: Servers, change: dict, question: str,
                  served: Callable[[list[dict]], bool], message: str) -> dict:
    index = servers.settings.index_path
    wall0, t0 = time.time(), time.perf_counter()
    r = editor.client.post("/publish", json={"changes": [change], "message": message})
    request_s = time.perf_counter() - t0
    if r.status_code != 202:
        raise RuntimeError(f"publish answered {r.status_code}: {r.text}")
    poll = poll_served(servers.rest_url, question, served, t0)
    latest, calibrated = editor.wait_calibrated()
    build = latest["build"]
    if build["state"] != "serving":
        raise RuntimeError(f"the build failed: {build}")
    name = build["index_version"]
    switched_s = (index / "CURRENT").stat().st_mtime - wall0
    manifest = json.loads((index / "versions" / name / "manifest.json").read_text())
    reloads = action_reloads(servers.log_path("actions"), name)
    reloaded_s = reloads[0] - wall0 if reloads else None
    out = {"kind": kind, "served_s": poll.served_s, "asked_s": poll.sent_s, "polls": poll.polls,
           "request_s": request_s, "builder_s": build["seconds"], "switched_s": switched_s,
           "reloaded_s": reloaded_s, "calibrated_s": calibrated - t0,
           "index_build_s": manifest["build_seconds"], "encoded": manifest["encoded"]}
    # the builder's clock starts when it picks the version up: reload done minus its seconds
    if reloaded_s is not None and build["seconds"] is not None:
        out["build_started_s"] = reloaded_s - build["seconds"]
    print(kind, json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in out.items()}), flush=True)
    return out


def alternate_candidates(index_dir: Path, skip: str) -> list[tuple[str, str]]:
    """Held-out questions (question, expected entry) that the index today misses or answers with
    another entry."""
    version = IndexVersion(current_path(index_dir))
    encoder = version_encoder(version, load_encoder())
    phrasings = {t.lower() for t in version.texts}
    out = []
    for q in read_queries(ROOT / "eval" / "demo_heldout.csv", set(version.by_id)):
        if not q.expected or q.expected == skip or q.text.lower() in phrasings:
            continue
        hits = version.search(encoder.encode([q.text]), 20, [q.text])[0]
        d = decide(hits, version.thresholds, version.overrides)
        if not (d.kind == ANSWER and d.entry_id == q.expected):
            out.append((q.text, q.expected))
    return out


def bench_ours(work: Path, rounds: int, port: int) -> dict:
    index_dir = work / "kb_index"
    version = IndexVersion(current_path(index_dir))
    fresh = freshness_entry(version, version_encoder(version, load_encoder()))
    candidates = alternate_candidates(index_dir, fresh.id)
    print(f"answer edits of {fresh.id!r}; {len(candidates)} held-out questions to add as alternates",
          flush=True)
    settings = Settings(root=ROOT, corpus=work / "faq", index_dir=index_dir,
                        out_of_scope=work / "out_of_scope.yml",
                        tracker_db=str(work / "tracker.db"), handoff_db=str(work / "handoff.db"),
                        rasa_port=port, action_port=port + 50, editor_port=port + 52,
                        messages_per_minute=10**9)  # synthetic customers ask faster than people
    train_if_needed(settings)
    results: list[dict] = []
    skipped: list[dict] = []
    with Servers(settings, log_dir=work / "logs") as servers:
        editor = Editor(servers)
        original = editor.entry(fresh.id)["answer"]
        for text in ("hello", fresh.question, fresh.question):  # warm up
            poll_served(servers.rest_url, text, bool, time.perf_counter())

        def edit(n: int, record: bool = True) -> None:
            e = editor.entry(fresh.id)
            marker = f"(edit {n}-{time.time_ns()})"
            poll_served(servers.rest_url, fresh.question, lambda rs: e["answer"][:40] in texts_of(rs),
                        time.perf_counter())  # it serves the answer before this edit
            change = editor.saved(e, answer=f"{original.rstrip()} {marker}")
            result = publish_round("edit", editor, servers, change, fresh.question,
                                   lambda rs: marker in texts_of(rs), f"bench: answer edit {n}")
            if record:
                results.append(result)

        def alternate() -> None:
            while candidates:
                question, entry_id = candidates.pop(0)
                e = editor.entry(entry_id)
                tried = editor.try_alternate(e, question)
                live, draft = tried["live"], tried["draft"]
                if live["decision"] == ANSWER and live["entry_id"] == entry_id:
                    continue  # an earlier round's alternate made it answered already
                if not (draft["decision"] == ANSWER and draft["entry_id"] == entry_id):
                    skipped.append({"question": question, "entry": entry_id, "draft": draft["decision"],
                                    "draft_entry": draft["entry_id"]})
                    continue
                editor.wait_calibrated()  # trying builds a draft: let the machine settle
                time.sleep(0.5)
                answer = e["answer"].strip()[:40]
                results.append(publish_round(
                    "alternate", editor, servers, editor.saved(e, alternates=[*e["alternates"], question]),
                    question, lambda rs, answer=answer: answer in texts_of(rs),
                    f"bench: alternate for {entry_id}"))
                results[-1].update(question=question, entry=entry_id, live_before=live["decision"])
                return
            raise RuntimeError("no held-out question left to add as an alternate; fewer --rounds")

        edit(0, record=False)  # the first publish after start, not counted
        editor.wait_calibrated()
        for n in range(1, rounds + 1):
            for kind in ("edit", "alternate"):
                editor.wait_calibrated()
                time.sleep(0.5)  # calibration done: the machine is quiet again
                edit(n) if kind == "edit" else alternate()
        editor.wait_calibrated()
        peaks = {name: peak_mb(proc.pid) for name, proc in servers.procs.items()}
    return {"entry": fresh.id, "published": results, "skipped": skipped, "peak_mb": peaks}


def rasa_train(project: Path, name: str, log: Path) -> dict:
    """``rasa train`` in ``project`` (its cache as a developer's machine has it); seconds, peak
    memory, and which components were trained and which came from the cache."""
    started = time.perf_counter()
    with open(log, "wb") as out:
        proc = subprocess.Popen([rasa_bin(), "train", "--fixed-model-name", name, "--out", "models"],
                                cwd=project, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if proc.returncode:
        raise RuntimeError(f"rasa train failed ({proc.returncode}); see {log}")
    text = log.read_text("utf-8", "replace")
    return {"train_s": seconds, "train_peak_mb": usage.ru_maxrss / 1024,
            "trained": sorted(set(re.findall(r"Starting to train component '(\w+)'", text))),
            "cached": sorted(set(re.findall(r"Restored component '(\w+)' from cache", text)))}


def bench_stock(work: Path, port: int, retrains: int, fresh_id: str, alternate: tuple[str, str] | None) -> dict:
    subprocess.run([sys.executable, str(ROOT / "bench" / "baseline.py")], check=True, stdout=subprocess.DEVNULL)
    project = work / "stock"
    shutil.copytree(ROOT / "bench" / "baseline-bot", project, symlinks=True)  # with Rasa's training cache
    url = f"http://127.0.0.1:{port}"
    rest = f"{url}/webhooks/rest/webhook"
    out: dict[str, Any] = {"changes": []}
    with open(work / "stock-rasa.log", "wb") as log:
        proc = subprocess.Popen([rasa_bin(), "run", "--model", "models/baseline.tar.gz", "--interface",
                                 "127.0.0.1", "--port", str(port), "--enable-api"], cwd=project, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_for(url + "/", 300, proc)
            domain_file, nlu_file = project / "domain.yml", project / "data" / "nlu.yml"
            key = f"utter_faq/{fresh_id}"
            question = next(e.question for e in _corpus_entries() if e.id == fresh_id)
            poll_served(rest, question, lambda rs: bool(rs), time.perf_counter(), 60)  # warm up

            def change(kind: str, edit: Callable[[], None], ask: str, served: Callable[[list[dict]], bool],
                       n: int) -> None:
                t0 = time.perf_counter()
                edit()
                trained = rasa_train(project, f"edited{n}", work / f"stock-train-{n}.log")
                loading = time.perf_counter()
                httpx.put(f"{url}/model", json={"model_file": str(project / "models" / f"edited{n}.tar.gz")},
                          timeout=600).raise_for_status()
                loaded = time.perf_counter()
                try:
                    poll = poll_served(rest, ask, served, t0, timeout=loaded - t0 + 10)
                    served_s: float | None = poll.served_s
                except RuntimeError:
                    served_s = None  # the retrained model does not answer it with that entry
                out["changes"].append({"kind": kind, **trained, "load_s": loaded - loading,
                                       "served_s": served_s, "total_s": loaded - t0})
                print("stock Rasa", json.dumps(out["changes"][-1]), flush=True)

            marker = f"(edited {time.time_ns()})"

            def edit_response() -> None:
                domain = yaml.safe_load(domain_file.read_text())
                response = domain["responses"][key][0]
                response["text"] = response["text"].rstrip() + f" {marker}"
                domain_file.write_text(yaml.safe_dump(domain, allow_unicode=True, sort_keys=False))

            change("edit", edit_response, question, lambda rs: marker in texts_of(rs), 1)
            if retrains > 1 and alternate is not None:
                text, entry_id = alternate
                answer = next(e.answer for e in _corpus_entries() if e.id == entry_id).strip()[:40]

                def add_example() -> None:
                    nlu = yaml.safe_load(nlu_file.read_text())
                    block = next(b for b in nlu["nlu"] if b["intent"] == f"faq/{entry_id}")
                    block["examples"] = block["examples"].rstrip("\n") + f"\n- {text}\n"
                    nlu_file.write_text(yaml.safe_dump(nlu, allow_unicode=True, sort_keys=False, width=1000))

                change("alternate", add_example, text, lambda rs: answer in texts_of(rs), 2)
            out["server_peak_mb"] = peak_mb(proc.pid)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=60)
    return out


def _corpus_entries():
    from bot.kb.corpus import load_corpus

    return load_corpus(ROOT / "data" / "faq").entries


def figures(values: list[float]) -> dict:
    a = np.asarray(values)
    return {"p50": float(np.percentile(a, 50)), "p90": float(np.percentile(a, 90)), "max": float(a.max()),
            "n": len(values)}


def summary(rounds: list[dict]) -> dict:
    out: dict[str, dict] = {}
    for kind in ("edit", "alternate"):
        rows = [r for r in rounds if r["kind"] == kind]
        if not rows:
            continue
        out[kind] = {key: figures([r[key] for r in rows if r.get(key) is not None])
                     for key in ("served_s", "asked_s", "request_s", "build_started_s", "switched_s",
                                 "reloaded_s", "builder_s", "calibrated_s", "index_build_s")
                     if any(r.get(key) is not None for r in rows)}
        out[kind]["polls"] = figures([r["polls"] for r in rows])
    return out


def report(r: dict) -> list[str]:
    s, stock, r_rounds = r["summary"], r.get("stock") or {}, r.get("published", [])
    ms = lambda v: f"{v * 1000:.0f} ms" if v < 10 else f"{v:.1f} s"  # noqa: E731
    lines = [
        f"Measured by `python bench/editor.py --rounds {r['rounds']}` (`make bench`) on {r['machine']}, "
        f"{r['date']}; load average (1/5/15 min) {r['load_start']} at the start, {r['load_ours']} after ours, "
        f"{r.get('load_end', '—')} at the end (the machine is shared: other work runs alongside).", "",
        "Ours: the bot as `supportbot run` starts it, the editor's JSON API as its page calls it. From the "
        "publish POST being sent until a new customer's REST question (a new conversation every "
        f"{POLL_S * 1000:.0f} ms after the previous reply) got the new text; {r['rounds']} rounds of each, "
        "alternating, each after the previous build was calibrated. An answer edit changes one entry's "
        "answer; a new alternate adds a held-out question the bot missed or answered with another entry "
        "(`eval/demo_heldout.csv`, checked first with the editor's \"try it\") to its entry.", "",
        "| change | served p50 | p90 | max | target | publish request p50 | build started p50 | "
        "CURRENT switched p50 | action server loaded p50 | builder's seconds p50 | calibrated p50 |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for kind, label in (("edit", "answer edit"), ("alternate", "new alternate")):
        if kind not in s:
            continue
        f = s[kind]
        cell = lambda key, q="p50", f=f: ms(f[key][q]) if key in f else "—"  # noqa: E731
        lines.append(f"| {label} | {cell('served_s')} | {cell('served_s', 'p90')} | {cell('served_s', 'max')} "
                     f"| ≤ {TARGETS[kind]:.0f} s | {cell('request_s')} | {cell('build_started_s')} | "
                     f"{cell('switched_s')} | {cell('reloaded_s')} | {cell('builder_s')} | "
                     f"{cell('calibrated_s')} |")
    gaps = [r["served_s"] - r["reloaded_s"] for r in r_rounds if r.get("reloaded_s") is not None]
    lines += ["", "All columns are seconds after the publish POST was sent, but *builder's seconds*: the "
              "builder's own figure (status `build.seconds`, from picking the version up until the action "
              "server answered `POST /reload`). *Build started* is the action server's load time minus "
              "that; *CURRENT switched* the pointer file's mtime; *action server loaded* its log line. The "
              "version is served with the thresholds of the one it replaces; *calibrated* is when its own "
              "were in (the status said `serving`). A new alternate was encoded by the editor's \"try it\" "
              "before it was published (the embedding cache is shared), as in an editor's workflow."]
    if gaps:
        worst = max((x for x in r_rounds if x.get("reloaded_s") is not None),
                    key=lambda x: x["served_s"] - x["reloaded_s"])
        lines += ["", "From the action server's load to a customer's reply with the change: median "
                  f"{ms(float(np.median(gaps)))}, at most {ms(max(gaps))} (that customer's turn took "
                  f"{ms(worst['served_s'] - worst['asked_s'])})."]
    if stock.get("changes"):
        lines += ["", "Stock Rasa, same run, same machine: the FAQ as retrieval intents and responses "
                  "(`bench/baseline.py`, Rasa's default NLU pipeline with the ResponseSelector for `faq`, as "
                  "Rasa's docs configure FAQs), served by `rasa run --enable-api`; the change made in a copy "
                  "of the trained project with Rasa's training cache (as on a developer's machine), then "
                  "`rasa train`, then `PUT /model`, until a new customer got the change. One retrain per "
                  f"kind of change ({len(stock['changes'])} in all): each takes minutes.", "",
                  "| change | system | publish to served | of which training | model load | trained / from "
                  "cache | peak memory | stock / ours (p50) |", "|---|---|---|---|---|---|---|---|"]
        for c in stock["changes"]:
            label = "answer edit" if c["kind"] == "edit" else "new alternate"
            ours = s.get(c["kind"], {}).get("served_s", {}).get("p50")
            total = c["served_s"] if c["served_s"] is not None else c["total_s"]
            ratio = f"{total / ours:.0f}×" if ours else "—"
            note = "" if c["served_s"] is not None else " (then still not answered with that entry)"
            lines.append(f"| {label} | stock Rasa | {total:.1f} s{note} | {c['train_s']:.1f} s | "
                         f"{c['load_s']:.1f} s | {len(c['trained'])} / {len(c['cached'])} components | "
                         f"train {c['train_peak_mb']:.0f} MB | {ratio} |")
            if ours:
                lines.append(f"| {label} | ours | {ms(ours)} | — | — | — | — | 1 |")
        trained = sorted({t for c in stock["changes"] for t in c["trained"]})
        same = len({tuple(c["trained"]) for c in stock["changes"]}) == 1
        lines += ["", f"Components `rasa train` retrained{' for either change' if same else ''}: "
                  f"{', '.join(trained) or 'none'} (the whole NLU pipeline; only the dialogue policies "
                  "came from the cache)." if same and all(c["cached"] for c in stock["changes"]) else
                  f"Components `rasa train` retrained: {', '.join(trained) or 'none'}."]
    peaks = dict(r["peak_mb"])
    if stock.get("server_peak_mb"):
        peaks["stock `rasa run`"] = stock["server_peak_mb"]
    lines += ["", "Peak resident memory (VmHWM) during the bench: "
              + ", ".join(f"{name} {mb:.0f} MB" for name, mb in peaks.items() if mb) + "."]
    if r.get("skipped"):
        lines += ["", f"Held-out questions left out because the editor's \"try it\" showed the draft would not "
                  f"answer them with their entry either: {len(r['skipped'])}."]
    return lines


def prepare(work: Path) -> None:
    """A copy of the FAQ and of the index `make run` serves (built and tuned), in ``work``. The
    tuned index is kept in PREPARED between runs (tuning takes minutes; redone when the FAQ changed)."""
    for folder in (PREPARED, work):
        shutil.rmtree(folder / "faq", ignore_errors=True)
        shutil.copytree(ROOT / "data" / "faq", folder / "faq")
        if (ROOT / "data" / "out_of_scope.yml").exists():
            shutil.copyfile(ROOT / "data" / "out_of_scope.yml", folder / "out_of_scope.yml")
    started = time.perf_counter()
    ensure_index(Settings(root=PREPARED, corpus=Path("faq"), index_dir=Path("kb_index"),
                          out_of_scope=Path("out_of_scope.yml")), log_dir=PREPARED / "logs")
    print(f"index built and tuned (or up to date) in {time.perf_counter() - started:.0f} s", flush=True)
    shutil.copytree(PREPARED / "kb_index", work / "kb_index", ignore=shutil.ignore_patterns("drafts"))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=10, help="answer edits and new alternates, each")
    p.add_argument("--port", type=int, default=25205,
                   help="Rasa's; the action server gets +50, the editor +52, stock Rasa +1")
    p.add_argument("--stock-retrains", type=int, default=2, choices=(0, 1, 2),
                   help="stock-Rasa retrains: 1 an answer edit, 2 also a new example")
    p.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    p.add_argument("--from-json", type=Path, help="only rewrite the section from figures saved by a run")
    args = p.parse_args()
    if args.from_json:
        lines = report(json.loads(args.from_json.read_text()))
        print("\n".join(lines))
        write_section("editor", TITLE, lines)
        return 0
    r: dict[str, Any] = {"machine": machine(), "rounds": args.rounds, "load_start": load(),
                         "date": time.strftime("%Y-%m-%d")}
    print(r["machine"], "load", r["load_start"], flush=True)
    work = Path(tempfile.mkdtemp(prefix="supportbot-bench-editor-"))
    try:
        prepare(work)
        ours = bench_ours(work, args.rounds, args.port)
        r.update(ours, load_ours=load(), summary=summary(ours["published"]))
        print(json.dumps(r["summary"], indent=1), flush=True)
        if args.stock_retrains:
            alternates = [x for x in ours["published"] if x["kind"] == "alternate"]
            first = (alternates[0]["question"], alternates[0]["entry"]) if alternates else None
            r["stock"] = bench_stock(work, args.port + 1, args.stock_retrains, ours["entry"], first)
            r["load_end"] = load()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    lines = report(r)
    print("\n".join(lines))
    if not args.no_write:
        (ROOT / "bench" / "editor.json").write_text(json.dumps(r, indent=1) + "\n")
        write_section("editor", TITLE, lines)
        print("wrote the editor section of docs/benchmarks.md and bench/editor.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
