"""Short messages get their own thresholds, calibrated on short windows of the phrasings (bot/kb/short.py)."""

import json

import numpy as np
import pytest

from bot.kb import calibrate as cal
from bot.kb.build import build_index
from bot.kb.corpus import load_corpus
from bot.kb.decision import ANSWER, CLARIFY, EntryHit, Thresholds, decide
from bot.kb.encoder import FakeEncoder
from bot.kb.index import IndexVersion
from bot.kb.ops import calibrate_version
from bot.kb.query import content_words, is_short
from bot.kb.short import ShortSamples, windows, with_short
from tests.helpers import SMALL_CORPUS, write

pytestmark = pytest.mark.unit

T = Thresholds(answer=0.6, margin=0.05, clarify=0.4, window=0.15, short_answer=0.8, short_margin=0.1)
HITS = [EntryHit("refund-time", 0.7, "p"), EntryHit("refund-status", 0.58, "q")]


def test_content_words_leave_out_stop_words_and_a_short_message_has_two_words_or_fewer():
    assert content_words("How long does shipping to Canada take?") == ["long", "shipping", "canada"]
    assert content_words("Where's my refund?") == ["refund"]
    assert is_short("refund?") and is_short("shipping canada") and is_short("hi") and is_short("my refund")
    assert not is_short("how fast do you deliver") and not is_short("shipping to canada")


def test_a_short_message_needs_the_short_thresholds_to_be_answered():
    long = decide(HITS, T, query="how long does a refund to my card take")
    assert long.kind == ANSWER and long.entry_id == "refund-time"
    short = decide(HITS, T, query="refund?")
    assert short.kind == CLARIFY and [o.entry_id for o in short.options] == ["refund-time", "refund-status"]
    assert short.thresholds.answer == 0.8
    clear = [EntryHit("refund-time", 0.85, "p"), EntryHit("x", 0.5, "q")]
    assert decide(clear, T, query="refund?").kind == ANSWER
    # no query, or thresholds without a short pair (versions calibrated before it): as before
    assert decide(HITS, T).kind == ANSWER
    assert decide(HITS, Thresholds(answer=0.6, margin=0.05, clarify=0.4), query="refund?").kind == ANSWER


def test_thresholds_keep_the_short_pair_and_read_files_without_it():
    assert Thresholds.from_json(json.loads(json.dumps(T.to_json()))) == T
    old = {k: v for k, v in T.to_json().items() if not k.startswith("short_")}
    assert Thresholds.from_json(old).short_answer is None
    with pytest.raises(ValueError, match="short_answer"):
        Thresholds(short_answer=1.5, short_margin=0.0)


def test_windows_are_runs_of_one_or_two_content_words():
    assert windows("How long does shipping to Canada take?") == [
        "long", "shipping", "canada", "long shipping", "shipping canada"]
    assert windows("Is it?") == []


def short_set(right_above: float, n: int = 40):
    """In-scope windows right at or above ``right_above``, wrong (runner-up entry on top) below it;
    near-topic ones scoring up to 0.7."""
    rng = np.random.default_rng(3)
    labels, hits = [], []
    for i in range(n):
        s = float(rng.uniform(0.4, 0.95))
        top = i % 4 if s >= right_above else (i + 1) % 4
        hits.append([(top, s), ((top + 1) % 4, s - 0.2)])
        labels.append(i % 4)
    for _ in range(20):
        s = float(rng.uniform(0.3, 0.7))
        hits.append([(0, s), (1, s - 0.2)])
        labels.append(cal.ENTRY_OUT)
    return ShortSamples(cal.Samples.from_hits(labels, hits), n, 4)


def test_the_short_pair_keeps_the_promise_on_short_windows():
    long = Thresholds(answer=0.5, margin=0.0, clarify=0.4)
    t, report = with_short(long, short_set(0.75), 0.95)
    assert t.short_answer >= 0.7 and (t.answer, t.margin) == (0.5, 0.0)
    answered, right = cal.answered_by(short_set(0.75).samples, t, np.ones(60, dtype=bool))
    assert right.sum() / answered.sum() >= 0.95 and report["estimated_precision"] >= 0.95
    # no threshold reaches the target: above every short window (they get "did you mean")
    never, _ = with_short(long, short_set(2.0), 0.95)
    assert not cal.answered_by(short_set(2.0).samples, never, np.ones(60, dtype=bool))[0].any()
    assert with_short(long, None, 0.95)[0].short_answer is None


def test_corpus_calibration_stores_a_short_pair_and_says_what_it_rests_on(tmp_path):
    corpus = load_corpus(write(tmp_path / "faq.yml", SMALL_CORPUS))
    result = build_index(corpus, tmp_path / "idx", FakeEncoder())
    thresholds, report = calibrate_version(result.path, FakeEncoder(), tmp_path / "idx")
    assert thresholds.short_answer is not None and thresholds.short_answer >= thresholds.clarify
    stored = json.loads((result.path / "thresholds.json").read_text())
    assert stored["short_answer"] == thresholds.short_answer
    assert report["short"]["windows"] > 0 and report["short"]["entries"] == 3
    assert "short messages" in thresholds.source


def words_hit(entry, score, words, unique=()):
    return EntryHit(entry, score, "p", frozenset(words), frozenset(unique))


def test_a_question_with_a_word_only_the_runner_up_has_is_clarified_between_them():
    times = words_hit("shipping-times", 0.61, {"long", "shipping"})
    abroad = words_hit("shipping-international", 0.51, {"canada"}, {"canada"})
    d = decide([times, abroad], T, query="how long does shipping to canada take")
    assert d.kind == CLARIFY and [o.entry_id for o in d.options] == ["shipping-times", "shipping-international"]
    assert d.reason == "words of two entries"
    # the top entry has a word of its own too: it is the one meant, answered
    bulk = words_hit("order-bulk", 0.61, {"bulk"}, {"bulk"})
    discount = words_hit("student-discount", 0.52, {"discounts"}, {"discounts"})
    assert decide([bulk, discount], T, query="discounts for companies buying in bulk").kind == ANSWER
    # the runner-up's words are shared with other entries, or it covers nothing the top does not
    assert decide([times, words_hit("x", 0.51, {"canada"})], T, query="how long shipping canada").kind == ANSWER
    assert decide([times, words_hit("x", 0.51, {"shipping"}, {"shipping"})], T,
                  query="how long shipping canada").kind == ANSWER
    # far behind (outside the clarify window): answered
    behind = words_hit("s", 0.4, {"canada"}, {"canada"})
    assert decide([times, behind], T, query="how long shipping canada").kind == ANSWER


def test_search_says_which_words_of_the_question_each_of_the_best_two_entries_has(tmp_path):
    corpus = load_corpus(write(tmp_path / "faq.yml", SMALL_CORPUS))
    version = IndexVersion(build_index(corpus, tmp_path / "idx", FakeEncoder()).path)
    query = "how long until my refund and shipping price"
    [hits] = version.search(FakeEncoder().encode([query]), 5, [query])
    by_id = {h.entry_id: h for h in hits[:2]}
    assert set(by_id) == {"refund-time", "shipping-cost"}
    assert by_id["refund-time"].words == {"long", "refund"} == by_id["refund-time"].unique
    assert by_id["shipping-cost"].words == {"shipping", "price"} == by_id["shipping-cost"].unique
    assert all(not h.words for h in hits[2:])


def test_recalibrating_keeps_the_short_pair_and_a_short_message_is_never_held_to_less():
    samples = short_set(0.75).samples
    kept, _ = cal.choose_thresholds(samples, 0.95, base=T)  # e.g. kb calibrate --from-traffic
    assert (kept.short_answer, kept.short_margin) == (0.8, 0.1)
    risen = Thresholds(answer=0.9, margin=0.0, clarify=0.4, short_answer=0.8, short_margin=0.1)
    assert (risen.for_query("refund?").answer, risen.for_query("refund?").margin) == (0.9, 0.1)
