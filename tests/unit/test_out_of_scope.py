"""The out-of-scope file (bot/kb/out_of_scope.py) and how builds use it: calibration samples,
the decline rule stored in the version, and the build's "unchanged?" decision."""

import json
import re

import numpy as np
import pytest

from bot.kb import out_of_scope
from bot.kb.corpus import load_corpus
from bot.kb.encoder import FakeEncoder
from bot.kb.index import IndexVersion, current_path
from bot.kb.ops import build_corpus, calibrate_version
from bot.settings import Settings
from tests.helpers import SMALL_CORPUS, write

HAND_WRITTEN = """\
# ours: questions we decline
out_of_scope:
  - do you sell llamas   # asked in March
  # cinema things
  - Cinema gift cards?
"""


def test_a_missing_file_is_empty_and_add_keeps_comments_order_and_skips_duplicates(tmp_path):
    path = tmp_path / "data" / "out_of_scope.yml"
    assert out_of_scope.load(path) == []
    assert out_of_scope.add(path, ["do you sell llamas", "DO YOU  sell llamas"]) == ["do you sell llamas"]
    assert path.read_text().startswith("# Questions this bot must not answer")
    write(path, HAND_WRITTEN)
    assert out_of_scope.add(path, ["cinema GIFT cards?", "  can I pay my\nphone bill here "]) == [
        "can I pay my phone bill here"]
    assert path.read_text() == HAND_WRITTEN + "  - can I pay my phone bill here\n"
    assert out_of_scope.load(path) == ["do you sell llamas", "Cinema gift cards?",
                                       "can I pay my phone bill here"]
    assert out_of_scope.add(path, ["do you sell llamas"]) == []
    empty = write(tmp_path / "empty.yml", "# nothing yet\nout_of_scope: []\n")
    out_of_scope.add(empty, ["a: question with # signs"])
    assert empty.read_text() == "# nothing yet\nout_of_scope:\n  - 'a: question with # signs'\n"
    assert out_of_scope.load(empty) == ["a: question with # signs"]


@pytest.mark.parametrize("text, message", [
    ("out_of_scope:\n  - fine\n  - [broken\n", "f.yml:4: malformed YAML"),
    ("faqs:\n  - id: x\n", "f.yml:1: unknown key 'faqs'"),
    ("- just a list\n", "f.yml:1: the file must hold a top-level 'out_of_scope:' list"),
    ("out_of_scope: one question\n", "f.yml:1: 'out_of_scope' must be a list of questions"),
    ("out_of_scope:\n  - fine\n  - 42\n", "f.yml:3: this item must be a question (non-empty text), got 42"),
    ("out_of_scope:\n  - fine\n  - ''\n", "f.yml:3: this item must be a question"),
    ("out_of_scope:\n  - " + "x" * 1001 + "\n", "f.yml:2: this item is longer than 1000 characters"),
])
def test_a_malformed_file_is_a_clear_error_with_its_line(tmp_path, text, message):
    path = write(tmp_path / "f.yml", text)
    with pytest.raises(out_of_scope.OutOfScopeError, match=re.escape(message)):
        out_of_scope.load(path)
    with pytest.raises(out_of_scope.OutOfScopeError, match=re.escape(message)):
        out_of_scope.add(path, ["new"])  # never overwritten
    assert path.read_text() == text
    with pytest.raises(out_of_scope.OutOfScopeError, match="question 1 must be a question"):
        out_of_scope.add(tmp_path / "g.yml", [" "])


def test_the_decline_rule_needs_an_example_nearer_than_the_best_entry():
    examples = np.eye(3, dtype=np.float32)
    queries = np.array([[1, 0, 0], [0.8, 0.6, 0], [0, 0, 0]], dtype=np.float32)
    assert out_of_scope.declining(queries, [0.9, 0.78, 0.5], examples).tolist() == [0, -1, -1]
    assert out_of_scope.declining(examples, [0.1, 0.1, 0.1], examples, skip_self=True).tolist() == [-1, -1, -1]
    assert out_of_scope.declining(queries, [0.9, 0.9, 0.9], examples[:0]).tolist() == [-1, -1, -1]
    assert out_of_scope.digest([]) == ""
    assert out_of_scope.digest(["A b"]) == out_of_scope.digest(["a  B", "a b"])


def test_builds_calibrate_with_the_file_decline_by_it_and_rebuild_when_only_it_changed(tmp_path, capsys,
                                                                                     monkeypatch):
    from bot.cli import main

    settings = Settings(root=tmp_path, corpus=write(tmp_path / "faq" / "f.yml", SMALL_CORPUS),
                        index_dir=tmp_path / "idx")
    encoder = FakeEncoder()
    first = build_corpus(settings, load_corpus(settings.corpus), settings.index_path, encoder=encoder)
    assert first.result.manifest["out_of_scope"] == ""
    version = IndexVersion(current_path(settings.index_path))
    assert version.out_of_scope is None and "+ 0 from the out-of-scope file" in version.thresholds.source
    again = build_corpus(settings, load_corpus(settings.corpus), settings.index_path, encoder=encoder)
    assert again.result.up_to_date
    out_of_scope.add(settings.out_of_scope_path, ["how long does a llama refund take", "llama shipping cost"])
    changed = build_corpus(settings, load_corpus(settings.corpus), settings.index_path, encoder=encoder)
    assert not changed.result.up_to_date and changed.result.manifest["out_of_scope"] == out_of_scope.digest(
        out_of_scope.load(settings.out_of_scope_path))
    assert build_corpus(settings, load_corpus(settings.corpus), settings.index_path,
                        encoder=encoder).result.up_to_date
    version = IndexVersion(current_path(settings.index_path))
    assert "+ 2 from the out-of-scope file" in version.thresholds.source
    report = json.loads((version.path / "calibration.json").read_text())
    assert report["out_of_scope_examples"] == 2
    assert version.out_of_scope is not None and version.out_of_scope.texts[1] == "llama shipping cost"
    # served and searched: nearer to an example than to any entry is a miss, whatever the scores
    from bot.kb.serving import KnowledgeBase

    kb = KnowledgeBase(settings.index_path, encoder=encoder)
    kb.reload()
    declined = kb.ask("llama shipping cost").decision
    assert declined.kind == "miss" and "out-of-scope example 'llama shipping cost'" in declined.reason
    assert kb.ask("How much does shipping cost?").decision.entry_id == "shipping-cost"
    monkeypatch.setattr("bot.cli.kb.encoder", lambda s: encoder)
    capsys.readouterr()
    assert main(["kb", "search", "--index", str(settings.index_path), "llama shipping cost", "--json"],
                settings) == 0
    assert json.loads(capsys.readouterr().out)["decision"] == "miss"
    # kb calibrate reads the file too; a malformed file stops builds and calibration, saying where
    _, report = calibrate_version(version.path, encoder, settings.index_path, out_of_scope=["x y z"])
    assert report["out_of_scope_examples"] == 1
    write(settings.out_of_scope_path, "out_of_scope:\n  - [oops\n")
    assert main(["kb", "calibrate", "--index", str(settings.index_path)], settings) == 1
    assert "out_of_scope.yml:3: malformed YAML" in capsys.readouterr().err
    assert main(["kb", "build", "--corpus", str(settings.corpus), "--index", str(settings.index_path)],
                settings) == 1
    assert "malformed YAML" in (err := capsys.readouterr().err) and "the serving index is unchanged" in err
