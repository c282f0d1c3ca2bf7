"""FAQs with one question per entry: calibration from the entries' answers (bot/kb/stand_ins.py)."""

import json

import numpy as np
import pytest

from bot import cli
from bot.kb.build import build_index
from bot.kb.corpus import load_corpus
from bot.kb.encoder import FakeEncoder
from bot.kb.index import IndexVersion, current_path, embed_phrasings
from bot.kb.ops import calibrate_version
from bot.kb.stand_ins import answer_sentences, samples, single_phrasing_entries, stand_in_questions
from tests.helpers import SMALL_CORPUS, write

SINGLE = """\
faqs:
  - id: refund-time
    question: How long does a refund take?
    answer: |
      We refund your money within three business days of receiving the return.
      The refund goes back to the card you paid with.
  - id: shipping-cost
    question: How much does shipping cost?
    answer: Shipping costs five dollars per order. Orders over fifty dollars ship for free.
  - id: password-reset
    question: How do I reset my password?
    answer: |
      - Open the sign-in page and choose forgot password.
      - Follow the link we send to your email address.
  - id: store-hours
    question: When is the shop open?
    answer: The shop opens at nine in the morning on weekdays. It closes at six in the evening.
  - id: gift-wrap
    question: Do you offer gift wrapping?
    answer: Yes. We wrap any gift for two dollars; tick gift wrapping at checkout.
"""
# three entries with alternates, then the five above under other ids
MIXED = SMALL_CORPUS + SINGLE.split("faqs:\n", 1)[1].replace("id: refund-time", "id: refund-days") \
    .replace("id: shipping-cost", "id: shipping-price").replace("id: password-reset", "id: password")


@pytest.fixture
def fake_cli(monkeypatch):
    monkeypatch.setattr("bot.cli.kb.encoder", lambda settings: FakeEncoder())


def test_answer_sentences_split_paragraphs_list_items_and_sentences():
    text = ("Choose **Sign in**, then [Create account](https://example.com/a). You can also sign up\n"
            "after a guest checkout, e.g. from the confirmation page.\n\n"
            "- Open the page.\n- Yes.\n1. Click the blue button\n\nSee below. Done")
    assert answer_sentences(text) == [
        "Choose Sign in , then Create account",
        "You can also sign up after a guest checkout, e.g. from the confirmation page.",
        "Open the page.",
        "Click the blue button",
    ]  # "Yes." and "Done" say nothing about the entry; Markdown and URLs are dropped
    assert answer_sentences(text, limit=2) == answer_sentences(text)[:2]


def test_only_entries_with_one_phrasing_get_stand_ins(tmp_path):
    corpus = load_corpus(write(tmp_path / "faq.yml", MIXED))
    version = IndexVersion(build_index(corpus, tmp_path / "idx", FakeEncoder()).path)
    singles = single_phrasing_entries(version.owners, len(version.entries))
    assert [version.entries[i].id for i in singles] == [
        "refund-days", "shipping-price", "password", "store-hours", "gift-wrap"]
    texts, labels = stand_in_questions(version.entries, singles)
    assert len(texts) == len(labels) == 9 and set(labels.tolist()) == set(singles.tolist())
    assert texts[:2] == ["We refund your money within three business days of receiving the return.",
                         "The refund goes back to the card you paid with."]
    assert all(version.entries[i].answer not in texts for i in range(3))  # entries with alternates


def test_a_single_question_faq_builds_and_says_what_its_thresholds_rest_on(tmp_path, fake_cli, capsys):
    """The old code stopped: 'no in-scope samples: entries need two or more phrasings'."""
    faq, idx = write(tmp_path / "faq" / "f.yml", SINGLE), tmp_path / "idx"
    assert cli.main(["kb", "build", "--corpus", str(faq), "--index", str(idx)]) == 0
    out, err = capsys.readouterr()
    report = json.loads((current_path(idx) / "calibration.json").read_text())
    n = report["in_scope"]["answer_sentences"]
    assert report["in_scope"] == {"phrasings": 0, "entries_with_alternates": 0, "answer_sentences": n,
                                  "entries_with_one_phrasing": 5}
    assert n == 9 == report["samples_in_scope"]  # every sentence of three words or more ("Yes." is not)
    source = report["thresholds"]["source"]
    assert f"{n} answer sentences of 5 entries with one question, as stand-in questions" in source
    assert source.startswith("calibrated on the corpus") and "leave-one-out" not in source
    assert source in out  # kb build prints what the thresholds rest on...
    assert f"the thresholds rest on {n} sentences of answers standing in for customers' questions" in err
    assert f"estimated precision is {report['estimated_precision']} (target 0.95" in err
    t = report["thresholds"]
    assert 0.3 <= t["clarify"] <= t["answer"] <= 0.95 and 0 <= t["margin"] <= 0.1
    # ...and the thresholds work: the entries' own questions are answered, nonsense is not
    for question, entry in [("how do i reset my password", "password-reset"),
                            ("how much does shipping cost", "shipping-cost")]:
        assert cli.main(["kb", "search", "--index", str(idx), question, "--json"]) == 0
        decision = json.loads(capsys.readouterr().out)
        assert (decision["decision"], decision["entry_id"]) == ("answer", entry), decision
    assert cli.main(["kb", "search", "--index", str(idx), "zebra violin concerto", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["decision"] != "answer"


def test_a_mixed_faq_calibrates_on_both_and_the_source_counts_each(tmp_path):
    corpus = load_corpus(write(tmp_path / "faq.yml", MIXED))
    result = build_index(corpus, tmp_path / "idx", FakeEncoder())
    _, report = calibrate_version(result.path, FakeEncoder(), tmp_path / "idx")
    assert report["in_scope"] == {"phrasings": 8, "entries_with_alternates": 3, "answer_sentences": 9,
                                  "entries_with_one_phrasing": 5}
    assert report["samples_in_scope"] == 17
    assert "leave-one-out of 8 phrasings of 3 entries with alternates + 9 answer sentences of 5 entries" \
        in report["thresholds"]["source"]
    # a FAQ where every entry has alternates calibrates as before: no stand-ins
    plain = build_index(load_corpus(write(tmp_path / "plain.yml", SMALL_CORPUS)), tmp_path / "p", FakeEncoder())
    _, report = calibrate_version(plain.path, FakeEncoder(), tmp_path / "p")
    assert report["in_scope"]["answer_sentences"] == 0 and "stand-in" not in report["thresholds"]["source"]


def test_a_stand_in_is_not_scored_against_its_own_answer(tmp_path):
    """Its own entry's answer evidence is what the entry's question gets, not its own sentence's."""
    corpus = load_corpus(write(tmp_path / "faq.yml", SINGLE))
    encoder = FakeEncoder()
    version = IndexVersion(build_index(corpus, tmp_path / "idx", encoder, head_weight=0.0,
                                       lexical_weight=0.0, answer_weight=1.0).path)
    vectors = embed_phrasings(tmp_path / "idx", encoder, version.texts)[0]
    texts, labels = stand_in_questions(version.entries, np.arange(len(version.entries)))
    q = encoder.encode(texts)
    got = samples(version, vectors, q, labels, texts)
    answers = version.state("answer")
    for n, label in enumerate(labels):
        if label not in got.top_ids[n]:
            continue
        col = list(got.top_ids[n]).index(label)
        # (phrasing cosine + 1.0 * answer evidence) / 2, the evidence being the question's cosine
        expected = (float(q[n] @ vectors[label]) + float(vectors[label] @ answers[label])) / 2
        assert got.top_scores[n, col] == pytest.approx(expected, abs=1e-5)
        served = version.search(q[n:n + 1], 20, texts[n:n + 1])[0]
        own = next(h.score for h in served if h.entry_id == version.entries[label].id)
        assert own > got.top_scores[n, col]  # as served, the sentence matches its own answer better


def test_no_alternates_and_no_sentence_in_any_answer_is_a_clear_error(tmp_path, fake_cli, capsys):
    faq = write(tmp_path / "faq" / "f.yml", """\
        faqs:
          - id: a
            question: Where is my order?
            answer: In transit.
          - id: b
            question: Can I pay by card?
            answer: Yes.
    """)
    assert cli.main(["kb", "build", "--corpus", str(faq), "--index", str(tmp_path / "idx")]) == 1
    err = capsys.readouterr().err
    assert "no in-scope samples to calibrate on" in err and "--no-calibrate" in err
    assert cli.main(["kb", "build", "--corpus", str(faq), "--index", str(tmp_path / "idx"),
                     "--no-calibrate"]) == 0


def test_kb_tune_on_a_single_question_faq_says_why_and_builds_with_the_base_model(tmp_path, fake_cli,
                                                                                  monkeypatch, capsys):
    """The old code stopped with exit 1: 'tuning needs at least two entries with two or more phrasings'."""
    from bot.kb import ops

    monkeypatch.setattr(ops, "base_encoder", lambda settings: FakeEncoder())
    faq, idx = write(tmp_path / "faq" / "f.yml", SINGLE), tmp_path / "idx"
    assert cli.main(["kb", "tune", "--corpus", str(faq), "--index", str(idx)]) == 0
    out = capsys.readouterr().out
    assert "not tuned: tuning needs at least two entries with two or more phrasings" in out
    assert "0 of 5 entries have alternates, so the base model serves" in out
    assert "built index" in out and "as stand-in questions" in out
    assert IndexVersion(current_path(idx)).model == FakeEncoder.name and not (idx / "models").exists()


def test_supportbot_run_does_not_try_to_tune_a_single_question_faq(tmp_path, monkeypatch):
    from bot.kb import ops
    from bot.settings import Settings

    monkeypatch.setattr(ops, "base_encoder", lambda settings: FakeEncoder())
    monkeypatch.setattr(ops, "tune_corpus", lambda *a, **k: pytest.fail("tuning was tried"))
    write(tmp_path / "faq" / "f.yml", SINGLE)
    settings = Settings(root=tmp_path, corpus=tmp_path / "faq", index_dir=tmp_path / "idx")
    assert not ops.needs_tuning(settings)
    said: list[str] = []
    prepared = ops.prepare_index(settings, say=said.append)
    assert prepared.fatal is None and prepared.tuned is None
    assert len(prepared.problems) == 1 and "the thresholds rest on 9 sentences" in prepared.problems[0]
    assert any(s.startswith("not adapting the encoder to the FAQ: tuning needs") for s in said)
    assert any("as stand-in questions" in s for s in said)  # the build's summary
