"""A broken index on disk never escapes the reload: logged once, the previous version serving.
(Issue 16, item 10: a non-UTF-8 CURRENT and a wrong-shape entries.json escaped and logged a
traceback every second; a corrupt index.faiss was never noticed.)"""

import json
import logging
import shutil
import time

import pytest

from bot.kb.build import build_index
from bot.kb.corpus import load_corpus
from bot.kb.decision import ANSWER
from bot.kb.encoder import FakeEncoder
from bot.kb.index import IndexVersion, KbIndexError, current_path
from bot.kb.serving import KnowledgeBase
from tests.helpers import SMALL_CORPUS, write


@pytest.fixture
def kb(tmp_path):
    corpus = load_corpus(write(tmp_path / "faq" / "f.yml", SMALL_CORPUS))
    build_index(corpus, tmp_path / "idx", FakeEncoder(), lexical_weight=0)
    kb = KnowledgeBase(tmp_path / "idx", encoder=FakeEncoder())
    assert kb.reload()
    return kb


def copy_of_serving(kb, name="copy"):
    """A second version, a copy of the serving one, made current."""
    copy = kb.index_dir / "versions" / name
    shutil.copytree(current_path(kb.index_dir), copy)
    (kb.index_dir / "CURRENT").write_text(name + "\n")
    return copy


def still_serving(kb, name):
    assert kb.version.name == name
    assert kb.ask("I forgot my password").decision.kind == ANSWER


def test_a_current_pointer_that_is_not_text_keeps_the_old_version(kb, caplog):
    name = kb.version.name
    (kb.index_dir / "CURRENT").write_bytes(b"\xff\xfe\x00garbage")
    with caplog.at_level(logging.ERROR, logger="bot.kb.serving"):
        for _ in range(3):
            assert not kb.reload()
    assert "CURRENT" in kb.error and "kb build" in kb.error
    assert len([r for r in caplog.records if r.levelno >= logging.ERROR]) == 1  # once, not every second
    still_serving(kb, name)


@pytest.mark.parametrize("entries", [{"not": "a list"}, ["just a string"], [{"id": 3}], 42])
def test_entries_of_the_wrong_shape_keep_the_old_version(kb, entries):
    name = kb.version.name
    copy = copy_of_serving(kb)
    (copy / "entries.json").write_text(json.dumps(entries))
    assert not kb.reload()
    assert "entries.json" in kb.error or "corrupt" in kb.error
    still_serving(kb, name)


def test_a_corrupt_faiss_file_is_noticed_by_its_checksum(kb):
    name = kb.version.name
    copy = copy_of_serving(kb)
    data = bytearray((copy / "index.faiss").read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte deep in the vectors: FAISS itself loads it
    (copy / "index.faiss").write_bytes(bytes(data))
    with pytest.raises(KbIndexError, match="index.faiss.*checksum"):
        IndexVersion(copy)
    assert not kb.reload()
    still_serving(kb, name)


def test_every_file_of_a_version_is_checksummed(kb):
    manifest = json.loads((current_path(kb.index_dir) / "manifest.json").read_text())
    assert {"index.faiss", "phrasings.json", "entries.json", "answers.npy", "head.npz"} <= set(
        manifest["checksums"])


def test_the_watcher_logs_an_unexpected_failure_once_and_keeps_watching(kb, monkeypatch, caplog):
    calls = []

    def broken():
        calls.append(1)
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(kb, "reload", broken)
    with caplog.at_level(logging.ERROR, logger="bot.kb.serving"):
        kb.watch(0.01)
        deadline = time.monotonic() + 10
        while len(calls) < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        kb.stop()
    assert len(calls) >= 5
    assert len([r for r in caplog.records if "reload failed" in r.getMessage()]) == 1
