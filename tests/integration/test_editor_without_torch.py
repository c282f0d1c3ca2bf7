"""The editor's process never imports torch: from an empty index, its builder (a publish adding a
phrasing), a draft check ("try it") and the embedding check all encode through the ONNX export; the
export and its check against torch run in child processes. Run in a fresh interpreter, so that no
other test's imports count."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration

SCRIPT = r"""
import json, logging, sys, time
from dataclasses import replace
from pathlib import Path

from bot.db import sqlite_engine
from bot.editor.builder import Builder
from bot.editor.changes import SAVE, Change, revision
from bot.editor.drafts import Drafts
from bot.editor.service import EditorService
from bot.editor.versions import VersionStore
from bot.kb.index import IndexVersion, current_path
from bot.kb.onnx_export import texts_key
from bot.kb.validate import embedding_issues
from bot.settings import Settings

logging.basicConfig(level=logging.INFO, stream=sys.stderr)
work = Path(sys.argv[1])
settings = Settings(root=work, corpus=work / "faq", index_dir=work / "kb_index", tune_on_run=False,
                    out_of_scope=work / "out_of_scope.yml")
service = EditorService(settings.corpus_path, VersionStore(sqlite_engine(f"sqlite:///{work / 'editor.db'}")),
                        settings.index_path / ".editor.lock")
builder = Builder(settings, service.versions)
e = service.read().corpus.by_id()["refund-time"]
v = service.publish([Change(SAVE, e.id, replace(e, alternates=e.alternates + ("when is my money back",)),
                            revision(e))], "eve", "")
started = time.perf_counter()
assert builder.run_pending()
first_s = time.perf_counter() - started  # checked against torch in a child before serving
built = service.versions.get(v.id)
version = IndexVersion(current_path(settings.index_path))
# another new phrasing: it serves at once on that check, and is checked after serving
e = service.read().corpus.by_id()["refund-time"]
later = service.publish([Change(SAVE, e.id, replace(e, alternates=e.alternates + ("refund paid back when",)),
                                revision(e))], "eve", "")
started = time.perf_counter()
assert builder.run_pending()
second_s = time.perf_counter() - started
second = IndexVersion(current_path(settings.index_path))
checked_after = builder.encoders.wait_for_checks(600)
path = builder.encoder_for(service.read().corpus).folder
drafts = Drafts(settings, builder.encoder_for, builder.encoder_of)
corpus = service.read().corpus
tried = drafts.try_question("how long until I get my refund", corpus)
issues = embedding_issues(corpus, builder.encoder_for(corpus), index_dir=settings.index_path)
print(json.dumps({
    "torch": sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "sentence_transformers")),
    "state": built.build_state, "detail": built.build_detail,
    "record": version.manifest["encoder_export"], "phrasings": len(version.texts),
    "backend": builder.encoder_for(corpus).backend, "draft": tried["draft"]["decision"],
    "draft_entry": tried["draft"].get("entry_id"), "issues": len(issues),
    "first_s": first_s, "second_s": second_s, "second_state": service.versions.get(later.id).build_state,
    "second_record": second.manifest["encoder_export"], "checked_after": checked_after,
    "failed_after": builder.encoders.failed_check(),
    "remembered_after": json.loads((path / "export.json").read_text())["verified"],
    "second_key": texts_key(second.texts),
}))
"""


def test_the_editor_builds_and_checks_drafts_without_importing_torch(tmp_path):
    shutil.copytree(ROOT / "data" / "faq", tmp_path / "faq")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SUPPORTBOT_ENCODER_BACKEND": "onnx-int8"}
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-4000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["torch"] == [], out["torch"]  # on main: torch, sentence_transformers (the builder's encoder)
    assert out["state"] == "serving", out["detail"]
    assert out["backend"] == "onnx-int8"
    # the version's export record was checked against torch (in the child) on all its phrasings,
    # the new one included, so the action servers serve it through ONNX
    checks = out["record"]["checks"]
    assert checks["onnx"]["ok"] and checks["onnx"]["phrasings"] == out["phrasings"], checks
    assert checks["onnx-int8"]["phrasings"] == out["phrasings"]
    assert out["draft"] == "answer" and out["draft_entry"] == "refund-time", out
    assert "in a child process" in done.stderr  # the log says where torch ran
    # the second new phrasing served on the first one's check, and was checked against torch after
    assert out["second_state"] == "serving" and "provisional" in out["second_record"], out["second_record"]
    assert out["second_record"]["checks"]["onnx-int8"]["ok"]
    assert out["checked_after"] and out["failed_after"] is None
    after = [c for k, c in out["remembered_after"].items() if k.endswith(out["second_key"])]
    assert len(after) == 2 and all(c["ok"] for c in after), out["remembered_after"]
    print(f"a publish with a new phrasing served in {out['first_s']:.1f} s checked before serving, "
          f"{out['second_s']:.1f} s checked after")
