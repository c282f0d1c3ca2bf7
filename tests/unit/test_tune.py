import json
import random

import pytest

from bot.kb.build import build_index
from bot.kb.corpus import load_corpus
from bot.kb.encoder import FakeEncoder
from bot.kb.index import IndexVersion, KbIndexError
from bot.kb.models import (
    MANIFEST,
    corpus_encoder,
    fresh_tuned,
    held_out_rows,
    prune_models,
    same_options,
    stale_tuned,
    training_hash,
    tuned_path,
    version_encoder,
)
from bot.kb.ops import calibrate_version
from bot.kb.tune import TuneError, TuneOptions, held_out_phrasings, training_batches, tune
from tests.helpers import SMALL_CORPUS, write


def test_batches_hold_one_pair_per_entry_and_use_every_phrasing_once_as_anchor():
    entries = [[f"e{e} p{p}" for p in range(n)] for e, n in enumerate([5, 3, 2, 1, 7, 4])]
    batches = training_batches(entries, batch_size=3, rng=random.Random(0))
    anchors = []
    for a, p in batches:
        owners = [s.split()[0] for s in a]
        assert len(set(owners)) == len(owners) <= 3  # no entry twice: no false negatives
        assert [s.split()[0] for s in p] == owners and all(x != y for x, y in zip(a, p))
        anchors += a
    # each phrasing of a multi-phrasing entry is an anchor once, apart from a last lone entry's leftovers
    assert len(anchors) == len(set(anchors))
    assert len(anchors) >= sum(n for n in [5, 3, 2, 7, 4]) - 3
    assert not any(s.startswith("e3 ") for s in anchors)  # one phrasing: no positive
    assert training_batches(entries, 3, random.Random(0)) == batches  # deterministic per seed
    assert training_batches(entries, 3, random.Random(1)) != batches


def test_training_hash_follows_phrasings_not_answers(tmp_path):
    base = load_corpus(write(tmp_path / "a.yml", SMALL_CORPUS))
    answer_edit = load_corpus(write(tmp_path / "b.yml", SMALL_CORPUS.replace("**3 days**", "5 days")))
    phrasing_edit = load_corpus(write(tmp_path / "c.yml", SMALL_CORPUS.replace("shipping price",
                                                                               "postage price")))
    model = "all-MiniLM-L6-v2"
    assert training_hash(answer_edit.entries, model) == training_hash(base.entries, model)
    assert training_hash(phrasing_edit.entries, model) != training_hash(base.entries, model)
    assert training_hash(base.entries, "another-model") != training_hash(base.entries, model)


def fake_tuned(index_dir, corpus, base=FakeEncoder.name):
    """A tuned-model folder as kb tune leaves it (weights are not needed to test the bookkeeping)."""
    path = tuned_path(index_dir, corpus, base)
    path.mkdir(parents=True)
    (path / MANIFEST).write_text(json.dumps({"name": path.name}))
    return path


def test_fresh_model_is_chosen_and_a_stale_one_ignored_with_a_warning(tmp_path, monkeypatch):
    import bot.kb.models as tune_module

    loaded = []
    monkeypatch.setattr(tune_module, "SentenceTransformerEncoder", lambda p: loaded.append(p) or p)
    index = tmp_path / "kb_index"
    corpus = load_corpus(write(tmp_path / "faq.yml", SMALL_CORPUS))
    base = FakeEncoder()
    assert corpus_encoder(corpus, index, base) == (base, None)

    path = fake_tuned(index, corpus)
    assert fresh_tuned(index, corpus, base.name) == path
    assert corpus_encoder(corpus, index, base) == (path, None) and loaded == [path]

    edited = load_corpus(write(tmp_path / "faq.yml", SMALL_CORPUS.replace("shipping price",
                                                                          "postage price")))
    assert fresh_tuned(index, edited, base.name) is None
    assert stale_tuned(index, edited, base.name) == [path]
    encoder, note = corpus_encoder(edited, index, base)
    assert encoder is base and path.name in note and "kb tune" in note

    # another base model (SUPPORTBOT_MODEL changed): the model tuned from the old one is stale too
    other = FakeEncoder()
    other.name = "another-base-model"
    encoder, note = corpus_encoder(corpus, index, other)
    assert encoder is other and path.name in note


def test_version_encoder_uses_the_model_the_version_was_built_with(tmp_path):
    index = tmp_path / "kb_index"
    corpus = load_corpus(write(tmp_path / "faq.yml", SMALL_CORPUS))
    fake = FakeEncoder()
    version = IndexVersion(build_index(corpus, index, fake).path)
    assert version.manifest["model_ref"] == "" and version.model_path is None
    assert version_encoder(version, fake) is fake
    other = FakeEncoder()
    other.name = "another-model"
    with pytest.raises(KbIndexError, match="built with model 'fake-hashing-encoder'.*kb build"):
        version_encoder(version, other)
    assert version_encoder(version, other, loaded=fake) is fake


def test_tuned_model_is_named_relative_to_the_index(tmp_path):
    index = tmp_path / "kb_index"
    corpus = load_corpus(write(tmp_path / "faq.yml", SMALL_CORPUS))
    encoder = FakeEncoder()
    encoder.name = tuned_path(index, corpus, "all-MiniLM-L6-v2").name
    encoder.ref = str(tuned_path(index, corpus, "all-MiniLM-L6-v2"))  # type: ignore[attr-defined]
    version = IndexVersion(build_index(corpus, index, encoder).path)
    assert version.manifest["model_ref"] == f"models/{encoder.name}"
    assert version.model_path == index / "models" / encoder.name


def test_prune_keeps_models_in_use(tmp_path):
    index = tmp_path / "kb_index"
    corpus = load_corpus(write(tmp_path / "faq.yml", SMALL_CORPUS))
    used = fake_tuned(index, corpus)
    encoder = FakeEncoder()
    encoder.name, encoder.ref = used.name, str(used)  # type: ignore[attr-defined]
    build_index(corpus, index, encoder)
    edited = load_corpus(write(tmp_path / "faq2.yml", SMALL_CORPUS.replace("shipping price", "x y")))
    unused, kept = fake_tuned(index, edited), index / "models" / "tuned-new"
    kept.mkdir()
    prune_models(index, keep={"tuned-new"})
    assert used.is_dir() and kept.is_dir() and not unused.exists()


def test_one_alternate_per_entry_with_three_phrasings_is_held_out(tmp_path):
    corpus = load_corpus(write(tmp_path / "faq.yml", SMALL_CORPUS))
    held = held_out_phrasings(corpus.entries, seed=13)
    by_id = {e.id: e for e in corpus.entries}
    assert set(held) == {"refund-time", "shipping-cost"}  # password-reset has two phrasings only
    for entry_id, text in held.items():
        assert text in by_id[entry_id].phrasings[1:]  # an alternate, never the question
    # the choice depends on the seed and the entry, not on where the entry sits in the file
    assert held_out_phrasings(list(reversed(corpus.entries)), seed=13) == held
    assert any(held_out_phrasings(corpus.entries, seed=s) != held for s in range(1, 10))


def test_a_tuned_version_is_calibrated_on_the_phrasings_held_out_of_tuning(tmp_path):
    index = tmp_path / "kb_index"
    corpus = load_corpus(write(tmp_path / "faq.yml", SMALL_CORPUS))
    held = held_out_phrasings(corpus.entries, seed=13)
    model = fake_tuned(index, corpus)
    (model / MANIFEST).write_text(json.dumps({"name": model.name, "held_out": held}))
    encoder = FakeEncoder()
    encoder.name, encoder.ref = model.name, str(model)  # type: ignore[attr-defined]
    version = IndexVersion(build_index(corpus, index, encoder).path)
    rows = held_out_rows(version)
    assert rows is not None
    assert sorted((version.entries[version.owners[r]].id, version.texts[r]) for r in rows) == \
        sorted(held.items())
    _, report = calibrate_version(version.path, encoder, index)
    assert report["samples_in_scope"] == len(held)
    assert "held out of tuning" in report["thresholds"]["source"]

    # the base model (or a tuned model that held nothing out): every phrasing of a multi-phrasing entry
    base = IndexVersion(build_index(corpus, tmp_path / "base_index", FakeEncoder()).path)
    assert held_out_rows(base) is None
    _, report = calibrate_version(base.path, FakeEncoder(), tmp_path / "base_index")
    assert report["samples_in_scope"] == sum(len(e.phrasings) for e in corpus.entries)


def test_a_model_trained_with_other_options_is_not_up_to_date():
    recorded = {**TuneOptions().__dict__, "epochs": 7}
    assert same_options(recorded, TuneOptions())  # unset epochs: any number of passes will do
    assert same_options(recorded, TuneOptions(epochs=7))
    assert not same_options(recorded, TuneOptions(epochs=3))
    assert not same_options(recorded, TuneOptions(hold_out=False))
    assert not same_options(recorded, TuneOptions(seed=1))


def test_bad_input_is_refused_before_loading_a_model(tmp_path):
    with pytest.raises(TuneError, match="epochs"):
        TuneOptions(epochs=0)
    with pytest.raises(TuneError, match="batch size"):
        TuneOptions(batch_size=1)
    single = load_corpus(write(tmp_path / "one.yml", """\
        faqs:
          - id: only
            question: Where is my order?
            answer: In transit.
    """))
    with pytest.raises(TuneError, match="at least two entries"):
        tune(single, tmp_path / "kb_index")
