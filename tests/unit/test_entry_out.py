"""Leave-entry-out: in-domain out-of-scope samples for corpus-only calibration (bot/kb/entry_out.py),
with the fake encoder."""

import itertools

import numpy as np

from bot.kb import calibrate as cal
from bot.kb.build import build_index
from bot.kb.corpus import load_corpus
from bot.kb.encoder import FakeEncoder
from bot.kb.entry_out import MIN_ENTRIES, asked_rows, entry_folds, leave_entry_out
from bot.kb.index import IndexVersion, embed_phrasings
from bot.kb.ops import calibrate_version, corpus_samples
from tests.helpers import write

ACTIONS = ("cancel", "change", "pause", "renew", "transfer", "close")
THINGS = ("order", "subscription", "card", "account", "booking", "plan")
WORDINGS = ("{a} my {t}", "{a} {t} please", "{t} {a}", "{a} the {t} now", "{a} {t}")


def topics():
    """Every (action, thing) a topic; 'cancel my card' and 'cancel my order' share most words, as a
    bank's or a shop's neighbouring topics do."""
    return {f"{a}-{t}": [w.format(a=a, t=t) for w in WORDINGS] for a, t in itertools.product(ACTIONS, THINGS)}


def faq_yaml(chosen):
    lines = ["faqs:"]
    for entry_id, (question, *alternates) in chosen.items():
        lines += [f"  - id: {entry_id}", f"    question: {question}", "    alternates:"]
        lines += [f"      - {a}" for a in alternates] + [f"    answer: What to know about {entry_id}."]
    return "\n".join(lines) + "\n"


def split():
    """Half the topics as the FAQ, the other half held out (their questions are out of scope)."""
    every = topics()
    names = sorted(every)
    held = set(np.random.default_rng(3).choice(names, len(names) // 2, replace=False).tolist())
    return {k: v for k, v in every.items() if k not in held}, {k: v for k, v in every.items() if k in held}


def test_entry_folds_are_seeded_and_balanced():
    folds = entry_folds(23)
    assert np.array_equal(folds, entry_folds(23))
    assert sorted(np.bincount(folds).tolist()) == [4, 4, 5, 5, 5]
    assert not np.array_equal(folds, np.arange(23) % 5)  # shuffled, not the corpus's order
    assert entry_folds(3).max() == 2  # fewer entries than folds: one entry per fold


def test_asked_rows_take_a_few_phrasings_of_each_entry_with_alternates_among_the_given_rows():
    owners = np.array([0] * 12 + [1] * 2 + [2])  # entry 2 has one question: not asked
    assert asked_rows(owners, per_entry=10).tolist() == list(range(10)) + [12, 13]
    assert asked_rows(owners, rows=np.array([13, 3, 14])).tolist() == [3, 13]


def test_each_phrasing_is_asked_with_its_entry_left_out_and_finds_its_neighbours():
    faq, _ = split()
    texts = [p for ps in faq.values() for p in ps]
    owners = np.repeat(np.arange(len(faq)), [len(ps) for ps in faq.values()])
    vectors = FakeEncoder().encode(texts)
    samples = leave_entry_out(vectors, owners, texts, head_weight=0.5, lexical_weight=0.4)
    assert len(samples.labels) == len(texts) and (samples.labels == cal.NEAR_OOS).all()
    folds = entry_folds(len(faq))
    asked_fold = folds[owners]
    # never its own entry, nor any entry of its fold (the head and BM25 refitted without them too)
    found = samples.top_ids >= 0
    assert found[:, :2].all()
    assert not (found & (folds[np.maximum(samples.top_ids, 0)] == asked_fold[:, None])).any()
    # its nearest entry is a neighbour: the same action or the same thing
    names = list(faq)
    for row, top in zip(range(len(texts)), samples.top_ids[:, 0]):
        mine, theirs = names[owners[row]].split("-"), names[top].split("-")
        assert mine[0] == theirs[0] or mine[1] == theirs[1]
    assert (samples.top_scores[:, 0] > 0.5).mean() > 0.9  # they look like ours: generic ones do not


def test_too_few_entries_give_no_samples():
    vectors = FakeEncoder().encode(["a b", "a c", "b c", "c d"])
    assert len(leave_entry_out(vectors, np.array([0, 0, 1, 1]), ["a b", "a c", "b c", "c d"]).labels) == 0
    assert MIN_ENTRIES == 3


def test_held_out_topics_keep_the_promise_only_with_leave_entry_out(tmp_path):
    """The FAQ covers half the topics; customers ask about all of them. Corpus-only calibration with
    generic out-of-scope questions alone promises 0.95 and answers the held-out topics; with the
    leave-entry-out samples the promise holds within 0.05 on the held-out-topic traffic."""
    faq, held = split()
    idx, encoder = tmp_path / "idx", FakeEncoder()
    corpus = load_corpus(write(tmp_path / "faq" / "f.yml", faq_yaml(faq)))
    result = build_index(corpus, idx, encoder, calibrate=lambda p, v, o: calibrate_version(p, encoder, idx))
    version = IndexVersion(result.path)
    report = __import__("json").loads((result.path / "calibration.json").read_text())
    assert report["samples_near_out_of_scope"] == sum(map(len, faq.values()))
    assert "asked with their entry left out" in report["thresholds"]["source"]
    # customers' traffic: new wordings of the FAQ's topics, and the held-out topics' questions
    index_of = {e.id: i for i, e in enumerate(version.entries)}
    asked = [(f"{p} thanks", index_of[k]) for k, ps in faq.items() for p in ps[:2]] + \
        [(f"{p} thanks", -1) for ps in held.values() for p in ps[:2]]
    q_vectors = encoder.encode([t for t, _ in asked])
    traffic = cal.query_samples(version, q_vectors, [label for _, label in asked], [t for t, _ in asked])

    def precision(thresholds):
        answered, right = cal.answered_by(traffic, thresholds)
        return right.sum() / max(answered.sum(), 1), answered[traffic.labels < 0].mean()

    vectors, _ = embed_phrasings(idx, encoder, version.texts)
    empty = np.zeros((0, version.index.d), dtype=np.float32)
    samples = corpus_samples(version, encoder, idx, vectors, [], empty).samples
    without = cal.Samples(*(a[samples.labels != cal.NEAR_OOS]
                            for a in (samples.labels, samples.top_ids, samples.top_scores)))
    old_precision, old_oos_answered = precision(cal.choose_thresholds(without, 0.95)[0])
    new_precision, new_oos_answered = precision(version.thresholds)
    assert old_precision < 0.9 and old_oos_answered > 0.3  # the broken promise
    assert new_precision >= 0.9 and new_oos_answered < old_oos_answered / 2


def test_in_domain_samples_get_their_share_of_the_out_of_scope_weight():
    labels = np.array([0, 1, 2, 3, 4, 5, cal.GENERIC_OOS, cal.GENERIC_OOS, cal.NEAR_OOS, cal.NEAR_OOS,
                       cal.NEAR_OOS, cal.NEAR_OOS])
    weight = cal.sample_weights(labels, 0.25, near_share=0.8)
    assert np.allclose(weight[:6], 1)
    oos = weight[6:].sum()
    assert np.isclose(oos / weight.sum(), 0.25)  # out of scope: a quarter of the traffic
    assert np.isclose(weight[8:].sum() / oos, 0.8)  # four in-domain samples: 80 % of it
    alone = cal.sample_weights(labels[labels != cal.GENERIC_OOS], 0.25, near_share=0.8)
    assert np.isclose(alone[6:].sum() / alone.sum(), 0.25)  # one kind only: it takes the whole share
