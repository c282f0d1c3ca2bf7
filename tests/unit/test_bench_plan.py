"""The load benchmark's fairness rests on its message plan: no message is sent twice in a run."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import run as bench  # noqa: E402


def test_every_message_of_a_bench_run_is_distinct():
    texts = [f"where is parcel {i}" for i in range(200)]
    sent = list(texts)  # the sequential run asks the plain questions
    sent += bench.unique_messages(texts, 60 * len(texts), 20)  # warm-up of our servers
    sent += bench.unique_messages(texts, 50 * len(texts), 20)  # warm-up of load_levels
    start = len(texts)
    for customers, turns in [*bench.LOAD_LEVELS, bench.PACED]:
        sent += bench.unique_messages(texts, start, customers * turns)
        start += customers * turns
    assert len(sent) == len(texts) + 40 + start - len(texts)
    assert len(set(sent)) == len(sent)


def test_messages_keep_the_question():
    [message] = bench.unique_messages(["how do refunds work"], 5, 1)
    assert "how do refunds work" in message and message != "how do refunds work"
