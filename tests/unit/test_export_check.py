"""The editor's check of the ONNX export on a build's phrasings (``EditorEncoders.export_check``), with
a fake child in place of the torch one: a remembered check is used as it is; a new phrasing set
serves at once on the export's latest check when that covered at least half as many phrasings, and
is checked in the background after; a failure there makes the builder rebuild with torch serving."""

import shutil
import threading
from dataclasses import replace

import numpy as np
import pytest

from bot.db import sqlite_engine
from bot.editor.builder import Builder
from bot.editor.changes import SAVE, Change, revision
from bot.editor.encoders import EditorEncoders
from bot.editor.service import EditorService
from bot.editor.versions import QUEUED, SERVING, VersionStore
from bot.kb import onnx_export
from bot.kb.corpus import load_corpus
from bot.kb.encoder import FakeEncoder
from bot.kb.files import write_json_atomic
from bot.kb.index import IndexVersion, current_path, phrasing_table
from bot.kb.models import servable_backend
from bot.kb.onnx_encoder import EXPORT_MANIFEST, FILES, OnnxEncoder, export_dir
from bot.kb.onnx_export import FORMAT, remembered_record, source_digest, verify
from bot.settings import Settings

DIGESTS = {"onnx": "fp32-digest", "onnx-int8": "int8-digest"}
TEXTS = [f"how do I do thing number {i}" for i in range(100)]
WAIT_S = 20.0


class FakeOnnx(OnnxEncoder):
    """The int8 variant of the export in ``folder`` as the builder sees it; encodes like FakeEncoder."""

    def __init__(self, model_dir, folder):  # noqa: D107 - no ONNX Runtime session: nothing is exported
        self.folder, self.backend, self.info = folder, "onnx-int8", {}
        self.digest, self.name, self.ref = DIGESTS["onnx-int8"], "fake-model", str(model_dir)
        self._fake = FakeEncoder()
        self.dim = self._fake.dim

    def encode(self, texts, batch_size=64, progress=False):
        return self._fake.encode(texts)


@pytest.fixture
def export(tmp_path, monkeypatch):
    """An export of a model folder (its export.json only); ``verify`` encodes with FakeEncoder."""
    model_dir = tmp_path / "fake-model"
    model_dir.mkdir()
    (model_dir / "config.json").write_text("{}")
    folder = export_dir(tmp_path / "idx", model_dir, "fake-model")
    folder.mkdir(parents=True)
    write_json_atomic(folder / EXPORT_MANIFEST, {
        "format": FORMAT, "source_digest": source_digest(model_dir), "model": "fake-model",
        "files": {FILES[b]: d for b, d in DIGESTS.items()}, "verified": {}})
    monkeypatch.setattr(onnx_export, "_encoder", lambda folder, backend, digest: FakeEncoder())
    return model_dir, folder


def checked(folder, texts, agree=True):
    """What ensure_export does in the child: check the export on ``texts`` (against vectors that agree
    with it, or not) and remember it; returns the record."""
    vectors = FakeEncoder().encode(texts)
    if not agree:
        vectors = np.roll(vectors, 7, axis=1)
    return {"dir": str(folder), "source_digest": "x", "checks": verify(folder, texts, vectors)}


class FakeChild:
    """``run_in_child`` for export_record: checks in this process; can be held, or fail."""

    def __init__(self, folder, agree=True, raises=None):
        self.folder, self.agree, self.raises = folder, agree, raises
        self.calls: list[list[str]] = []
        self.threads: list[str] = []
        self.niceness: list[int] = []
        self.started = threading.Event()
        self.release = threading.Event()
        self.release.set()

    def __call__(self, log_file, target, index_dir, model, texts, niceness):
        assert target == "bot.kb.onnx_export:export_record"
        self.calls.append(list(texts))
        self.niceness.append(niceness)
        self.threads.append(threading.current_thread().name)
        self.started.set()
        assert self.release.wait(WAIT_S)
        if self.raises is not None:
            raise self.raises
        return checked(self.folder, texts, self.agree)


def encoders_with(tmp_path, child):
    return EditorEncoders(Settings(root=tmp_path, index_dir=tmp_path / "idx"), child=child)


def test_a_remembered_check_on_exactly_these_phrasings_needs_no_child(tmp_path, export):
    model_dir, folder = export
    checked(folder, TEXTS)
    child = FakeChild(folder)
    record = encoders_with(tmp_path, child).export_check(FakeOnnx(model_dir, folder))(TEXTS, None)
    assert child.calls == [] and "provisional" not in record
    assert record["checks"]["onnx-int8"]["ok"] and record["checks"]["onnx-int8"]["phrasings"] == 100


def test_new_phrasings_serve_at_once_on_an_earlier_check_and_are_checked_after(tmp_path, export):
    model_dir, folder = export
    checked(folder, TEXTS[:60])
    child = FakeChild(folder)
    child.release.clear()  # the torch check takes its time
    encoders = encoders_with(tmp_path, child)
    record = encoders.export_check(FakeOnnx(model_dir, folder))(TEXTS, None)
    assert record["provisional"] == ("checked on an earlier set of 60 phrasings; these 100 are checked "
                                     "against torch after the version serves")
    assert record["checks"]["onnx-int8"]["ok"] and record["checks"]["onnx-int8"]["digest"] == "int8-digest"
    assert child.started.wait(WAIT_S) and not encoders.wait_for_checks(0.05)  # returned while it runs
    child.release.set()
    assert encoders.wait_for_checks(WAIT_S)
    assert child.calls == [TEXTS] and child.threads == ["onnx-export-check"] and child.niceness == [10]
    assert remembered_record(folder, tmp_path / "idx", model_dir, TEXTS) is not None  # now remembered
    assert encoders.failed_check() is None
    again = encoders.export_check(FakeOnnx(model_dir, folder))(TEXTS, None)
    assert "provisional" not in again and len(child.calls) == 1


def test_with_an_earlier_check_on_too_few_phrasings_the_child_checks_before_serving(tmp_path, export):
    model_dir, folder = export
    checked(folder, TEXTS[:40])
    child = FakeChild(folder)
    record = encoders_with(tmp_path, child).export_check(FakeOnnx(model_dir, folder))(TEXTS, None)
    assert child.calls == [TEXTS] and child.niceness == [0]
    assert child.threads == [threading.current_thread().name]  # before the build goes on
    assert "provisional" not in record and record["checks"]["onnx-int8"]["phrasings"] == 100


def test_a_later_check_that_fails_is_reported_once_and_remembered(tmp_path, export):
    model_dir, folder = export
    checked(folder, TEXTS[:60])
    child = FakeChild(folder, agree=False)
    encoders = encoders_with(tmp_path, child)
    assert "provisional" in encoders.export_check(FakeOnnx(model_dir, folder))(TEXTS, None)
    assert encoders.wait_for_checks(WAIT_S)
    failed = encoders.failed_check()
    assert failed is not None and failed["phrasings"] == 100
    assert not failed["record"]["checks"]["onnx-int8"]["ok"]
    assert encoders.failed_check() is None  # once
    rebuilt = encoders.export_check(FakeOnnx(model_dir, folder))(TEXTS, None)  # the rebuild's check
    assert "provisional" not in rebuilt and not rebuilt["checks"]["onnx-int8"]["ok"] and len(child.calls) == 1
    others = encoders.export_check(FakeOnnx(model_dir, folder))(TEXTS[:99], None)  # the latest check failed
    assert "provisional" not in others and len(child.calls) == 2


def test_a_later_check_whose_child_dies_is_reported_and_torch_serves_the_rebuild(tmp_path, export):
    model_dir, folder = export
    checked(folder, TEXTS[:60])
    child = FakeChild(folder, raises=RuntimeError("the child process exited with code -9"))
    encoders = encoders_with(tmp_path, child)
    assert "provisional" in encoders.export_check(FakeOnnx(model_dir, folder))(TEXTS, None)
    assert encoders.wait_for_checks(WAIT_S)
    failed = encoders.failed_check()
    assert failed is not None and "exited with code -9" in failed["record"]["error"]
    rebuilt = encoders.export_check(FakeOnnx(model_dir, folder))(TEXTS, None)
    assert "torch serves this version" in rebuilt["error"] and len(child.calls) == 1  # no second child


def test_of_quick_later_checks_only_the_newest_runs(tmp_path, export):
    model_dir, folder = export
    checked(folder, TEXTS[:60])
    child = FakeChild(folder)
    child.release.clear()
    encoders = encoders_with(tmp_path, child)
    check = encoders.export_check(FakeOnnx(model_dir, folder))
    for n in (90, 95, 100):
        assert "provisional" in check(TEXTS[:n], None)
        assert child.started.wait(WAIT_S)  # the first one runs before the next publish
    check(TEXTS[:100], None)  # the same phrasings again (an answer edit): not checked twice
    child.release.set()
    assert encoders.wait_for_checks(WAIT_S)
    assert [len(c) for c in child.calls] == [90, 100] and set(child.threads) == {"onnx-export-check"}


@pytest.fixture
def service(tmp_path, root):
    shutil.copytree(root / "data" / "faq", tmp_path / "faq")
    store = VersionStore(sqlite_engine(f"sqlite:///{tmp_path / 'editor.db'}"))
    return EditorService(tmp_path / "faq", store, tmp_path / "idx" / ".editor.lock")


def test_a_version_whose_export_fails_its_check_after_serving_is_rebuilt_and_served_by_torch(
        tmp_path, export, service):
    model_dir, folder = export
    settings = Settings(root=tmp_path, corpus=tmp_path / "faq", index_dir=tmp_path / "idx", tune_on_run=False)
    texts, _ = phrasing_table(load_corpus(settings.corpus_path).entries)
    checked(folder, texts)  # the export passed on the FAQ as it was
    fake = FakeOnnx(model_dir, folder)
    builder = Builder(settings, service.versions, base=fake)
    builder._load = lambda path: fake
    builder.encoders = EditorEncoders(settings, child=FakeChild(folder, agree=False))
    e = service.read().corpus.by_id()["refund-time"]
    v = service.publish([Change(SAVE, e.id, replace(e, alternates=e.alternates + ("when is my money back",)),
                                revision(e))], "eve", "")
    assert builder.run_pending()
    first = IndexVersion(current_path(settings.index_path))
    assert service.versions.get(v.id).build_state == SERVING
    assert "provisional" in first.manifest["encoder_export"]
    assert servable_backend(first, "onnx-int8") == "onnx-int8"  # served on the earlier check
    assert builder.encoders.wait_for_checks(WAIT_S)
    assert builder._recheck()
    queued = service.versions.get(v.id)
    assert queued.build_state == QUEUED and queued.build_detail == (
        "rebuilding: the ONNX export failed its check against torch after serving; torch then serves it")
    assert builder.run_pending()
    rebuilt = IndexVersion(current_path(settings.index_path))
    assert rebuilt.name != first.name and servable_backend(rebuilt, "onnx-int8") == "torch"
    done = service.versions.get(v.id)
    assert done.build_state == SERVING and done.index_version == rebuilt.name
    assert "rebuilt: the ONNX export failed its check against torch after serving" in done.build_detail
    assert not builder._recheck()  # once


class ServingVersion:
    def __init__(self, record, model_dir, texts):
        self.manifest, self.model_path, self.texts = {"encoder_export": record}, model_dir, texts


def test_after_a_restart_a_version_serving_on_a_provisional_record_is_checked_unless_it_was(tmp_path, export):
    model_dir, folder = export
    checked(folder, TEXTS[:60])
    provisional = {**checked(folder, TEXTS[:60]), "provisional": "checked on an earlier set of 60 phrasings"}
    child = FakeChild(folder)
    encoders = encoders_with(tmp_path, child)
    encoders.recheck(ServingVersion({"checks": provisional["checks"]}, model_dir, TEXTS))  # not provisional
    encoders.recheck(ServingVersion(provisional, model_dir, TEXTS[:60]))  # its check finished before
    assert encoders.wait_for_checks(WAIT_S) and child.calls == []
    encoders.recheck(ServingVersion(provisional, model_dir, TEXTS))  # interrupted by the restart
    assert encoders.wait_for_checks(WAIT_S) and child.calls == [TEXTS] and encoders.failed_check() is None
