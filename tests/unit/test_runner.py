"""`supportbot run` prepares the index: build, then tune only when no tuned model fits the FAQ.
The preparation runs in a child process; here it runs in this one, with the operations faked."""

import json
from dataclasses import replace
from pathlib import Path

import pytest

from bot.apps import supervisor
from bot.apps.child import call
from bot.kb import ops
from bot.kb.corpus import load_corpus
from bot.kb.models import MANIFEST, tuned_path
from bot.kb.tune import TuneOptions
from bot.settings import Settings
from tests.helpers import SMALL_CORPUS, write


@pytest.fixture
def settings(tmp_path) -> Settings:
    write(tmp_path / "faq" / "faq.yml", SMALL_CORPUS)
    return Settings(root=tmp_path, corpus=Path("faq"), index_dir=Path("kb_index"))


def fake_tuned_model(settings: Settings, **options) -> Path:
    corpus = load_corpus(settings.corpus_path)
    path = tuned_path(settings.index_path, corpus, "all-MiniLM-L6-v2")
    path.mkdir(parents=True)
    recorded = {**TuneOptions(**options).__dict__, "epochs": 3}
    (path / MANIFEST).write_text(json.dumps({"options": recorded}))
    return path


def test_tuning_is_needed_until_a_model_fits_these_phrasings_and_options(settings):
    assert ops.needs_tuning(settings)
    fake_tuned_model(settings)
    assert not ops.needs_tuning(settings)
    faq = settings.corpus_path / "faq.yml"
    faq.write_text(faq.read_text().replace("shipping price", "postage price"))
    assert ops.needs_tuning(settings)  # a changed phrasing: that model no longer fits


def test_a_model_tuned_with_other_options_does_not_count(settings):
    fake_tuned_model(settings, seed=14)
    assert ops.needs_tuning(settings)


@pytest.fixture
def commands(monkeypatch):
    """The operations ensure_index runs, each succeeding unless listed in ``fail``."""
    calls: list[list[str]] = []
    fail: set[str] = set()

    def fake(verb):
        def operation(settings, *args, **kwargs):
            assert isinstance(settings, Settings)
            calls.append(["kb", verb])
            if verb in fail:
                raise ops.KbOpsError(f"{verb} failed")
            if verb == "build":
                return ops.Built(ops.BuildResult("v", settings.index_path, {"entries": 3}, True), 0.0)
            return ops.Tuned(settings.index_path, {}, False, None)
        return operation

    monkeypatch.setattr(ops, "build_corpus", fake("build"))
    monkeypatch.setattr(ops, "tune_corpus", fake("tune"))
    return calls, fail


def ensure_index(settings):
    supervisor.ensure_index(settings, run=lambda log_file, target, *args: call(target, *args))


def test_run_builds_then_tunes_when_needed(settings, commands):
    calls, _ = commands
    ensure_index(settings)
    assert calls == [["kb", "build"], ["kb", "tune"]]


def test_run_skips_tuning_when_switched_off_or_a_model_fits(settings, commands):
    calls, _ = commands

    ensure_index(replace(settings, tune_on_run=False))
    fake_tuned_model(settings)
    ensure_index(settings)
    assert calls == [["kb", "build"], ["kb", "build"]]


def test_a_failed_tuning_keeps_the_built_index_and_a_failed_first_build_stops(settings, commands,
                                                                              capsys):
    calls, fail = commands
    fail.add("tune")
    ensure_index(settings)
    assert "the index built with the base model keeps serving" in capsys.readouterr().err
    fail.add("build")
    with pytest.raises(supervisor.StartError, match="could not be built"):
        ensure_index(settings)
    assert calls[-1] == ["kb", "build"]  # no tuning on a FAQ with errors



def test_run_shows_what_the_build_warns_about(settings, monkeypatch, capsys):
    """An empty FAQ file, and a tuned model that no longer fits the FAQ: both reach the operator."""
    from bot.kb.encoder import FakeEncoder

    monkeypatch.setattr(ops, "base_encoder", lambda settings: FakeEncoder())
    (settings.corpus_path / "empty.yml").write_text("")
    fake_tuned_model(settings)
    faq = settings.corpus_path / "faq.yml"
    faq.write_text(faq.read_text().replace("shipping price", "postage price"))  # the model is stale now
    ensure_index(replace(settings, tune_on_run=False))
    out, err = capsys.readouterr()
    assert "built index" in out
    assert "empty file; it adds no entries" in err and "trained on other FAQ phrasings" in err


def test_origins_and_proxies_are_checked_with_what_to_write():
    import pytest

    from bot.rasa.channels.origins import origin_allowed
    from bot.settings import Settings, SettingsError

    with pytest.raises(SettingsError, match="scheme://host"):
        Settings(allowed_origins="shop.example.com")
    with pytest.raises(SettingsError, match="not an IP address"):
        Settings(trusted_proxies="proxy.local")
    allowed = Settings(allowed_origins="https://shop.example.com/, http://localhost:8080").origin_list
    assert allowed == ["https://shop.example.com", "http://localhost:8080"]
    assert origin_allowed("https://shop.example.com", "bot.example.com", allowed)
    assert origin_allowed("https://bot.example.com", "bot.example.com", allowed)  # its own pages
    assert origin_allowed(None, "bot.example.com", allowed)  # not a browser
    assert not origin_allowed("https://evil.example.com", "bot.example.com", allowed)
    assert origin_allowed("https://evil.example.com", "bot.example.com", ["*"])
