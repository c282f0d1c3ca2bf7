import json

import numpy as np
import pytest

from bot import cli
from bot.kb.calibrate import Samples, choose_thresholds
from bot.kb.encoder import FakeEncoder
from bot.kb.index import current_name
from bot.settings import Settings, SettingsError
from tests.helpers import SMALL_CORPUS, write


def synthetic_samples(rng):
    """In-scope: right at top with scores ~0.75; confusions ~0.5; out-of-scope ~0.35."""
    labels, ids, scores = [], [], []
    for i in range(300):
        right = i % 10 != 0
        top = rng.normal(0.75 if right else 0.5, 0.05)
        labels.append(i % 7)
        ids.append([i % 7 if right else (i + 1) % 7, 99, 98, 97, 96])
        scores.append([top, top - 0.1, top - 0.2, top - 0.3, top - 0.4])
    for _ in range(100):
        top = rng.normal(0.35, 0.05)
        labels.append(-1)
        ids.append([1, 2, 3, 4, 5])
        scores.append([top, top - 0.05, top - 0.1, top - 0.15, top - 0.2])
    return Samples(np.array(labels), np.array(ids), np.array(scores))


def test_calibration_reaches_the_target_precision_between_the_populations():
    t, report = choose_thresholds(synthetic_samples(np.random.default_rng(0)), 0.95)
    assert report["target_reached"] and report["estimated_precision"] >= 0.95
    assert 0.45 < t.answer < 0.65  # above out-of-scope, below nearly all right answers
    assert report["estimated_in_scope_accuracy"] > 0.7
    assert t.clarify <= t.answer


def test_stricter_target_never_lowers_the_threshold():
    samples = synthetic_samples(np.random.default_rng(1))
    loose, _ = choose_thresholds(samples, 0.8)
    strict, _ = choose_thresholds(samples, 0.99)
    assert (strict.answer, strict.margin) >= (loose.answer, loose.margin) or \
        strict.answer >= loose.answer


def test_settings_from_env_convert_types_and_reject_bad_values():
    s = Settings.from_env({"SUPPORTBOT_SEARCH_K": "30", "SUPPORTBOT_RELOAD_INTERVAL": "0.5",
                           "SUPPORTBOT_INDEX_DIR": "/tmp/x"})
    assert s.search_k == 30 and s.reload_interval == 0.5 and str(s.index_path) == "/tmp/x"
    with pytest.raises(SettingsError, match="SUPPORTBOT_SEARCH_K"):
        Settings.from_env({"SUPPORTBOT_SEARCH_K": "many"})
    with pytest.raises(SettingsError, match="postgresql"):
        Settings.from_env({"SUPPORTBOT_TRACKER_URL": "mysql://x"})
    env = Settings.from_env({"SUPPORTBOT_TRACKER_URL": "postgresql://u:p@127.0.0.1/rasa"}).rasa_env()
    assert env["TRACKER_DIALECT"] == "postgresql" and env["TRACKER_URL"].startswith("postgresql://")


@pytest.fixture
def fake_cli(monkeypatch):
    monkeypatch.setattr("bot.cli.kb.encoder", lambda settings: FakeEncoder())


def test_cli_validate_exit_codes(tmp_path, fake_cli, capsys):
    good = write(tmp_path / "good" / "f.yml", SMALL_CORPUS)
    assert cli.main(["kb", "validate", "--corpus", str(good), "--index", str(tmp_path / "i")]) == 0
    bad = write(tmp_path / "bad" / "f.yml", "faqs:\n  - id: a\n    question: Q\n    answer: ''\n")
    assert cli.main(["kb", "validate", "--corpus", str(bad)]) == 1
    assert "f.yml:4 [a]: 'answer' is empty" in capsys.readouterr().err


def test_cli_build_search_eval_and_a_failed_build_keeps_serving(tmp_path, fake_cli, capsys):
    faq, idx = write(tmp_path / "faq" / "f.yml", SMALL_CORPUS), tmp_path / "idx"
    args = ["--corpus", str(faq), "--index", str(idx)]
    assert cli.main(["kb", "build", *args]) == 0
    serving = current_name(idx)
    assert cli.main(["kb", "search", "--index", str(idx), "forgot my password", "--json"]) == 0
    built, searched = capsys.readouterr().out.split("\n{", 1)  # the build's lines, then the JSON
    assert "thresholds: answer" in built and "leave-one-out of 8 phrasings of 3 entries" in built
    out = json.loads("{" + searched)
    assert out["hits"][0]["entry_id"] == "password-reset"
    queries = write(tmp_path / "q.csv", "query,expected_id\nforgot my password,password-reset\n"
                                        "zebra violin,\n")
    assert cli.main(["kb", "eval", "--index", str(idx), "--queries", str(queries), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n"] == 2 and report["recall_at_1"] == 1.0
    write(faq, "faqs:\n  - id: a\n    question: [broken\n")
    assert cli.main(["kb", "build", *args]) == 1
    err = capsys.readouterr().err
    assert "malformed YAML" in err and "serving index is unchanged" in err
    assert current_name(idx) == serving
    bad_q = write(tmp_path / "bad.csv", "query,expected_id\nhello,no-such-entry\n")
    assert cli.main(["kb", "eval", "--index", str(idx), "--queries", str(bad_q)]) == 1
    assert "bad.csv:2" in capsys.readouterr().err


def test_build_weights_come_from_the_settings_and_a_flag_overrides_them(tmp_path, fake_cli,
                                                                       monkeypatch, capsys):
    faq, idx = write(tmp_path / "faq" / "f.yml", SMALL_CORPUS), tmp_path / "idx"
    args = ["--corpus", str(faq), "--index", str(idx)]

    def manifest():
        from bot.kb.index import current_path

        return json.loads((current_path(idx) / "manifest.json").read_text())

    assert cli.main(["kb", "build", *args]) == 0
    assert (manifest()["answer_weight"], manifest()["head_weight"], manifest()["lexical_weight"]) == (
        Settings().answer_weight, Settings().head_weight, Settings().lexical_weight) == (0.5, 0.5, 0.4)
    monkeypatch.setenv("SUPPORTBOT_LEXICAL_WEIGHT", "0")
    monkeypatch.setenv("SUPPORTBOT_ANSWER_WEIGHT", "0.25")
    assert cli.main(["kb", "build", *args]) == 0  # a setting changed: a new version
    assert (manifest()["answer_weight"], manifest()["lexical_weight"]) == (0.25, 0.0)
    assert cli.main(["kb", "build", *args, "--lexical-weight", "0.2"]) == 0
    assert (manifest()["answer_weight"], manifest()["lexical_weight"]) == (0.25, 0.2)
    monkeypatch.setenv("SUPPORTBOT_HEAD_WEIGHT", "12")
    assert cli.main(["kb", "build", *args]) == 1
    assert "SUPPORTBOT_HEAD_WEIGHT must be between 0 and 10" in capsys.readouterr().err
    monkeypatch.setenv("SUPPORTBOT_HEAD_WEIGHT", "0.5")
    monkeypatch.setenv("SUPPORTBOT_TARGET_PRECISION", "1.5")
    assert cli.main(["kb", "build", *args]) == 1
    assert "SUPPORTBOT_TARGET_PRECISION must be between 0 and 1" in capsys.readouterr().err
