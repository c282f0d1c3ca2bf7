"""The encoder through torch, ONNX (fp32) and ONNX int8, measured in one run (issue 20).

    python bench/encoder.py [--repeats 200]

Builds the demo FAQ's index (calibrated, base model) in a temporary folder, which exports the model
to ONNX and checks it; then, per backend: encode latency per message (one message at a time, and in
batches of 16 and 64; the backends take turns, so a busy shared machine slows all alike), cosine
with torch on every phrasing (each encoded alone, as a customer's message is), the resident memory
of a fresh process that loads the serving path (``bot.runtime.knowledge_base`` and rasa-sdk's
actions) and whether torch is in it, and answer quality on eval/demo_heldout.csv through
``supportbot kb eval --json`` with SUPPORTBOT_ENCODER_BACKEND set. Prints a table and writes the
``<!-- encoder:start -->`` section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.compare import write_section  # noqa: E402
from bench.run import machine  # noqa: E402

BACKENDS = ("torch", "onnx", "onnx-int8")
QUERIES = ROOT / "eval" / "demo_heldout.csv"
SERVING = """
import json, resource, sys
from rasa_sdk.endpoint import create_app
from bot.runtime import knowledge_base
kb = knowledge_base()
create_app("actions", cors_origins=None)
kb.ask("how long does a refund take")
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
print(json.dumps({"rss_mb": int(status["VmRSS"].split()[0]) / 1024, "encoder": kb.serving_encoder.backend,
                  "torch": "torch" in sys.modules}))
"""


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def env_for(index: Path, backend: str) -> dict[str, str]:
    return {**os.environ, "SUPPORTBOT_INDEX_DIR": str(index), "SUPPORTBOT_ENCODER_BACKEND": backend,
            "SUPPORTBOT_RELOAD_INTERVAL": "600", "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}


def serving_process(index: Path, backend: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-c", SERVING], cwd=ROOT, env=env_for(index, backend),
                         capture_output=True, text=True, timeout=600, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def quality(index: Path, backend: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-m", "bot.cli", "kb", "eval", "--index", str(index), "--queries",
                          str(QUERIES), "--json"], cwd=ROOT, env=env_for(index, backend), capture_output=True,
                         text=True, timeout=600, check=True)
    return json.loads(out.stdout[out.stdout.index("{"):])


def latencies(encoders: dict[str, Any], texts: list[str], repeats: int) -> dict[str, dict[str, float]]:
    """Milliseconds per message: p50/p95 of single messages, mean per message in batches of 16, 64."""
    rng = np.random.default_rng(7)
    single: dict[str, list[float]] = {b: [] for b in encoders}
    for i in range(repeats):
        text = texts[int(rng.integers(len(texts)))] + f" {i}"  # never a cached or repeated input
        for backend, encoder in encoders.items():  # interleaved: load on the machine hits all alike
            started = time.perf_counter()
            encoder.encode([text])
            single[backend].append((time.perf_counter() - started) * 1000)
    out = {b: {"p50": pct(v, 50), "p95": pct(v, 95)} for b, v in single.items()}
    for size in (16, 64):
        batch = [texts[int(j)] for j in rng.integers(len(texts), size=size)]
        for backend, encoder in encoders.items():
            encoder.encode(batch)  # warm
            started = time.perf_counter()
            for _ in range(3):
                encoder.encode(batch, batch_size=size)
            out[backend][f"batch{size}"] = (time.perf_counter() - started) * 1000 / (3 * size)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeats", type=int, default=200, help="single messages per backend")
    p.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = p.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from threadpoolctl import threadpool_limits

    from bot.kb.corpus import load_corpus
    from bot.kb.encoder import load_encoder
    from bot.kb.index import IndexVersion, current_path
    from bot.kb.onnx_encoder import cosines
    from bot.kb.ops import build_corpus
    from bot.settings import Settings

    r: dict[str, Any] = {"machine": machine(), "load_start": os.getloadavg()[0]}
    print(r["machine"], flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-encoder-") as tmp:
        index = Path(tmp) / "kb_index"
        settings = Settings(root=ROOT, index_dir=index, tune_on_run=False)
        started = time.perf_counter()
        build_corpus(settings, load_corpus(settings.corpus_path), index)
        r["build_s"] = time.perf_counter() - started
        version = IndexVersion(current_path(index))
        record = version.manifest["encoder_export"]
        export_info = json.loads((index / record["dir"] / "export.json").read_text())
        r["export_s"], r["checks"] = export_info["export_seconds"], record["checks"]
        r["sizes_mb"] = {b: (index / record["dir"] / f).stat().st_size / 1e6
                         for b, f in (("onnx", "model.onnx"), ("onnx-int8", "model.int8.onnx"))}
        threadpool_limits(1)
        torch.set_num_threads(1)  # as the action server runs: one thread per message
        encoders = {"torch": load_encoder("", "torch", threads=1),
                    **{b: load_encoder("", b, index, threads=1) for b in BACKENDS[1:]}}
        assert all(e.backend == b for b, e in encoders.items()), "an export was refused: see the log"
        reference = encoders["torch"].encode(version.texts)
        r["cosine"] = {}
        for backend in BACKENDS[1:]:
            scores = cosines(np.vstack([encoders[backend].encode([t]) for t in version.texts]), reference)
            r["cosine"][backend] = {"min": float(scores.min()), "mean": float(scores.mean())}
        r["latency"] = latencies(encoders, version.texts, args.repeats)
        del encoders
        r["process"] = {b: serving_process(index, b) for b in BACKENDS}
        r["quality"] = {}
        for b in BACKENDS:
            q = quality(index, b)
            keys = ("mrr", "recall_at_1", "answered_precision", "coverage", "oos_recall", "n")
            r["quality"][b] = {k: q.get(k) for k in keys}
    r["load_end"] = os.getloadavg()[0]
    (ROOT / "bench" / "encoder.json").write_text(json.dumps(r, indent=2) + "\n")
    lines = report(r)
    print("\n".join(lines))
    if not args.no_write:
        write_section("encoder", "The encoder through ONNX Runtime (issue 20)", lines)
    return 0


def report(r: dict[str, Any]) -> list[str]:
    lat, proc, qual, cos, checks = r["latency"], r["process"], r["quality"], r["cosine"], r["checks"]

    def row(label: str, cell: Any, backends: tuple[str, ...] = BACKENDS, first: str = "") -> str:
        return f"| {label} | " + (f"{first} | " if first else "") + " | ".join(cell(b) for b in backends) + " |"

    def q(key: str) -> Any:
        return lambda b: f"{qual[b][key]:.3f}" if isinstance(qual[b].get(key), float) else str(qual[b].get(key))

    onnx = BACKENDS[1:]
    return [
        f"Measured by `python bench/encoder.py` on {r['machine']} (load {r['load_start']:.1f} at the start, "
        f"{r['load_end']:.1f} at the end; the machine is shared, so the ratios are the figures to read: the "
        "backends took turns message by message). One thread per message, as the action server runs.", "",
        f"The build of the demo FAQ exported the model in {r['export_s']:.1f} s (part of a "
        f"{r['build_s']:.0f} s build; later builds reuse the export, and a phrasing set checked before is "
        f"not encoded again). Files: fp32 {r['sizes_mb']['onnx']:.0f} MB, "
        f"int8 {r['sizes_mb']['onnx-int8']:.0f} MB.", "",
        "| | torch | onnx | onnx-int8 |", "|---|---|---|---|",
        row("1 message, p50 ms", lambda b: f"{lat[b]['p50']:.1f}"),
        row("1 message, p95 ms", lambda b: f"{lat[b]['p95']:.1f}"),
        row("p50 vs torch", lambda b: f"{lat[b]['p50'] / lat['torch']['p50']:.2f}", onnx, "1.00"),
        row("batch of 16, ms per message", lambda b: f"{lat[b]['batch16']:.2f}"),
        row("batch of 64, ms per message", lambda b: f"{lat[b]['batch64']:.2f}"),
        row("cosine with torch, min / mean (every phrasing)",
            lambda b: f"{cos[b]['min']:.4f} / {cos[b]['mean']:.4f}", onnx, "1 / 1"),
        row("build's check (≥ 0.99 on every phrasing)",
            lambda b: "passed" if checks[b]["ok"] else "failed: refused", onnx, "—"),
        row("serving process, resident MB", lambda b: f"{proc[b]['rss_mb']:.0f}"),
        row("torch loaded in it", lambda b: "yes" if proc[b]["torch"] else "no"),
        row("held-out MRR", q("mrr")),
        row("held-out recall@1", q("recall_at_1")),
        row("held-out precision of answers", q("answered_precision")),
        row("held-out coverage (in-scope answered)", q("coverage")),
        row("held-out out-of-scope declined", q("oos_recall")),
        "",
        f"Answer quality ({qual['torch'].get('n')} held-out questions): `supportbot kb eval --queries "
        "eval/demo_heldout.csv --json` with SUPPORTBOT_ENCODER_BACKEND set, on the index built with the "
        "base model (its thresholds calibrated on torch vectors). The serving process: a fresh Python that "
        "loads what the action server loads (`bot.runtime.knowledge_base()` and rasa-sdk's actions) and "
        "answers one question; its resident memory after that.", "",
        "The default (SUPPORTBOT_ENCODER_BACKEND=onnx-int8) is the fastest and smallest with the same answers. "
        "Its int8 recipe quantises the embedding table and each feed-forward block's first matrix only: full "
        "dynamic int8 of every matrix ran ~4× faster than fp32 but gave cosine 0.982 on the demo FAQ, which "
        "the check refuses. int8 activations are quantised per batch, so each text is encoded alone (hence "
        "its batch column). A FAQ on which int8 fails the check is served with fp32 ONNX, logged.",
    ]


if __name__ == "__main__":
    raise SystemExit(main())
