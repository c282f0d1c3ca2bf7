import math

from bot.kb.decision import ANSWER, CLARIFY, MISS, Decision, EntryHit
from bot.kb.evaluate import metrics


def d(kind, *ids, options=()):
    hs = tuple(EntryHit(i, 0.9 - n * 0.1, "") for n, i in enumerate(ids))
    return Decision(kind, hs, tuple(EntryHit(o, 0.5, "") for o in options))


def test_metrics_match_hand_computed_values():
    expected = ["a", "a", "b", "c", None, None]
    decisions = [
        d(ANSWER, "a", "b"),                    # right
        d(ANSWER, "b", "a"),                    # wrong answer, right id at rank 2
        d(CLARIFY, "c", "b", options=("c", "b")),  # clarify containing b, rank 2
        d(MISS, "x", "y", "z"),                 # not answered, not in top 3
        d(MISS, "a"),                           # oos correctly declined
        d(ANSWER, "c"),                         # oos wrongly answered
    ]
    m = metrics(expected, decisions)
    assert m["n"] == 6 and m["n_in_scope"] == 4 and m["n_out_of_scope"] == 2
    assert m["in_scope_accuracy"] == 0.25          # 1 of 4
    assert m["oos_recall"] == 0.5                  # 1 of 2
    assert m["answered_precision"] == round(1 / 3, 4)  # answered a, b, c; one right
    assert m["coverage"] == 0.5                    # 2 of 4 in-scope answered
    assert m["recall_at_1"] == 0.25
    assert m["recall_at_3"] == 0.75
    assert m["mrr"] == round((1 + 0.5 + 0.5 + 0) / 4, 4)
    assert m["clarify_hit"] == 0.25
    # MCC by hand over labels: y_true = a a b c none none; y_pred = a b none none none c
    labels = ["a", "b", "c", "none"]
    y_true = ["a", "a", "b", "c", "none", "none"]
    y_pred = ["a", "b", "none", "none", "none", "c"]
    c = sum(t == p for t, p in zip(y_true, y_pred))
    s = len(y_true)
    t_k = [y_true.count(k) for k in labels]
    p_k = [y_pred.count(k) for k in labels]
    num = c * s - sum(t * p for t, p in zip(t_k, p_k))
    den = math.sqrt(s * s - sum(p * p for p in p_k)) * math.sqrt(s * s - sum(t * t for t in t_k))
    assert m["mcc"] == round(num / den, 4)


def test_perfect_predictions():
    m = metrics(["a", None], [d(ANSWER, "a"), d(MISS, "a")])
    assert m["in_scope_accuracy"] == m["oos_recall"] == m["answered_precision"] == 1.0
    assert m["mcc"] == 1.0
