"""The editors' inbox: which FAQ turns it collects, masked, and its retention."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from bot.conversation.faq_turn import BotMessage, TurnResult
from bot.db import utcnow
from bot.inbox.collect import record_turn
from bot.inbox.store import CLARIFY, GAPS, MISS, NONE_OF_THESE, InboxStore, unanswered
from bot.privacy.retention import Retention


@pytest.fixture
def inbox(tmp_path):
    """On SQLite here; tests/integration/test_postgres_store.py runs these on PostgreSQL too."""
    return InboxStore(sa.create_engine(f"sqlite:///{tmp_path / 'h.db'}"))


def miss(score=0.31, nearest="shipping-cost"):
    return TurnResult([BotMessage(response="utter_faq_miss", metadata={"faq_decision": "miss",
                                                                       "faq_nearest": nearest})],
                      {"last_faq_decision": "miss", "last_faq_score": score, "faq_miss_count": 1})


def clarify(options=("refund-time", "return-policy")):
    return TurnResult([BotMessage(response="utter_faq_clarify", metadata={
        "faq_decision": "clarify", "faq_options": list(options)})],
        {"last_faq_decision": "clarify", "last_faq_score": 0.55, "faq_options": list(options)})


def answer():
    return TurnResult([BotMessage(text="Refunds take 3 days.", metadata={"faq_decision": "answer"})],
                      {"last_faq_decision": "answer", "last_faq_id": "refund-time", "last_faq_score": 0.9})


def test_misses_and_refused_options_are_collected_masked_answers_are_not(inbox):
    record_turn(inbox, "c1", "can I pay with card 4111 1111 1111 1111 or mail jo@example.com?", None, miss())
    record_turn(inbox, "c1", "how long do refunds take?", "ask_question", answer())
    record_turn(inbox, "c2", "my money back", "ask_question", clarify())
    assert [q.kind for q in inbox.questions()] == [MISS]  # a clarify is not a gap until refused
    record_turn(inbox, "c2", "/none_of_these", "none_of_these", miss())
    gaps = inbox.questions()
    assert [(q.conversation_id, q.kind) for q in gaps] == [("c2", NONE_OF_THESE), ("c1", MISS)]
    refused, missed = gaps
    assert refused.question == "my money back" and refused.options == ["refund-time", "return-policy"]
    assert missed.question == "can I pay with card [card] or mail [email]?"  # every kind, whatever the setting
    assert (missed.nearest_entry, missed.score) == ("shipping-cost", 0.31)
    assert inbox.counts() == {MISS: 1, NONE_OF_THESE: 1}


def test_turns_that_are_not_content_gaps_are_left_out(inbox):
    unavailable = TurnResult([BotMessage(response="utter_faq_unavailable")], {"last_faq_decision": "miss"})
    for text, intent, result in (("refund?", None, unavailable), ("", None, miss()), ("   ", None, miss()),
                                 ('/choose_faq{"faq_id": "gone"}', "choose_faq", miss()),
                                 ("/restart", None, miss())):
        record_turn(inbox, "c", text, intent, result)
    record_turn(inbox, "c", "/none_of_these", "none_of_these", miss())  # no clarify to refuse
    assert inbox.questions(kinds=(MISS, NONE_OF_THESE, CLARIFY)) == []


def test_a_broken_inbox_never_costs_the_customer_their_reply(inbox, caplog):
    with inbox.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE unanswered"))
    record_turn(inbox, "c", "do you sell llamas", None, miss())  # logged, not raised
    assert "inbox" in caplog.text


def test_purge_and_forget_include_the_inbox(inbox):
    for conversation in ("old", "new", "other"):
        record_turn(inbox, conversation, f"question of {conversation}", None, miss())
    with inbox.engine.begin() as conn:
        conn.execute(unanswered.update().where(unanswered.c.conversation_id == "old")
                     .values(at=utcnow() - timedelta(days=100)))
    retention = Retention(None, inbox.engine)
    assert retention.purge(timedelta(days=90)).inbox_questions == 1
    assert retention.forget_sender("new").inbox_questions == 1
    assert [q.conversation_id for q in inbox.questions(GAPS)] == ["other"]


def test_the_cli_lists_the_gaps_newest_first(tmp_path, capsys):
    from bot.cli import main
    from bot.db import engine
    from bot.settings import Settings

    settings = Settings(root=tmp_path)
    inbox = InboxStore(engine(settings.handoff_db_url))
    record_turn(inbox, "c1", "do you ship to mars", None, miss())
    record_turn(inbox, "c2", "my money back", None, clarify())
    assert main(["inbox"], settings) == 0
    out = capsys.readouterr().out
    assert out.startswith("inbox: 1 miss, 0 none of these") and "do you ship to mars" in out
    assert "my money back" not in out and "shipping-cost (0.31)" in out
    assert main(["inbox", "--clarified"], settings) == 0
    assert "my money back" in capsys.readouterr().out
    assert main(["inbox", "--limit", "0"], settings) == 1


def test_the_cli_groups_the_questions_by_meaning_with_the_nearest_entries(tmp_path, monkeypatch, capsys):
    from bot.cli import main
    from bot.db import engine
    from bot.kb.encoder import FakeEncoder
    from bot.settings import Settings
    from tests.helpers import SMALL_CORPUS, write

    monkeypatch.setattr("bot.cli.kb.encoder", lambda settings: FakeEncoder())
    settings = Settings(root=tmp_path, corpus=write(tmp_path / "faq" / "f.yml", SMALL_CORPUS),
                        index_dir=tmp_path / "idx")
    assert main(["kb", "build", "--corpus", str(settings.corpus), "--index", str(settings.index_dir)]) == 0
    inbox = InboxStore(engine(settings.handoff_db_url))
    for n, text in enumerate(["refund for a gift card", "refund for gift card", "gift card refund",
                              "password of my cat"]):
        record_turn(inbox, f"c{n}", text, None, miss())
    capsys.readouterr()
    assert main(["inbox", "--groups"], settings) == 0
    out = capsys.readouterr().out
    first = out.split("\n")[1]
    assert first.startswith("1. 3 question(s) from 3 customer(s)") and "refund-time" in first
    assert "2. 1 question(s) from 1 customer(s)" in out and "password of my cat" in out


def test_grouping_nothing_or_one_question():
    from bot.inbox.groups import group_questions
    from bot.kb.encoder import FakeEncoder

    assert group_questions([], FakeEncoder().encode) == []
    [only] = group_questions([InboxStore._question({"id": 1, "conversation_id": "c", "question": "hi there",
                                                    "kind": MISS, "nearest_entry": None, "score": None,
                                                    "options": None, "at": utcnow()})], FakeEncoder().encode)
    assert only.count == 1 and only.examples == ["hi there"] and only.nearest == []


def test_votes_count_per_entry_and_a_not_helpful_one_is_a_gap_until_changed(inbox):
    from bot.inbox.collect import question_answered_by
    from bot.inbox.store import NOT_HELPFUL

    events = [{"event": "user", "text": "my money back?"}, {"event": "bot", "text": "Which one?"},
              {"event": "user", "text": '/choose_faq{"faq_id": "refund-time"}'},
              {"event": "bot", "text": "3 days", "metadata": {"faq_id": "refund-time"}}]
    assert question_answered_by(events, "refund-time") == "my money back?"  # the clarified question
    assert question_answered_by(events, "shipping-cost") is None
    inbox.vote("c1", "refund-time", "my money back? card 4111 1111 1111 1111", helpful=False)
    inbox.vote("c2", "refund-time", "refund?", helpful=True)
    [gap] = inbox.questions()
    assert (gap.kind, gap.nearest_entry) == (NOT_HELPFUL, "refund-time")
    assert gap.question == "my money back? card [card]"
    assert inbox.votes() == {"refund-time": (1, 1)}
    inbox.vote("c1", "refund-time", "my money back?", helpful=True)  # changed their mind: one vote each
    assert inbox.questions() == [] and inbox.votes() == {"refund-time": (2, 0)}
