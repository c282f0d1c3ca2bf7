"""Labelled real questions (bot/inbox/labels.py) and calibrating on them (bot/kb/traffic*.py,
``kb calibrate --from-traffic``), with the fake encoder."""

import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
import sqlalchemy as sa

from bot import cli
from bot.db import engine
from bot.inbox.labels import collect
from bot.inbox.store import ALTERNATES, MISS, NEW_ENTRY, NOT_OURS, InboxStore
from bot.kb.build import build_index
from bot.kb.corpus import load_corpus
from bot.kb.encoder import FakeEncoder
from bot.kb.index import IndexVersion, current_path, embed_phrasings
from bot.kb.ops import calibrate_version
from bot.kb.traffic import WRONG_ANSWER, LabelledQuestion, traffic_samples
from bot.kb.traffic_calibration import TooFewLabels, calibrate_from_traffic, read_log
from bot.settings import Settings
from tests.helpers import write

TOPICS = {
    "refund-time": ["how long does a refund take", "when do I get my money back", "refund timing for returns"],
    "shipping-cost": ["how much does shipping cost", "what are the delivery charges", "shipping price"],
    "password-reset": ["how do I reset my password", "I forgot my password", "password reset link"],
    "order-status": ["where is my order", "track my parcel", "order tracking number"],
    "cancel-order": ["how do I cancel my order", "cancel a purchase", "stop my order before it ships"],
    "gift-wrap": ["can you gift wrap items", "gift wrapping options", "wrap my present"],
}
NEAR_TOPIC = ("at the other shop with a voucher card", "for my neighbour's phone contract bill")
T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)


def faq_yaml(topics=TOPICS):
    lines = ["faqs:"]
    for entry_id, (question, *alternates) in topics.items():
        lines += [f"  - id: {entry_id}", f"    question: {question}", "    alternates:"]
        lines += [f"      - {a}" for a in alternates] + [f"    answer: What to know about {entry_id}."]
    return "\n".join(lines) + "\n"


@pytest.fixture
def built(tmp_path):
    idx, encoder = tmp_path / "idx", FakeEncoder()
    corpus = load_corpus(write(tmp_path / "faq" / "f.yml", faq_yaml()))
    result = build_index(corpus, idx, encoder, calibrate=lambda p, v, o: calibrate_version(p, encoder, idx))
    return result.path, idx, encoder


def real_traffic():
    """Customers' wordings of each phrasing (helpful votes) and near-topic questions that are not
    ours (they share the entries' words), labelled in several inbox actions."""
    out, n = [], 0
    for entry_id, phrasings in TOPICS.items():
        for p in phrasings:
            for extra in ("please", "hi there"):
                out.append(LabelledQuestion(f"{p} {extra}", entry_id=entry_id, sources=("vote_helpful",),
                                            at=T0 + timedelta(hours=n), group=f"g{n % 7}"))
                n += 1
            for tail in NEAR_TOPIC:
                out.append(LabelledQuestion(f"{p} {tail}", out_of_scope=True, sources=("inbox_not_ours",),
                                            at=T0 + timedelta(hours=n), group=f"g{n % 7}"))
                n += 1
    return out


def test_near_topic_questions_labelled_not_ours_raise_the_thresholds_and_the_error_is_reported(built):
    path, idx, encoder = built
    corpus_only = IndexVersion(path).thresholds
    thresholds, report = calibrate_from_traffic(path, encoder, idx, real_traffic(), min_labels=30)
    t = report["traffic"]
    # corpus-only calibration answers the near-topic questions: far below what it promised
    assert t["corpus_only"]["measured"]["oos_answered"] > 0.9
    assert t["calibration_error"]["corpus_only"] > 0.15
    # from traffic: most near-topic questions declined, held out by cross-validation
    assert t["from_traffic"]["measured"]["oos_answered"] < 0.5
    assert t["from_traffic"]["measured"]["precision"] > t["corpus_only"]["measured"]["precision"] + 0.1
    assert t["calibration_error"]["from_traffic"] < t["calibration_error"]["corpus_only"] - 0.1
    assert t["folds"] >= 3 and t["from_traffic"]["measured"]["samples"] == 72
    assert thresholds.answer > corpus_only.answer
    labels = t["labels"]
    assert (labels["usable"], labels["in_scope"], labels["out_of_scope"]) == (72, 36, 36)
    assert labels["usable_by_source"] == {"vote_helpful": 36, "inbox_not_ours": 36}
    assert labels["period"] == {"from": "2024-05-01T00:00:00+00:00", "to": "2024-05-03T23:00:00+00:00"}
    assert t["combined_with_corpus"] and t["weight"] >= 1  # 72 < FULL: with the corpus's samples
    assert "72 labelled real questions (36 in scope, 36 out of scope" in thresholds.source
    served = IndexVersion(path)  # stored with the version: what the bot now serves
    assert served.thresholds == thresholds
    assert json.loads((path / "calibration.json").read_text())["traffic"]["promised"] == 0.95
    [logged] = read_log(idx)
    assert logged["index_version"] == path.name
    assert logged["traffic"]["calibration_error"] == t["calibration_error"]


def test_too_few_labels_say_how_many_and_what_to_do_and_nothing_changes(built):
    path, idx, encoder = built
    before = (path / "thresholds.json").read_text()
    few = real_traffic()[:10] + [LabelledQuestion("where is my order now", entry_id="gone-entry")]
    with pytest.raises(TooFewLabels) as exc:
        calibrate_from_traffic(path, encoder, idx, few, min_labels=30)
    message = str(exc.value)
    assert "10 usable labelled questions" in message and "fewer than the 30 needed" in message
    assert "1 left out: their entry no longer exists" in message and "inbox" in message
    assert (path / "thresholds.json").read_text() == before and read_log(idx) == []


def test_a_labelled_phrasing_is_scored_leave_one_out_and_trained_or_only_phrasings_are_left_out(built):
    path, idx, encoder = built
    version = IndexVersion(path)
    vectors = embed_phrasings(idx, encoder, version.texts)[0]
    empty = np.zeros((0, vectors.shape[1]), dtype=np.float32)
    questions = [LabelledQuestion("Track my parcel", entry_id="order-status"),  # an alternate now
                 LabelledQuestion("shipping price", entry_id="shipping-cost")]
    got = traffic_samples(version, vectors, encoder.encode, questions, [], empty, None)
    assert len(got.samples.labels) == 2
    assert got.samples.top_scores[:, 0].max() < 0.99  # its own phrasing left out: not a perfect match
    trained = np.asarray([version.texts.index("shipping price")])
    got = traffic_samples(version, vectors, encoder.encode, questions, [], empty, trained)
    assert len(got.samples.labels) == 1 and got.left_out["trained_on"] == 1


def test_not_ours_questions_are_declined_only_by_examples_outside_their_fold(built):
    path, idx, encoder = built
    version = IndexVersion(path)
    vectors = embed_phrasings(idx, encoder, version.texts)[0]
    text = "where is my order at the other shop with a voucher card"
    twin = "where is my order at the other shop with a voucher card today"
    alone = [LabelledQuestion(text, out_of_scope=True, group="a")]
    ex = encoder.encode([text])
    got = traffic_samples(version, vectors, encoder.encode, alone, [text], ex, None)
    assert got.samples.top_ids[0, 0] >= 0  # not declined by itself
    other_fold = next(g for g in ("b", "c", "d", "e", "f", "g") if
                      LabelledQuestion(twin, out_of_scope=True, group=g).fold() != alone[0].fold())
    both = alone + [LabelledQuestion(twin, out_of_scope=True, group=other_fold)]
    examples = [text, twin]
    got = traffic_samples(version, vectors, encoder.encode, both, examples, encoder.encode(examples), None)
    assert (got.samples.top_ids[:, 0] == -1).all()  # each declined by the other's example


def test_a_not_helpful_vote_is_a_wrong_answer_while_that_entry_still_answers(built):
    path, idx, encoder = built
    version = IndexVersion(path)
    vectors = embed_phrasings(idx, encoder, version.texts)[0]
    empty = np.zeros((0, vectors.shape[1]), dtype=np.float32)
    questions = [LabelledQuestion("how much does shipping cost to the moon", not_entries=("shipping-cost",)),
                 LabelledQuestion("how much does shipping cost to mars", not_entries=("gift-wrap",))]
    got = traffic_samples(version, vectors, encoder.encode, questions, [], empty, None)
    assert got.samples.labels.tolist() == [WRONG_ANSWER] and got.left_out["unknown_now"] == 1


# -- collecting labels from the inbox -------------------------------------------------------------

@pytest.fixture
def inbox(tmp_path):
    return InboxStore(sa.create_engine(f"sqlite:///{tmp_path / 'h.db'}"))


def acted(inbox, texts, action, entry_id=None):
    ids = [inbox.add(f"c-{text}", text, MISS) for text in texts]
    return inbox.act(ids, action, "edna", entry_id)


def test_labels_merge_per_question_editors_win_and_conflicts_are_left_out(inbox):
    acted(inbox, ["refund?", "money back when"], ALTERNATES, "refund-time")
    again = acted(inbox, ["  REFUND?"], ALTERNATES, "refund-time")  # the same question again: agrees
    acted(inbox, ["gift card from another shop"], NOT_OURS)
    acted(inbox, ["where is my parcel"], ALTERNATES, "order-status")
    acted(inbox, ["WHERE is my parcel"], NEW_ENTRY, "parcel-lost")  # the same question, another entry
    acted(inbox, ["old question"], ALTERNATES, "deleted-entry")
    inbox.vote("v1", "shipping-cost", "shipping price please", True)
    inbox.vote("v2", "shipping-cost", "refund?", True)  # an editor said refund-time: overridden
    inbox.vote("v3", "gift-wrap", "wrap it nicely", False)
    inbox.vote("v4", "gift-wrap", "wrap it NICELY", True)  # helpful and not helpful: a conflict
    got = collect(inbox.engine, {"refund-time", "order-status", "parcel-lost", "shipping-cost", "gift-wrap"})
    by_text = {q.text.casefold(): q for q in got.questions}
    assert set(by_text) == {"refund?", "money back when", "gift card from another shop",
                            "shipping price please"}
    refund = by_text["refund?"]
    assert refund.entry_id == "refund-time" and refund.text == "REFUND?" and refund.group == f"action:{again}"
    assert refund.sources == ("inbox_alternates",) and refund.at is not None
    assert by_text["gift card from another shop"].out_of_scope
    assert by_text["shipping price please"].entry_id == "shipping-cost"
    r = got.report
    assert r["dropped_entry_gone"] == 1 and r["overridden"] == 1 and r["conflicts"] == 2
    assert r["labels_by_source"] == {"inbox_alternates": 5, "inbox_new_entry": 1, "inbox_not_ours": 1,
                                     "vote_helpful": 3, "vote_not_helpful": 1}
    conflicts = {c["question"].casefold(): c["labels"] for c in r["conflict_examples"]}
    assert conflicts["where is my parcel"] == ["entry:order-status (inbox_alternates)",
                                               "entry:parcel-lost (inbox_new_entry)"]
    assert len(conflicts["wrap it nicely"]) == 2


def test_a_not_helpful_vote_alone_says_only_not_that_entry_and_a_revote_replaces_it(inbox):
    inbox.vote("v1", "gift-wrap", "wrap my dog", False)
    [q] = collect(inbox.engine).questions
    assert q.not_entries == ("gift-wrap",) and q.entry_id is None and not q.out_of_scope
    inbox.vote("v1", "gift-wrap", "wrap my dog", True)  # the customer changed their mind
    [q] = collect(inbox.engine).questions
    assert q.entry_id == "gift-wrap" and q.sources == ("vote_helpful",)


# -- the command ----------------------------------------------------------------------------------

def test_cli_calibrate_from_traffic_reports_what_it_rests_on_or_why_not(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("bot.cli.kb.encoder", lambda settings: FakeEncoder())
    faq, idx = write(tmp_path / "faq" / "f.yml", faq_yaml()), tmp_path / "idx"
    settings = Settings(root=tmp_path, corpus=faq, index_dir=idx)
    assert cli.main(["kb", "build"], settings) == 0
    assert cli.main(["kb", "calibrate", "--from-traffic"], settings) == 1  # a new deployment: no labels
    assert "0 usable labelled questions" in capsys.readouterr().err
    store = InboxStore(engine(settings.handoff_db_url))
    acted(store, [f"{p} thanks" for p in TOPICS["refund-time"]], ALTERNATES, "refund-time")
    capsys.readouterr()
    assert cli.main(["kb", "calibrate", "--from-traffic"], settings) == 1
    err = capsys.readouterr().err
    assert "3 usable labelled questions" in err and "fewer than the 30 needed" in err
    assert "labels found: 3 inbox alternates" in err
    for n, q in enumerate(real_traffic()):
        if q.out_of_scope:
            acted(store, [q.text], NOT_OURS)
        else:
            store.vote(f"conv{n}", q.entry_id, q.text, True)
    assert cli.main(["kb", "calibrate", "--from-traffic", "--min-labels", "40"], settings) == 0
    out = capsys.readouterr().out
    assert "rests on: calibrated on 75 labelled real questions (39 in scope, 36 out of scope" in out
    assert "inbox not ours 36" in out and "vote helpful 36" in out and "inbox alternates 3" in out
    assert "corpus-only" in out and "from traffic" in out and "measured precision" in out
    assert json.loads((current_path(idx) / "calibration.json").read_text())["traffic"]["labels"]["usable"] == 75
    assert cli.main(["kb", "calibrate", "--min-labels", "3"], settings) == 1
    assert "--min-labels goes with --from-traffic" in capsys.readouterr().err


# -- the editor's builder -------------------------------------------------------------------------

def test_the_builder_recalibrates_from_traffic_after_a_publish_and_when_enough_new_labels_arrived(tmp_path):
    from bot.db import sqlite_engine
    from bot.editor.builder import Builder
    from bot.editor.changes import SAVE, Change, revision
    from bot.editor.service import EditorService
    from bot.editor.versions import SERVING, VersionStore
    from bot.inbox.labels import Collected

    faq = write(tmp_path / "faq" / "f.yml", faq_yaml()).parent
    service = EditorService(faq, VersionStore(sqlite_engine(f"sqlite:///{tmp_path / 'e.db'}")),
                            tmp_path / "idx" / ".editor.lock")
    settings = Settings(root=tmp_path, corpus=faq, index_dir=tmp_path / "idx", tune_on_run=False,
                        traffic_min_labels=30, recalibrate_after_labels=10)
    labels = real_traffic()[:20]  # too few at first
    builder = Builder(settings, service.versions, base=FakeEncoder(),
                      labels=lambda ids: Collected(list(labels), {"questions": len(labels)}))
    e = service.read().corpus.by_id()["gift-wrap"]
    v1 = service.publish([Change(SAVE, e.id, replace(e, answer="Wrapped."), revision(e))],
                         "eve", "")
    assert builder.run_pending()
    built = service.versions.get(v1.id)
    assert built.build_state == SERVING and "labelled" not in built.build_detail
    assert "calibrated on the corpus" in IndexVersion(current_path(settings.index_path)).thresholds.source
    builder.labels_every = 0
    assert builder.new_labels(current_path(settings.index_path)) == 20
    assert not builder._maybe_recalibrate()  # 20 new, but fewer than the 30 needed
    labels[:] = real_traffic()
    assert builder._maybe_recalibrate()
    served = IndexVersion(current_path(settings.index_path))
    assert "72 labelled real questions" in served.thresholds.source
    assert builder.new_labels(served.path) == 0 and not builder._maybe_recalibrate()
    e = service.read().corpus.by_id()["gift-wrap"]
    v2 = service.publish([Change(SAVE, e.id, replace(e, answer="Wrapped again."), revision(e))],
                         "eve", "")
    assert builder.run_pending()
    assert "recalibrated from 72 labelled real questions" in service.versions.get(v2.id).build_detail
    assert "72 labelled real questions" in IndexVersion(current_path(settings.index_path)).thresholds.source
