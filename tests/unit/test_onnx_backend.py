"""Choosing the encoder backend and falling back, without a model (the export itself, with the packaged
model: tests/integration/test_onnx_encoder.py)."""

import json

import pytest

from bot.kb.build import build_index
from bot.kb.corpus import load_corpus
from bot.kb.encoder import EncoderError, FakeEncoder, load_encoder
from bot.kb.index import IndexVersion, KbIndexError, current_path
from bot.kb.models import servable_backend, version_encoder
from bot.kb.onnx_encoder import ExportError, OnnxEncoder, export_dir
from bot.settings import Settings, SettingsError
from tests.helpers import SMALL_CORPUS, write


@pytest.fixture
def corpus(tmp_path):
    return load_corpus(write(tmp_path / "faq" / "f.yml", SMALL_CORPUS))


def test_the_backend_setting_is_checked_and_defaults_to_onnx_int8():
    assert Settings().encoder_backend == "onnx-int8"
    assert Settings(encoder_backend="torch").encoder_backend == "torch"
    with pytest.raises(SettingsError, match="SUPPORTBOT_ENCODER_BACKEND must be torch, onnx or onnx-int8"):
        Settings(encoder_backend="tensorrt")
    with pytest.raises(EncoderError, match="unknown encoder backend 'gpu'"):
        load_encoder("", "gpu")


def test_a_missing_export_says_how_to_make_one(tmp_path):
    with pytest.raises(ExportError, match=r"no ONNX export in .*'supportbot kb build --force'"):
        OnnxEncoder(tmp_path / "nothing", "onnx")
    with pytest.raises(ExportError, match="unknown ONNX backend"):
        OnnxEncoder(tmp_path, "fp16")


def test_exports_live_beside_the_index_and_inside_tuned_models(tmp_path):
    index = tmp_path / "kb_index"
    tuned = index / "models" / "tuned-abc"
    tuned.mkdir(parents=True)
    assert export_dir(index, tuned, "tuned-abc") == tuned / "onnx"
    assert export_dir(index, tmp_path / "site-packages" / "model", "all-MiniLM-L6-v2") == \
        index / "models" / "onnx-all-MiniLM-L6-v2"


def test_a_build_records_why_a_model_is_not_exported_and_rebuilds_older_versions(tmp_path, corpus):
    index = tmp_path / "idx"
    first = build_index(corpus, index, FakeEncoder())
    assert first.manifest["encoder_export"] == {
        "skipped": "fake-hashing-encoder is not a sentence-transformers model"}
    assert build_index(corpus, index, FakeEncoder()).up_to_date
    manifest_path = current_path(index) / "manifest.json"  # a version built before ONNX exports
    manifest = json.loads(manifest_path.read_text())
    del manifest["encoder_export"]
    manifest_path.write_text(json.dumps(manifest))
    again = build_index(corpus, index, FakeEncoder())
    assert not again.up_to_date and "encoder_export" in again.manifest


def test_builds_refuse_an_onnx_encoder_unless_told_how_its_export_is_checked(tmp_path, corpus):
    class Exported(FakeEncoder):
        backend = "onnx"

    with pytest.raises(KbIndexError, match="a build with the onnx export needs an export_check"):
        build_index(corpus, tmp_path / "idx", Exported())
    seen = []
    built = build_index(corpus, tmp_path / "idx", Exported(),
                        export_check=lambda texts, vectors: seen.append(len(texts)) or {"checks": {}})
    assert built.manifest["encoder_export"] == {"checks": {}} and seen == [built.manifest["phrasings"]]


class Version:
    def __init__(self, record):
        self.manifest = {"encoder_export": record} if record is not None else {}


@pytest.mark.parametrize("record, backend, expected", [
    (None, "onnx", "torch"),  # built before exports: torch until rebuilt
    ({"skipped": "not a sentence-transformers model"}, "onnx", "torch"),
    ({"checks": {"onnx": {"ok": True}, "onnx-int8": {"ok": True}}}, "onnx-int8", "onnx-int8"),
    ({"checks": {"onnx": {"ok": True}, "onnx-int8": {"ok": False}}}, "onnx-int8", "onnx"),
    ({"checks": {"onnx": {"ok": False}, "onnx-int8": {"ok": True}}}, "onnx", "torch"),
    ({"checks": {"onnx": {"ok": True}}}, "torch", "torch"),
])
def test_a_version_serves_with_the_first_backend_its_check_passed(record, backend, expected):
    assert servable_backend(Version(record), backend) == expected  # type: ignore[arg-type]


def test_a_version_without_an_export_keeps_the_fake_encoder(tmp_path, corpus):
    build_index(corpus, tmp_path / "idx", FakeEncoder())
    fake = FakeEncoder()
    assert version_encoder(IndexVersion(current_path(tmp_path / "idx")), fake, backend="onnx") is fake
