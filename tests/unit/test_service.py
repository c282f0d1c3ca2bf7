import threading

import pytest

from bot.conversation.faq_turn import choose_payload, faq_turn
from bot.kb.build import build_index
from bot.kb.corpus import load_corpus
from bot.kb.decision import ANSWER, Thresholds
from bot.kb.encoder import FakeEncoder
from bot.kb.files import write_json_atomic
from bot.kb.index import current_path
from bot.kb.serving import KnowledgeBase
from tests.helpers import SMALL_CORPUS, write

LOOSE = Thresholds(answer=0.6, margin=0.05, clarify=0.3, window=0.5)


@pytest.fixture
def kb(tmp_path):
    corpus = load_corpus(write(tmp_path / "faq" / "f.yml", SMALL_CORPUS))
    index_dir = tmp_path / "idx"
    # dense scores only: the fake encoder's word overlap stages the clarify and miss cases
    build_index(corpus, index_dir, FakeEncoder(), lexical_weight=0)
    write_json_atomic(current_path(index_dir) / "thresholds.json", LOOSE.to_json())
    kb = KnowledgeBase(index_dir, encoder=FakeEncoder())
    assert kb.reload()
    return kb


def test_ask_answers_with_entry_and_score(kb):
    answer = kb.ask("I forgot my password")
    assert answer.decision.kind == ANSWER and answer.decision.entry_id == "password-reset"
    assert answer.version == kb.version.name


def test_missing_index_reports_unavailable_then_recovers(tmp_path):
    kb = KnowledgeBase(tmp_path / "idx", encoder=FakeEncoder())
    assert not kb.reload()
    answer = kb.ask("hello")
    assert answer.unavailable and "supportbot kb build" in answer.unavailable
    build_index(load_corpus(write(tmp_path / "f.yml", SMALL_CORPUS)), tmp_path / "idx",
                FakeEncoder())
    assert kb.reload() and kb.ask("forgot my password").unavailable is None


def test_hot_reload_swaps_to_the_new_version_and_thresholds(kb, tmp_path):
    old = kb.version.name
    faq = tmp_path / "faq" / "f.yml"
    write(faq, SMALL_CORPUS.replace("Refunds take **3 days**.", "Refunds take 5 days."))
    build_index(load_corpus(faq), kb.index_dir, FakeEncoder())
    assert kb.reload() and kb.version.name != old
    assert kb.version.by_id["refund-time"].answer == "Refunds take 5 days."
    assert not kb.reload()  # nothing changed
    write_json_atomic(current_path(kb.index_dir) / "thresholds.json",
                      Thresholds(answer=0.99, clarify=0.9).to_json())
    assert kb.reload() and kb.thresholds().answer == 0.99


def test_corrupt_new_version_keeps_the_old_one_serving(kb, tmp_path):
    name = kb.version.name
    broken = kb.index_dir / "versions" / "broken"
    broken.mkdir()
    (kb.index_dir / "CURRENT").write_text("broken\n")
    assert not kb.reload()
    assert kb.version.name == name and kb.error
    assert kb.ask("forgot my password").decision.kind == ANSWER


def test_requests_during_swaps_never_fail(kb, tmp_path):
    faq = tmp_path / "faq" / "f.yml"
    errors, stop = [], threading.Event()

    def ask_loop():
        while not stop.is_set():
            try:
                d = kb.ask("forgot my password").decision
                assert d.entry_id == "password-reset"
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)

    threads = [threading.Thread(target=ask_loop) for _ in range(4)]
    for t in threads:
        t.start()
    for n in range(5):
        write(faq, SMALL_CORPUS.replace("3 days", f"{n} days"))
        build_index(load_corpus(faq), kb.index_dir, FakeEncoder())
        write_json_atomic(current_path(kb.index_dir) / "thresholds.json", LOOSE.to_json())
        kb.reload()
    stop.set()
    for t in threads:
        t.join()
    assert errors == []


def test_faq_turn_answer_records_entry_and_score_and_resets_misses(kb):
    result = faq_turn(kb, "I forgot my password", "ask_question", {}, misses=2)
    [msg] = result.messages
    assert msg.text.startswith("Use Forgot password")
    assert msg.metadata["faq_id"] == "password-reset" and msg.metadata["faq_score"] > 0.6
    assert result.slots["last_faq_id"] == "password-reset" and result.slots["faq_miss_count"] == 0


def test_faq_turn_clarify_offers_buttons_plus_none_of_these(kb):
    result = faq_turn(kb, "how long does shipping take", "ask_question", {}, misses=0)
    [msg] = result.messages
    assert msg.response == "utter_faq_clarify"
    payloads = [b["payload"] for b in msg.buttons]
    assert payloads[-1] == "/none_of_these" and 2 <= len(payloads) <= 4
    assert payloads[:2] == [choose_payload("refund-time"), choose_payload("shipping-cost")]


def test_faq_turn_chosen_option_answers_that_entry(kb):
    result = faq_turn(kb, choose_payload("shipping-cost"), "choose_faq",
                      {"faq_id": "shipping-cost"}, misses=1)
    assert result.messages[0].text == "Shipping is free over $50."
    assert result.slots["last_faq_id"] == "shipping-cost"
    gone = faq_turn(kb, "", "choose_faq", {"faq_id": "deleted-entry"}, misses=0)
    assert gone.messages[0].response == "utter_faq_option_gone"


def test_faq_turn_misses_count_up(kb):
    first = faq_turn(kb, "zebra quantum violin", "nlu_fallback", {}, misses=None)
    assert first.messages[0].response == "utter_faq_miss" and first.slots["faq_miss_count"] == 1
    second = faq_turn(kb, "none of these", "none_of_these", {}, misses=1)
    assert second.slots["faq_miss_count"] == 2
    oos = faq_turn(kb, "zebra quantum violin", "out_of_scope", {}, misses=0)
    assert oos.messages[0].response == "utter_out_of_scope"


def test_faq_turn_unavailable_index_and_empty_message(tmp_path, kb):
    empty = faq_turn(kb, "   ", "ask_question", {}, misses=0)
    assert empty.messages[0].response == "utter_empty_message"
    no_index = KnowledgeBase(tmp_path / "none", encoder=FakeEncoder())
    no_index.reload()
    result = faq_turn(no_index, "refund?", "ask_question", {}, misses=0)
    assert result.messages[0].response == "utter_faq_unavailable"
    assert result.slots["faq_miss_count"] == 1


def test_a_person_is_offered_after_the_miss_limit(kb):
    first = faq_turn(kb, "zebra quantum violin", "nlu_fallback", {}, misses=0, miss_limit=2)
    assert [m.response for m in first.messages] == ["utter_faq_miss"]
    assert first.slots["handoff_offered"] is False
    second = faq_turn(kb, "none of these", "none_of_these", {}, misses=1, miss_limit=2)
    assert [m.response for m in second.messages] == ["utter_faq_miss", "utter_offer_handoff"]
    assert second.slots["handoff_offered"] is True and second.slots["handoff_reason"] == "low_confidence"
    assert faq_turn(kb, "zebra", "nlu_fallback", {}, misses=0, miss_limit=1).slots["handoff_offered"]


def test_the_same_answer_twice_in_a_row_offers_a_person(kb):
    once = faq_turn(kb, "I forgot my password", "ask_question", {}, misses=0)
    again = faq_turn(kb, "I forgot my password", "ask_question", {}, misses=0,
                     last_answer=once.slots["last_faq_id"])
    assert again.messages[0].response == "utter_same_answer_again"
    assert again.messages[1].text == once.messages[0].text
    assert again.messages[-1].response == "utter_offer_handoff"
    assert again.slots["handoff_reason"] == "frustration"
    other = faq_turn(kb, "I forgot my password", "ask_question", {}, misses=0, last_answer="shipping-cost")
    assert [m.response for m in other.messages] == [None] and other.slots["handoff_offered"] is False


class CountingEncoder(FakeEncoder):
    def __init__(self):
        super().__init__()
        self.texts = []

    def encode(self, texts, batch_size=64, progress=False):
        self.texts.extend(texts)
        return super().encode(texts, batch_size, progress)


def serve_with(kb, encoder):
    """Serve the loaded version through ``encoder``, with nothing remembered."""
    kb._serving = (kb.version, encoder)
    kb._vectors.clear()
    kb._mended.clear()
    return encoder


def test_prefetched_message_is_not_encoded_again_and_answers_the_same(kb):
    expected = kb.ask("I forgot my password").decision
    counting = serve_with(kb, CountingEncoder())
    kb.prefetch("  I forgot   my password ")  # cleaned the same way as ask
    assert kb.ask("I forgot my password").decision == expected
    assert counting.texts == ["I forgot my password"]
    kb.prefetch("")
    kb.prefetch(None)
    assert counting.texts == ["I forgot my password"]  # nothing to encode


def test_remembered_queries_are_bounded_and_least_recent_go_first(kb, monkeypatch):
    import bot.kb.serving as service

    monkeypatch.setattr(service, "REMEMBERED_QUERIES", 2)
    counting = serve_with(kb, CountingEncoder())
    for text in ["a refund", "my password", "a refund", "an invoice", "a refund", "my password"]:
        kb.ask(text)
    # "my password" was the least recent when "an invoice" came, so it is encoded again
    assert counting.texts == ["a refund", "my password", "an invoice", "my password"]
    assert len(kb._vectors) == 2
