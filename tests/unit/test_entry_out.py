"""Leave-entry-out calibration samples, their weight, and the clarify window (issue 18)."""

import numpy as np
import pytest

from bot.kb import calibrate as cal
from bot.kb.calibrate import ENTRY_OUT, MIN_CLARIFY_GAP, Samples, choose_thresholds, oos_weights
from bot.kb.entry_out import entry_out, keys_of

pytestmark = pytest.mark.unit


def test_entry_out_drops_the_own_entry_and_shifts_the_rest_up():
    samples = Samples.from_hits([0, 1, -1], [[(0, 0.9), (2, 0.6), (1, 0.5)], [(2, 0.7), (1, 0.65)],
                                             [(0, 0.4)]])
    out = entry_out(samples)
    assert out.labels.tolist() == [ENTRY_OUT, ENTRY_OUT]  # only the in-scope samples
    assert out.top_ids[0, :3].tolist() == [2, 1, -1]
    assert out.top_scores[0, :2].tolist() == [0.6, 0.5]
    assert out.top_ids[1, :2].tolist() == [2, -1]  # own entry not first: only it goes
    assert keys_of(["a", "b", "c"], samples.labels) == ["a", "b"]


def test_entry_out_of_a_sample_with_no_other_hit_is_never_answered():
    out = entry_out(Samples.from_hits([0], [[(0, 0.9)]]))
    assert out.top_ids[0, 0] == -1 and out.top_scores[0, 0] == cal.BELOW_ANY


def test_oos_weights_give_the_in_domain_kind_its_share():
    labels = np.array([0, 1, 2, 3, -1, ENTRY_OUT, ENTRY_OUT])
    w = oos_weights(labels, 0.25, 0.8)
    assert w[:4].tolist() == [1, 1, 1, 1]
    total = 0.25 / 0.75 * 4
    assert w[labels == -1].sum() == pytest.approx(total)  # generic: as much as without them
    assert w[labels == ENTRY_OUT].sum() == pytest.approx(4 * total)  # added: 0.8 of all out of scope
    only_generic = oos_weights(np.array([0, 0, -1, -1]), 0.25)
    assert only_generic[2:].sum() == pytest.approx(0.25 / 0.75 * 2)  # as before: one kind, all the weight


def near_topics(n=60, seed=0):
    """In-scope samples score 0.55-0.95 on their entry with a runner-up 0.1 below; questions about an
    uncovered topic score like the runner-ups of in-scope ones."""
    rng = np.random.default_rng(seed)
    hits, labels = [], []
    for i in range(n):
        s = float(rng.uniform(0.55, 0.95))
        hits.append([(i % 5, s), ((i + 1) % 5, s - 0.1)])
        labels.append(i % 5)
    hits += [[(0, 0.1)]] * 20
    labels += [-1] * 20
    return Samples.from_hits(labels, hits)


def test_leave_entry_out_samples_raise_the_answer_threshold_above_near_questions():
    samples = near_topics()
    before, _ = choose_thresholds(samples)
    after, report = choose_thresholds(samples + entry_out(samples))
    assert report["samples_entry_out"] == 60
    # generic questions alone let the answer threshold sit where uncovered topics are answered
    assert before.answer < 0.85 - 0.1
    outside = entry_out(samples)
    answered, _ = cal.answered_by(outside, after)
    assert answered.mean() <= 0.25
    assert after.answer > before.answer


def test_the_clarify_threshold_keeps_a_window_below_the_answer_threshold():
    samples = near_topics()
    thresholds, _ = choose_thresholds(samples + entry_out(samples))
    assert thresholds.clarify <= thresholds.answer - MIN_CLARIFY_GAP + 1e-9


def test_refitted_entry_out_asks_each_phrasing_of_the_other_entries_with_evidence_refitted():
    from bot.kb.entry_out import refitted

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(6, 8))
    owners = np.repeat(np.arange(6), 3)
    vectors = centres[owners] + 0.1 * rng.normal(size=(18, 8))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    texts = [f"entry{o} words{i}" for i, o in enumerate(owners)]
    weights = {"head": 0.5, "lexical": 0.4}
    samples, asked = refitted(vectors, owners, texts, weights, folds=3)
    assert sorted(asked.tolist()) == list(range(18))  # every phrasing asked once
    assert (samples.labels == ENTRY_OUT).all()
    own = owners[asked]
    assert not (samples.top_ids == own[:, None]).any()  # its own entry is never among the hits
    assert (samples.top_ids[:, 0] >= 0).all()
    again, asked_again = refitted(vectors, owners, texts, weights, folds=3)
    assert np.array_equal(again.top_scores, samples.top_scores) and np.array_equal(asked, asked_again)
    only, rows = refitted(vectors, owners, texts, weights, rows=np.array([0, 4]), folds=3)
    assert sorted(rows.tolist()) == [0, 4] and len(only.labels) == 2
