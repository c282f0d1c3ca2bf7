"""The encoder through ONNX Runtime: an export of a sentence-transformers model (``bot.kb.onnx_export``)
run with ``onnxruntime`` and ``tokenizers`` only, so a serving process never imports torch.

An export folder holds::

    model.onnx  model.int8.onnx   the whole model (transformer, pooling, normalisation), fp32 and int8
    tokenizer.json                the model's tokenizer, truncating at its max_seq_length
    reference.npz                 probe sentences, their torch vectors and each variant's at export
    export.json                   what it was exported from, each file's SHA-256, the checks it passed

An export is refused (``ExportError``, whose message says what to do) when a file does not match
its digest, or when it no longer encodes the probe sentences as it did when it was exported (another
ONNX Runtime, a damaged session). Whether it agrees with torch on a corpus (cosine >= MIN_COSINE for
every phrasing) is checked by each build and recorded in the version (``accepts``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from bot.kb.files import sha256

MIN_COSINE = 0.99  # an export must give at least this cosine with the torch vector of every phrasing
SAME_COSINE = 0.999  # an export encodes its probe sentences at least this close to how it did at export
BACKENDS = ("torch", "onnx", "onnx-int8")
FILES = {"onnx": "model.onnx", "onnx-int8": "model.int8.onnx"}
EXPORT_MANIFEST = "export.json"
TOKENIZER = "tokenizer.json"
REFERENCE = "reference.npz"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class ExportError(RuntimeError):
    """An ONNX export is missing, corrupt or off the torch model; the message says what to do."""



def export_dir(index_dir: Path, model_path: Path, name: str) -> Path:
    """Where the export of the model ``name`` at ``model_path`` lives: a tuned model's inside its
    folder (``kb_index/models/tuned-…/onnx/``, pruned with it), any other's (the packaged model,
    SUPPORTBOT_MODEL) under ``kb_index/models/onnx-<name>/``: a package's folder is not ours."""
    if model_path.resolve().parent == (index_dir / "models").resolve():
        return model_path / "onnx"
    return index_dir / "models" / f"onnx-{name}"


def read_export(folder: Path) -> dict:
    """An export's export.json ({} when there is none or it is unreadable)."""
    try:
        data = json.loads((folder / EXPORT_MANIFEST).read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine of two matrices of (near) unit vectors."""
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return np.einsum("ij,ij->i", a, b) / np.maximum(norms, 1e-12)


class OnnxEncoder:
    """One variant (``onnx``: fp32, ``onnx-int8``) of an export, on the CPU."""

    def __init__(self, folder: Path, backend: str = "onnx", threads: int = 1, self_check: bool = True):
        if backend not in FILES:
            raise ExportError(f"unknown ONNX backend {backend!r}; use one of {', '.join(FILES)}")
        info = read_export(folder)
        if not info:
            raise ExportError(f"no ONNX export in {folder}; 'supportbot kb build --force' exports the model")
        self.folder, self.backend, self.info = folder, backend, info
        model_file = folder / FILES[backend]
        for name in (FILES[backend], TOKENIZER, *([REFERENCE] if self_check else [])):
            expected = info.get("files", {}).get(name)
            if expected is None or not (folder / name).is_file():
                raise ExportError(f"{folder / name} is missing; 'supportbot kb build --force' exports it again")
            if sha256(folder / name) != expected:
                raise ExportError(f"{folder / name} does not match its SHA-256 in {EXPORT_MANIFEST} (the file "
                                  "is corrupt or was changed); 'supportbot kb build --force' exports it again")
        self.digest = str(info["files"][FILES[backend]])
        self.name = str(info["model"])
        self.dim = int(info["dim"])
        self.ref = str(info.get("ref", ""))
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.enable_cpu_mem_arena = False  # the arena keeps a long batch's peak (+300 MB) for good
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # idle threads sleep
        try:
            self._session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
            self._tokenizer = Tokenizer.from_file(str(folder / TOKENIZER))
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types for a bad file
            raise ExportError(f"could not load {model_file}: {exc}; 'supportbot kb build --force' exports "
                              "it again") from exc
        self._inputs = [i.name for i in self._session.get_inputs()]
        if self_check:
            self.check_reference()

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self.backend == "onnx-int8":  # its activations are quantised per batch: padding and other
            batch_size = 1  # texts would change a text's vector, so each is encoded as it is served
        out = [self._run(list(texts[i:i + batch_size])) for i in range(0, len(texts), batch_size)]
        return np.ascontiguousarray(np.vstack(out), dtype=np.float32)

    def _run(self, texts: list[str]) -> np.ndarray:
        encoded = self._tokenizer.encode_batch(texts)
        columns = {"input_ids": [e.ids for e in encoded], "attention_mask": [e.attention_mask for e in encoded],
                   "token_type_ids": [e.type_ids for e in encoded]}
        feed = {name: np.asarray(columns[name], dtype=np.int64) for name in self._inputs}
        vectors = self._session.run(None, feed)[0]
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)

    def check_reference(self) -> float:
        """Encode the probe sentences stored with the export; refuse it unless it gives the vectors
        it gave at export time. Returns the lowest cosine with those."""
        try:
            with np.load(self.folder / REFERENCE) as ref:
                texts, vectors = [str(t) for t in ref["texts"]], ref[self.backend]
        except (OSError, ValueError, KeyError) as exc:
            raise ExportError(f"{self.folder / REFERENCE} is unreadable ({exc}); 'supportbot kb build "
                              "--force' exports the model again") from exc
        worst = float(cosines(self.encode(texts), vectors).min())
        if not worst >= SAME_COSINE:  # NaN fails too
            raise ExportError(f"the {self.backend} export in {self.folder} no longer encodes its probe "
                              f"sentences as it did when exported (cosine {worst:.4f} < {SAME_COSINE}); "
                              "'supportbot kb build --force' exports it again")
        return worst

    def accepts(self, record: Mapping[str, Any] | None) -> str | None:
        """Why a version's export record (its manifest's ``encoder_export``) does not vouch for this
        encoder, or None when it was checked on the version's phrasings and passed."""
        if not record or "checks" not in record:
            why = (record or {}).get("error") or (record or {}).get("skipped") or "it has no export record"
            return f"the version's phrasings were not checked against an ONNX export ({why})"
        check = record["checks"].get(self.backend) or {}
        if check.get("digest") != self.digest:
            return (f"the version was checked with another {self.backend} export than {self.folder} holds "
                    "now; rebuild the index ('supportbot kb build --force')")
        if not check.get("ok"):
            return (f"the {self.backend} export failed the check on the version's phrasings: lowest cosine "
                    f"{check.get('min')} < {MIN_COSINE} (on {check.get('worst', '?')!r})")
        return None
