import pytest

from bot.kb.decision import ANSWER, CLARIFY, MISS, EntryHit, ThresholdError, Thresholds, decide

T = Thresholds(answer=0.6, margin=0.05, clarify=0.4, window=0.15, max_options=3)


def hits(*scores):
    return [EntryHit(f"e{i}", s, f"p{i}") for i, s in enumerate(scores)]


def test_confident_and_clearly_ahead_answers():
    d = decide(hits(0.8, 0.5), T)
    assert d.kind == ANSWER and d.entry_id == "e0"


def test_confident_but_close_runner_up_clarifies_with_both():
    d = decide(hits(0.8, 0.78, 0.3), T)
    assert d.kind == CLARIFY and [o.entry_id for o in d.options] == ["e0", "e1"]
    assert d.entry_id is None


def test_medium_score_clarifies_with_at_most_max_options_within_window():
    d = decide(hits(0.55, 0.54, 0.53, 0.52, 0.38), T)
    assert d.kind == CLARIFY and [o.entry_id for o in d.options] == ["e0", "e1", "e2"]
    d = decide(hits(0.55, 0.35), T)
    assert [o.entry_id for o in d.options] == ["e0"]


def test_low_score_misses():
    assert decide(hits(0.3, 0.2), T).kind == MISS
    assert decide([], T).kind == MISS


def test_per_entry_override_applies_to_that_entry_only():
    strict = {"e0": {"answer": 0.9}}
    assert decide(hits(0.8, 0.5), T, strict).kind == CLARIFY
    assert decide(hits(0.8, 0.5), T, {"e1": {"answer": 0.9}}).kind == ANSWER


@pytest.mark.parametrize("kwargs", [dict(answer=0.5, clarify=0.6), dict(answer="high"),
                                    dict(margin=2.0), dict(max_options=0)])
def test_invalid_thresholds_are_rejected(kwargs):
    with pytest.raises(ThresholdError):
        Thresholds(**kwargs)


def test_thresholds_round_trip_and_reject_unknown_keys():
    assert Thresholds.from_json(T.to_json()) == T
    with pytest.raises(ThresholdError, match="unknown"):
        Thresholds.from_json({"answr": 0.5})
