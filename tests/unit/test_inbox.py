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
    from bot.conversation.answered import question_answered_by
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


def test_an_action_takes_its_questions_out_of_the_open_inbox_and_keeps_them_as_handled(inbox):
    from bot.inbox.groups import group_questions
    from bot.inbox.store import ALTERNATES, NOT_HELPFUL, NOT_OURS
    from bot.kb.encoder import FakeEncoder

    for n, text in enumerate(["refund for a gift card", "gift card refund", "do you sell llamas"]):
        record_turn(inbox, f"c{n}", text, None, miss())
    inbox.vote("c3", "refund-time", "gift card refunds?", helpful=False)
    ids = {q.question: q.id for q in inbox.questions()}
    gift = [ids["refund for a gift card"], ids["gift card refund"], ids["gift card refunds?"]]
    action = inbox.act(gift, ALTERNATES, "edna", "refund-time")
    assert [q.question for q in inbox.questions()] == ["do you sell llamas"]  # the open inbox
    groups = group_questions(inbox.questions(), FakeEncoder().encode)
    assert [g.examples for g in groups] == [["do you sell llamas"]]
    assert inbox.counts() == {MISS: 1} and inbox.handled_counts() == {ALTERNATES: 3}
    handled = inbox.handled()
    assert [h.question.question for h in handled] == ["gift card refunds?", "gift card refund",
                                                      "refund for a gift card"]
    assert {(h.action_id, h.action, h.by, h.entry_id) for h in handled} == {
        (action, ALTERNATES, "edna", "refund-time")}
    assert handled[0].question.kind == NOT_HELPFUL and handled[0].at >= handled[0].question.at
    assert [q.id for q in inbox.covered(action)] == sorted(gift)
    record_turn(inbox, "c9", "gift card refund", None, miss())  # asked again later: a new open question
    assert [q.question for q in inbox.questions()] == ["gift card refund", "do you sell llamas"]
    llamas = inbox.act([ids["do you sell llamas"]], NOT_OURS, "edna")
    assert inbox.handled(actions=[NOT_OURS])[0].question.question == "do you sell llamas" and llamas != action
    assert inbox.handled_counts() == {ALTERNATES: 3, NOT_OURS: 1} and inbox.counts() == {MISS: 1}
    inbox.vote("c3", "refund-time", "gift card refunds?", helpful=True)  # a handled vote row can go
    assert inbox.handled_counts() == {ALTERNATES: 2, NOT_OURS: 1}
    assert inbox.undo(llamas) == 1 and "do you sell llamas" in [q.question for q in inbox.questions()]


def test_actions_are_checked_and_recorded_all_or_nothing(inbox):
    from bot.inbox.store import ALTERNATES, NEW_ENTRY, NOT_OURS, InboxActionError

    for n in range(3):
        record_turn(inbox, f"c{n}", f"question {n}", None, miss())
    a, b, c = sorted(q.id for q in inbox.questions())
    inbox.act([a], NEW_ENTRY, "edna", "gift-card-refunds")
    for args, message in (
        (([b, 999, 998], NOT_OURS, "edna"), "no question 999, 998 in the inbox"),
        (([b, a], NOT_OURS, "ed"), f"{a} already handled (e.g. new_entry by edna at"),
        (([b], "delete", "edna"), "action: must be one of alternates, new_entry, not_ours"),
        (([b], ALTERNATES, "edna"), "entry_id: 'alternates' needs the id of the entry"),
        (([b], ALTERNATES, "edna", "Not An Id"), "entry_id: 'alternates' needs the id"),
        (([b], NOT_OURS, "edna", "refund-time"), "entry_id: 'not_ours' questions go to no entry"),
        (([], NOT_OURS, "edna"), "question_ids: empty"),
        (("12", NOT_OURS, "edna"), "question_ids: send a list"),
        (([b, True], NOT_OURS, "edna"), "ids are whole numbers, got True"),
        (([b], NOT_OURS, " "), "by: the editor's account name"),
    ):
        with pytest.raises(InboxActionError, match=message.replace("(", r"\(")):
            inbox.act(*args)
    assert [q.id for q in inbox.questions()] == [c, b]  # nothing of the refused actions was recorded
    assert len(inbox.handled()) == 1
    assert inbox.act([b, c, b], NOT_OURS, "edna") and inbox.handled_counts() == {NEW_ENTRY: 1, NOT_OURS: 2}


def test_purge_and_forget_take_the_record_of_actions_with_their_questions(inbox):
    from bot.inbox.store import NOT_OURS, inbox_actions, inbox_handled

    for conversation in ("old", "new", "other"):
        record_turn(inbox, conversation, f"question of {conversation}", None, miss())
    by_conversation = {q.conversation_id: q.id for q in inbox.questions()}
    inbox.act([by_conversation["old"], by_conversation["other"]], NOT_OURS, "edna")
    inbox.act([by_conversation["new"]], NOT_OURS, "edna")
    with inbox.engine.begin() as conn:
        conn.execute(unanswered.update().where(unanswered.c.conversation_id == "old")
                     .values(at=utcnow() - timedelta(days=100)))
    retention = Retention(None, inbox.engine)
    assert retention.purge(timedelta(days=90)).inbox_questions == 1
    assert [h.question.conversation_id for h in inbox.handled()] == ["new", "other"]
    assert retention.forget_sender("new").inbox_questions == 1
    assert [h.question.conversation_id for h in inbox.handled()] == ["other"]
    with inbox.engine.connect() as conn:  # the action that covered only "new" went with it
        assert conn.execute(sa.select(sa.func.count()).select_from(inbox_actions)).scalar() == 1
        assert conn.execute(sa.select(sa.func.count()).select_from(inbox_handled)).scalar() == 1


def test_an_inbox_created_by_the_previous_code_gains_the_action_tables(tmp_path):
    from bot.inbox.store import ALTERNATES, answer_votes

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    from bot.db import metadata

    metadata.create_all(engine, tables=[unanswered, answer_votes])  # what the previous code created
    with engine.begin() as conn:
        conn.execute(unanswered.insert().values(conversation_id="c", question="old question", kind=MISS,
                                                at=utcnow()))
    assert not sa.inspect(engine).has_table("inbox_actions")
    inbox = InboxStore(engine)
    [old] = inbox.questions()
    inbox.act([old.id], ALTERNATES, "edna", "refund-time")
    assert inbox.questions() == [] and inbox.handled()[0].question.question == "old question"


def test_not_ours_keeps_the_questions_as_out_of_scope_examples_or_nothing(inbox, tmp_path):
    from bot.inbox.actions import not_ours
    from bot.inbox.store import NOT_OURS, InboxActionError
    from bot.kb import out_of_scope

    texts = ["Do you sell llamas?", "do you  sell llamas?", "llama for sale? mail jo@example.com"]
    for n, text in enumerate(texts):
        record_turn(inbox, f"c{n}", text, None, miss())
    ids = [q.id for q in inbox.questions()]
    examples = tmp_path / "data" / "out_of_scope.yml"
    action, added = not_ours(inbox, examples, ids, "edna")
    assert added == ["Do you sell llamas?", "llama for sale? mail [email]"]  # masked, once each
    assert out_of_scope.load(examples) == added and inbox.handled_counts() == {NOT_OURS: 3}
    with pytest.raises(InboxActionError, match="already handled"):
        not_ours(inbox, examples, ids[:1], "edna")
    record_turn(inbox, "c9", "do you rent llamas", None, miss())
    [new] = inbox.questions()
    examples.write_text("out_of_scope: [oops\n")  # a broken file: the action is undone
    with pytest.raises(out_of_scope.OutOfScopeError, match="out_of_scope.yml:2: malformed YAML"):
        not_ours(inbox, examples, [new.id], "edna")
    assert inbox.questions() == [new] and inbox.handled_counts() == {NOT_OURS: 3}


def test_the_cli_shows_handled_counts_and_lists_them(tmp_path, capsys):
    from bot.cli import main
    from bot.db import engine
    from bot.inbox.store import NEW_ENTRY
    from bot.settings import Settings

    settings = Settings(root=tmp_path)
    inbox = InboxStore(engine(settings.handoff_db_url))
    record_turn(inbox, "c1", "do you ship to mars", None, miss())
    record_turn(inbox, "c2", "do you ship to the moon", None, miss())
    inbox.act([inbox.questions()[0].id], NEW_ENTRY, "edna", "space-shipping")
    assert main(["inbox"], settings) == 0
    out = capsys.readouterr().out
    assert out.startswith("inbox: 1 miss, 0 none of these")
    assert "; handled: 1 (0 alternates, 1 new entry, 0 not ours)" in out
    assert "do you ship to mars" in out and "moon" not in out
    assert main(["inbox", "--handled"], settings) == 0
    out = capsys.readouterr().out
    assert "new_entry -> space-shipping by edna" in out and "do you ship to the moon" in out
    assert "mars" not in out


def test_the_served_inbox_commits_without_waiting_for_the_disk_but_keeps_hand_offs_durable(tmp_path):
    """The inbox (written on every FAQ turn) commits with synchronous=NORMAL; hand-offs, staff and
    the feed keep SQLite's default FULL on the same file."""
    from bot.db import engine

    url = f"sqlite:///{tmp_path / 'h.db'}"
    with engine(url, durable=False).connect() as relaxed, engine(url).connect() as durable:
        assert relaxed.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert durable.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert relaxed.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_an_inbox_record_outlives_a_crash_right_after_the_turn(tmp_path):
    """Write-ahead with synchronous=NORMAL loses nothing when the process dies: the row a turn
    recorded is read back after the action server is killed (SIGKILL) the moment it returned."""
    import signal
    import subprocess
    import sys

    from bot.inbox.figures import entry_figures

    db = tmp_path / "h.db"
    child = subprocess.run([sys.executable, "-c", f"""
import os, signal
from bot.db import engine
from bot.inbox.collect import record_turn
from bot.inbox.store import InboxStore
from tests.unit.test_inbox import answer, miss
store = InboxStore(engine("sqlite:///{db}", durable=False))
record_turn(store, "c1", "can I pay in coins?", None, miss())
record_turn(store, "c1", "how long do refunds take?", None, answer())
os.kill(os.getpid(), signal.SIGKILL)
"""], capture_output=True, text=True, timeout=60)
    assert child.returncode == -signal.SIGKILL, child.stderr
    store = InboxStore(sa.create_engine(f"sqlite:///{db}"))
    assert [q.question for q in store.questions()] == ["can I pay in coins?"]
    assert entry_figures(store.engine)["refund-time"]["answered"] == 1
