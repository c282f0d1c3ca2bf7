"""The editor's builder on a real PostgreSQL (bot/editor/builder.py, bot/kb/shared.py): a publish waits
while another node's build holds the lock, then builds once and moves the shared pointer to the
calibrated version, which another node (its own kb_index/) unpacks with the edited answer."""

import hashlib
import shutil
import threading
import time
from dataclasses import replace

from bot.db import engine
from bot.editor.builder import Builder
from bot.editor.changes import SAVE, Change, revision
from bot.editor.service import EditorService
from bot.editor.versions import BUILDING, SERVING, VersionStore
from bot.kb.encoder import FakeEncoder
from bot.kb.index import IndexVersion, current_path
from bot.kb.shared import SharedIndex, pack
from bot.settings import Settings


def test_a_publish_waits_for_the_lock_then_builds_once_and_moves_the_pointer(tmp_path, root, database):
    shutil.copytree(root / "data" / "faq", tmp_path / "faq")
    settings = Settings(root=tmp_path, corpus=tmp_path / "faq", index_dir=tmp_path / "editor-idx",
                        handoff_url=database, tune_on_run=False)
    versions = VersionStore(engine(database))
    service = EditorService(tmp_path / "faq", versions, tmp_path / "editor-idx" / ".editor.lock")
    told = []
    builder = Builder(settings, versions, lambda: told.append(1), base=FakeEncoder())
    e = service.read().corpus.by_id()["refund-time"]
    v = service.publish([Change(SAVE, e.id, replace(e, answer="Two."), revision(e))], "eve", "")
    other = SharedIndex(engine(database), tmp_path / "cli-idx")  # another node's `kb build`, running
    held, release = threading.Event(), threading.Event()

    def other_build():
        with other.build_lock():
            held.set()
            release.wait(60)

    holder = threading.Thread(target=other_build)
    holder.start()
    assert held.wait(30)
    runner = threading.Thread(target=builder.run_pending)
    runner.start()
    deadline = time.monotonic() + 20
    while "waiting for another FAQ build" not in (versions.get(v.id).build_detail or ""):
        assert time.monotonic() < deadline, versions.get(v.id).build_detail
        time.sleep(0.1)
    assert versions.get(v.id).build_state == BUILDING and told == [] and other.pointer() is None
    release.set()
    holder.join(30)
    runner.join(120)
    built = versions.get(v.id)
    assert built.build_state == SERVING, built.build_detail
    pointer = other.pointer()
    folder = current_path(settings.index_path)
    assert pointer.name == built.index_version == folder.name
    assert pointer.digest == SharedIndex(engine(database), settings.index_path).local().digest
    assert hashlib.sha256(pack(folder)).hexdigest() == pointer.digest  # published after calibration
    assert len(told) == 2
    reader = SharedIndex(engine(database), tmp_path / "node-idx")
    assert reader.sync()
    version = IndexVersion(current_path(tmp_path / "node-idx"))
    assert version.by_id["refund-time"].answer == "Two."
    assert "calibrated on the corpus" in version.thresholds.source
