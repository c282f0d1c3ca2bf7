""""Not ours" matters, with the real encoder and the demo FAQ: near-topic questions the FAQ must
not answer are answered confidently; after an editor marks one phrasing of each "not ours" (the
out-of-scope file) and the index is rebuilt, other customers' phrasings of them (held out) are
declined, while the held-out in-scope questions keep their answers."""

import shutil

import pytest

from bot.kb import out_of_scope
from bot.kb.corpus import load_corpus
from bot.kb.decision import ANSWER, decide
from bot.kb.evaluate import evaluate, read_queries, search_and_decline
from bot.kb.index import IndexVersion, current_path
from bot.kb.ops import build
from tests.helpers import seed_index

# (marked "not ours" by an editor, what a later customer asks): questions that sound like a shop's
# but are no business of Brightcart's FAQ (data/faq); none is in eval/demo_heldout.csv
FAMILIES = [
    ("do you sell gift cards for the cinema", "can I buy a movie theater gift voucher from you"),
    ("can I pay my phone bill here", "is it possible to pay my mobile phone bill through brightcart"),
    ("can you top up my mobile phone credit", "I want to add prepaid credit to my phone"),
    ("can I open a bank account with brightcart", "do you offer savings or current accounts"),
    ("how do I reset my netflix password", "I forgot my netflix login password"),
    ("where is my uber eats order", "my food delivery from uber eats hasn't arrived"),
    ("can you deliver a pizza to my house", "do you do takeaway food delivery"),
    ("what's the warranty on my car", "is my car still under the manufacturer's warranty"),
    ("my bank account was hacked", "someone broke into my online banking"),
    ("can you cancel my gym membership", "I want to stop paying for my gym subscription"),
    ("how do I return my rental car", "where do I drop off the car I rented"),
    ("my tv provider charged me twice this month", "my cable company billed me double"),
    ("can I get a refund for my flight", "the airline cancelled my flight, how do I get my money back"),
    ("how do I track a parcel my friend sent me with the post office",
     "where is the letter my mum posted to me"),
]
# near-topic too, but like no marked question: "not ours" is no reason to decline these, nor to answer
OTHER_TOPICS = ["do you sell lottery tickets", "can I buy train tickets from you", "do you offer car insurance",
                "do you sell amazon gift cards", "can I return something I bought on ebay",
                "do you sell stamps so I can post a letter", "can I send money to my family abroad with you",
                "can you unlock my phone from my network carrier", "can I pay my electricity bill through you"]


def answered(version, encoder, texts, decline=True):
    hits, declined = search_and_decline(version, encoder, texts)
    return sum(decide(h, version.thresholds, version.overrides, d if decline else None, t).kind == ANSWER
               for h, d, t in zip(hits, declined, texts))


@pytest.fixture(scope="module")
def before_and_after(tmp_path_factory, root, real_encoder, index_seed):
    work = tmp_path_factory.mktemp("oos")
    shutil.copytree(root / "data" / "faq", work / "faq")
    index_dir, examples = seed_index(index_seed, work / "kb_index"), work / "out_of_scope.yml"
    build(load_corpus(work / "faq"), index_dir, real_encoder, out_of_scope=out_of_scope.load(examples))
    before = IndexVersion(current_path(index_dir))
    out_of_scope.add(examples, [marked for marked, _ in FAMILIES])
    result = build(load_corpus(work / "faq"), index_dir, real_encoder, out_of_scope=out_of_scope.load(examples))
    assert not result.up_to_date  # only the out-of-scope file changed
    return before, IndexVersion(current_path(index_dir))


def test_marking_not_ours_declines_other_phrasings_and_keeps_the_in_scope_answers(before_and_after, root,
                                                                                 real_encoder):
    before, after = before_and_after
    held_out = [asked for _, asked in FAMILIES]
    queries = read_queries(root / "eval" / "demo_heldout.csv", set(before.by_id))
    was, now = evaluate(before, real_encoder, queries)[0], evaluate(after, real_encoder, queries)[0]
    n_before, n_after = answered(before, real_encoder, held_out), answered(after, real_encoder, held_out)
    thresholds_only = answered(after, real_encoder, held_out, decline=False)
    print(f"\nheld-out near-topic questions answered: {n_before}/{len(held_out)} before, {n_after} after "
          f"({thresholds_only} with the new thresholds alone, without the decline rule)\n"
          f"thresholds before {before.thresholds.to_json()}\nthresholds after {after.thresholds.to_json()}")
    others = answered(before, real_encoder, OTHER_TOPICS), answered(after, real_encoder, OTHER_TOPICS)
    print(f"other near-topic questions answered: {others[0]}/{len(OTHER_TOPICS)} before, {others[1]} after")
    for key in ("answered_precision", "in_scope_accuracy", "coverage", "oos_recall", "clarify_rate",
                "clarify_hit"):
        print(f"eval/demo_heldout.csv {key}: {was[key]} before, {now[key]} after")
    # Leave-entry-out calibration at half the out-of-scope weight raises the demo's answer threshold
    # only a little (0.465 -> 0.51; its
    # FAQ cannot reach the target, so coverage counts); at 0.8 it declined 12 of 14 but cost a quarter of
    # the demo's coverage (bench/entry_out.py). Here the editors' examples must do it.
    assert n_before >= len(held_out) // 2  # the problem: confidently answered today (7 of 14)
    assert n_after <= n_before - len(held_out) // 3  # declined far more often
    assert now["answered_precision"] >= was["answered_precision"] - 0.01
    assert now["in_scope_accuracy"] >= was["in_scope_accuracy"] - 0.02
    assert now["coverage"] >= was["coverage"] - 0.02
    assert now["oos_recall"] >= was["oos_recall"] and others[1] <= others[0]
    assert "+ 14 from the out-of-scope file" in after.thresholds.source
