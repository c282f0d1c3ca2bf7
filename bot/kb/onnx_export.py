"""Exporting a sentence-transformers model to ONNX (``torch.onnx.export``) and checking the export
against the torch vectors of a corpus's phrasings. Build time only: this module imports torch; the
serving side is ``bot.kb.onnx_encoder``.

Where an export lives: ``bot.kb.onnx_encoder.export_dir``.

Why not sentence-transformers' own ONNX backend: it needs ``optimum``, whose releases pin
transformers below 5 (pip would downgrade the locked transformers 5.3 and protobuf).
"""

from __future__ import annotations

import hashlib
import logging
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from bot.kb.files import publishing, write_json_atomic
from bot.kb.onnx_encoder import (
    EXPORT_MANIFEST,
    FILES,
    INPUTS,
    MIN_COSINE,
    REFERENCE,
    TOKENIZER,
    ExportError,
    OnnxEncoder,
    cosines,
    export_dir,
    read_export,
    sha256,
)

log = logging.getLogger(__name__)
FORMAT = 1
KEEP_VERIFIED = 8  # checks remembered per export (one per distinct phrasing set)
# probe sentences whose torch vectors ship with an export: a serving process checks it on them
PROBES = (
    "How do I reset my password?", "where is my order", "Can I get a refund for a damaged item?",
    "I want to talk to a person", "cancel my subscription please", "Do you ship to Canada?",
    "what are your opening hours", "My card was charged twice!!", "change the delivery address",
    "hi", "?", "order #A-12345 never arrived, tracking says delivered",
    "Wie kann ich mein Passwort ändern?", "¿Dónde está mi pedido?", "退款需要多长时间", "🙂 thanks",
    "I bought a laptop last week and the screen flickers whenever I open the lid more than halfway, "
    "is that covered by the warranty or do I have to pay for the repair myself? " * 8,
)
_digests: dict[tuple, str] = {}  # source folder's files' (name, size, mtime) -> their content digest


def source_digest(folder: Path) -> str:
    """SHA-256 over a model folder's files (not its own export): what an export was made from."""
    files = sorted(p for p in folder.rglob("*")  # not the export in it, nor one being written
                   if p.is_file() and not p.relative_to(folder).parts[0].lstrip(".").startswith("onnx"))
    key = (str(folder.resolve()), tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files))
    if key not in _digests:
        digest = hashlib.sha256()
        for p in files:
            digest.update(f"{p.relative_to(folder).as_posix()}\0{sha256(p)}\0".encode())
        _digests[key] = digest.hexdigest()
    return _digests[key]


def _pipeline(model: Any, names: Sequence[str]) -> Any:
    """The sentence-transformers model as one traceable module: token ids in, unit vectors out."""
    import torch

    class Pipeline(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors: Any) -> Any:
            out = self.model(dict(zip(names, tensors)))["sentence_embedding"]
            return torch.nn.functional.normalize(out, p=2, dim=1)

    return Pipeline().eval()


def export(model: Any, source: Path, out: Path, ref: str = "", name: str = "") -> dict:
    """Export the loaded SentenceTransformer ``model`` (read from ``source``) into ``out``, fp32 and
    int8, with its tokenizer and probe vectors. Replaces what ``out`` held. Returns export.json."""
    import torch
    from tokenizers import Tokenizer

    started = time.perf_counter()
    features = model.preprocess(["an example sentence to trace the model with"])
    names = [n for n in INPUTS if n in features]
    if "input_ids" not in names or "attention_mask" not in names:
        raise ExportError(f"{source} does not take input_ids and attention_mask; it cannot be exported")
    backend = model.tokenizer.backend_tokenizer  # the fast tokenizer the model uses, as tokenizers' object
    tokenizer = Tokenizer.from_str(backend.to_str())
    tokenizer.enable_truncation(int(model.max_seq_length))
    tokenizer.enable_padding(pad_id=int(model.tokenizer.pad_token_id or 0),
                             pad_token=str(model.tokenizer.pad_token))
    with torch.inference_mode():
        reference = model.encode(list(PROBES), normalize_embeddings=True, convert_to_numpy=True)
    axes = {n: {0: "batch", 1: "tokens"} for n in names}
    digest = source_digest(source)
    out.parent.mkdir(parents=True, exist_ok=True)
    with publishing(out, replace=True) as tmp:
        with torch.no_grad(), warnings.catch_warnings():  # the tracer's notes on shapes: the check decides
            warnings.simplefilter("ignore")
            torch.onnx.export(_pipeline(model, names), tuple(features[n] for n in names),
                              str(tmp / FILES["onnx"]), input_names=names, output_names=["sentence_embedding"],
                              dynamic_axes={**axes, "sentence_embedding": {0: "batch"}}, opset_version=17,
                              dynamo=False)
        _quantize(tmp / FILES["onnx"], tmp / FILES["onnx-int8"])
        tokenizer.save(str(tmp / TOKENIZER))
        import onnxruntime

        info = {
            "format": FORMAT, "model": name or source.name, "ref": ref, "source": ref or str(source),
            "source_digest": digest, "dim": int(reference.shape[1]),
            "max_seq_length": int(model.max_seq_length), "inputs": names,
            "files": {f: sha256(tmp / f) for f in (*FILES.values(), TOKENIZER)},
            "int8": "per-channel int8 weights of the embedding table and the feed-forward layers' first "
                    "matrix; attention and the other matrices stay fp32 (full int8: cosine 0.98 on the "
                    "demo FAQ, below the check's 0.99)",
            "torch": torch.__version__, "onnxruntime": onnxruntime.__version__, "verified": {},
        }
        write_json_atomic(tmp / EXPORT_MANIFEST, info)  # the files' digests: OnnxEncoder checks them
        variants = {b: OnnxEncoder(tmp, b, self_check=False).encode(list(PROBES)) for b in FILES}
        np.savez(tmp / REFERENCE, texts=np.asarray(PROBES), torch=reference.astype(np.float32), **variants)
        info["files"][REFERENCE] = sha256(tmp / REFERENCE)
        info["probes"] = {b: round(float(cosines(v, reference).min()), 5) for b, v in variants.items()}
        info["exported_at"] = datetime.now(timezone.utc).isoformat()
        info["export_seconds"] = round(time.perf_counter() - started, 1)
        write_json_atomic(tmp / EXPORT_MANIFEST, info)
    return info


def _quantize(fp32: Path, int8: Path) -> None:
    """Dynamic int8 where it keeps cosine >= 0.99 on the demo FAQ: the embedding table (Gather) and
    each feed-forward block's first MatMul (``intermediate``), per channel."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    nodes = onnx.load(str(fp32), load_external_data=False).graph.node
    keep = [n.name for n in nodes if n.op_type == "MatMul" and "/intermediate/" not in n.name]
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=["Gather", "MatMul"], nodes_to_exclude=keep)


def verify(folder: Path, texts: Sequence[str], vectors: np.ndarray) -> dict[str, dict]:
    """Each variant's cosine with the torch ``vectors`` of ``texts`` (min, mean, worst phrasing, ok:
    min >= MIN_COSINE). Remembered in export.json, so an unchanged phrasing set is not encoded again."""
    info = read_export(folder)
    # Keyed by the phrasings alone, so that remembered_record finds a check without torch; a check
    # counts for these torch vectors only if they are the ones it was made against.
    key = texts_key(texts)
    against = hashlib.sha256(np.ascontiguousarray(vectors, np.float32).tobytes()).hexdigest()
    remembered = info.get("verified", {})
    checks: dict[str, dict] = {}
    fresh = False
    for backend in FILES:
        digest = info["files"][FILES[backend]]
        seen = remembered.get(f"{backend}:{digest}:{key}")
        if seen is None or seen.get("against") != against:
            scores = cosines(_encoder(folder, backend, digest).encode(list(texts), batch_size=1), vectors)
            worst = int(np.argmin(scores))
            seen = {"min": round(float(scores[worst]), 5), "mean": round(float(scores.mean()), 5),
                    "worst": texts[worst], "phrasings": len(texts), "ok": bool(scores[worst] >= MIN_COSINE),
                    "against": against}
            remembered.pop(f"{backend}:{digest}:{key}", None)  # the newest check last: see latest_check
            remembered[f"{backend}:{digest}:{key}"] = seen
            fresh = True
        checks[backend] = _check(seen, digest)
    if fresh:
        info["verified"] = dict(list(remembered.items())[-KEEP_VERIFIED * len(FILES):])
        write_json_atomic(folder / EXPORT_MANIFEST, info)
    return checks


def _check(seen: dict, digest: str) -> dict:
    """A remembered check as records hold it: without the digest of the vectors it was made against."""
    return {**{k: v for k, v in seen.items() if k != "against"}, "digest": digest}


def texts_key(texts: Sequence[str]) -> str:
    """A phrasing set's key in an export's ``verified`` map."""
    return hashlib.sha256("\0".join(texts).encode()).hexdigest()


def remembered_record(folder: Path, index_dir: Path, model_path: Path,
                      texts: Sequence[str] | None) -> dict | None:
    """The record ``ensure_export`` would return, without torch: None unless the export in ``folder``
    is of ``model_path``'s files as they are and each variant was checked on exactly ``texts``.
    ``texts=None``: each variant's latest check on any phrasing set (its ``phrasings`` says how many)."""
    info = read_export(folder)
    if info.get("format") != FORMAT or info.get("source_digest") != source_digest(model_path):
        return None
    checks = {}
    verified = info.get("verified", {})
    for backend in FILES:
        digest = info.get("files", {}).get(FILES[backend])
        prefix = f"{backend}:{digest}:"
        seen = (verified.get(prefix + texts_key(texts)) if texts is not None  # checked last = stored last
                else next((v for k, v in reversed(verified.items()) if k.startswith(prefix)), None))
        if seen is None:
            return None
        checks[backend] = _check(seen, digest)
    return {"dir": _relative(folder, index_dir), "source_digest": info["source_digest"], "checks": checks}


def export_record(index_dir: Path, model: str, texts: Sequence[str], niceness: int = 0) -> dict:
    """Load the torch model (``model``: a folder, "" for the packaged one), encode ``texts`` through
    the embedding cache and ``ensure_export``: the editor runs this in a child process
    (``bot.apps.child``), so that torch never loads in the editor's own. ``niceness``: lower this
    process's CPU priority first (a check after serving must not slow the servers down)."""
    import os

    if niceness:
        os.nice(niceness)
    from bot.kb.encoder import SentenceTransformerEncoder
    from bot.kb.index import embed_phrasings

    encoder = SentenceTransformerEncoder(model or None)
    vectors, _ = embed_phrasings(index_dir, encoder, list(texts) or list(PROBES))
    return ensure_export(encoder, index_dir, list(texts) or list(PROBES), vectors)


_sessions: dict[tuple[str, str, str], OnnxEncoder] = {}  # the builder's, kept between builds


def _encoder(folder: Path, backend: str, digest: str) -> OnnxEncoder:
    key = (str(folder), backend, digest)
    if key not in _sessions:
        for old in [k for k in _sessions if k[:2] == key[:2]]:
            del _sessions[old]
        _sessions[key] = OnnxEncoder(folder, backend, threads=2, self_check=False)
    return _sessions[key]


def ensure_export(encoder: Any, index_dir: Path, texts: Sequence[str], vectors: np.ndarray) -> dict:
    """Export ``encoder``'s model unless an export of exactly its files exists, and check it on the
    phrasings being indexed. Returns the record a version keeps (``encoder_export`` in its manifest);
    a failure is recorded there, never raised: the version then serves with torch."""
    model, path = getattr(encoder, "model", None), getattr(encoder, "path", None)
    if model is None or path is None:
        return {"skipped": f"{encoder.name} is not a sentence-transformers model"}
    folder = export_dir(index_dir, path, encoder.name)
    try:
        info = read_export(folder)
        if info.get("format") != FORMAT or info.get("source_digest") != source_digest(path):
            log.info("exporting %s to ONNX in %s", encoder.name, folder)
            info = export(model, path, folder, ref=getattr(encoder, "ref", ""), name=encoder.name)
        checks = verify(folder, texts, vectors)
    except Exception as exc:  # noqa: BLE001 - any failure: record it, the version serves with torch
        log.exception("the ONNX export of %s failed", encoder.name)
        return {"error": f"the ONNX export of {encoder.name} failed ({type(exc).__name__}: {exc}); torch "
                         "serves this version"}
    for backend, check in checks.items():
        if not check["ok"]:
            log.warning("the %s export of %s fails the check: cosine %.4f < %s on %r; it will not serve",
                        backend, encoder.name, check["min"], MIN_COSINE, check["worst"])
    return {"dir": _relative(folder, index_dir), "source_digest": info["source_digest"], "checks": checks}


def _relative(folder: Path, index_dir: Path) -> str:
    try:
        return folder.resolve().relative_to(index_dir.resolve()).as_posix()
    except ValueError:
        return str(folder)
