"""The encoder through ONNX Runtime with the packaged model: exported by a build, checked against the
torch vectors, refused when corrupt or off torch (torch then serves), and a serving process that
never imports torch."""

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bot.kb.corpus import load_corpus
from bot.kb.encoder import SentenceTransformerEncoder, load_encoder
from bot.kb.index import IndexVersion, current_path
from bot.kb.models import version_encoder
from bot.kb.onnx_encoder import EXPORT_MANIFEST, MIN_COSINE, ExportError, OnnxEncoder, cosines, sha256
from bot.kb.onnx_export import verify
from bot.kb.ops import build

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def built(tmp_path_factory, real_encoder):
    """An index of the demo FAQ built (and so exported) once for the module; tests copy it."""
    index = tmp_path_factory.mktemp("onnx") / "kb_index"
    build(load_corpus(ROOT / "data" / "faq"), index, real_encoder, calibrate=False)
    return index


@pytest.fixture
def index(built, tmp_path):
    copy = tmp_path / "kb_index"
    shutil.copytree(built, copy)
    return copy


def export_folder(index: Path) -> Path:
    return index / "models" / "onnx-all-MiniLM-L6-v2"


def test_the_build_exports_the_model_and_checks_every_phrasing(built, real_encoder):
    version = IndexVersion(current_path(built))
    record = version.manifest["encoder_export"]
    assert record["dir"] == "models/onnx-all-MiniLM-L6-v2"
    fp32 = record["checks"]["onnx"]
    assert fp32["ok"] and fp32["phrasings"] == len(version.texts) and fp32["min"] >= MIN_COSINE
    assert set(record["checks"]) == {"onnx", "onnx-int8"}  # int8 is checked too (it may fail: then refused)
    # the vectors themselves: every phrasing's ONNX vector next to its torch vector
    onnx = OnnxEncoder(export_folder(built), "onnx")
    scores = cosines(onnx.encode(version.texts), real_encoder.encode(version.texts))
    assert scores.min() >= MIN_COSINE
    assert onnx.encode(["hi"]).shape == (1, real_encoder.dim)


def test_the_served_encoder_is_onnx_and_answers_like_torch(index, real_encoder):
    version = IndexVersion(current_path(index))
    served = version_encoder(version, load_encoder("", "onnx", index), backend="onnx")
    assert isinstance(served, OnnxEncoder) and served.backend == "onnx"
    query = "how long does a refund take"
    assert version.search(served.encode([query]), 5, [query])[0][0].entry_id == \
        version.search(real_encoder.encode([query]), 5, [query])[0][0].entry_id


def test_a_corrupt_export_is_refused_and_torch_serves(index, caplog):
    model = export_folder(index) / "model.onnx"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    with pytest.raises(ExportError, match="does not match its SHA-256"):
        OnnxEncoder(export_folder(index), "onnx")
    with caplog.at_level(logging.WARNING):
        encoder = load_encoder("", "onnx", index)
    assert isinstance(encoder, SentenceTransformerEncoder)
    assert "not encoding with onnx" in caplog.text and "torch serves instead" in caplog.text


def test_an_export_off_the_torch_model_is_refused_even_with_matching_digests(index):
    """Swap the int8 weights in for the fp32 ones and fix up the digests: the probe check refuses it."""
    folder = export_folder(index)
    shutil.copyfile(folder / "model.int8.onnx", folder / "model.onnx")
    info = json.loads((folder / EXPORT_MANIFEST).read_text())
    info["files"]["model.onnx"] = sha256(folder / "model.onnx")
    (folder / EXPORT_MANIFEST).write_text(json.dumps(info))
    with pytest.raises(ExportError, match="no longer encodes its probe sentences"):
        OnnxEncoder(folder, "onnx")


def test_the_check_fails_an_export_whose_vectors_are_off(index, real_encoder):
    texts = ["where is my parcel", "I want a refund", "talk to a human"]
    vectors = real_encoder.encode(texts)
    assert all(c["ok"] for c in verify(export_folder(index), texts, vectors).values())
    rng = np.random.default_rng(0)
    off = vectors + rng.normal(0, 0.02, vectors.shape).astype(np.float32)  # ~0.93 cosine
    off /= np.linalg.norm(off, axis=1, keepdims=True)
    checks = verify(export_folder(index), texts, off)
    assert not checks["onnx"]["ok"] and checks["onnx"]["min"] < MIN_COSINE


def test_a_version_whose_check_failed_is_served_by_torch(index, caplog):
    """The manifest says the export failed on this version's phrasings: the action server uses torch."""
    path = current_path(index)
    manifest = json.loads((path / "manifest.json").read_text())
    for check in manifest["encoder_export"]["checks"].values():
        check.update(ok=False, min=0.97)
    (path / "manifest.json").write_text(json.dumps(manifest))
    version = IndexVersion(path)
    base = load_encoder("", "onnx", index)  # no version yet: the export passes its own probes
    assert isinstance(base, OnnxEncoder)
    served = version_encoder(version, base, backend="onnx-int8")
    assert isinstance(served, SentenceTransformerEncoder)


SERVING = """
import json, sys
from pathlib import Path
from rasa_sdk.endpoint import create_app
from bot.runtime import knowledge_base
kb = knowledge_base()
create_app("actions", cors_origins=None)  # imports every module of actions/, as the action server does
answer = kb.ask("how long does a refund take")
heavy = sorted(m for m in ("torch", "transformers", "sentence_transformers") if m in sys.modules)
print(json.dumps({"encoder": type(kb.serving_encoder).__name__, "backend": kb.serving_encoder.backend,
                  "decision": answer.decision.kind, "error": kb.error, "heavy": heavy}))
"""


def test_the_serving_path_never_imports_torch(index):
    env = {**os.environ, "SUPPORTBOT_INDEX_DIR": str(index), "SUPPORTBOT_ENCODER_BACKEND": "onnx",
           "SUPPORTBOT_RELOAD_INTERVAL": "60", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", SERVING], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["error"] is None
    assert result["encoder"] == "OnnxEncoder" and result["backend"] == "onnx"
    assert result["heavy"] == []


def test_masking_an_email_does_not_load_torch():
    """spaCy's thinc imports torch and tensorflow whenever installed: the action server's log redaction
    met an e-mail address and loaded both (found by tests/e2e/test_onnx_serving.py)."""
    code = ("import sys; from bot.handoff.redact import redact; print(redact('write to jo@example.com')); "
            "print(sorted(m for m in ('torch', 'tensorflow') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.splitlines()[-2:] == ["write to [email]", "[]"]
