"""A conversation's Rasa sessions split on Rasa's own session start, and what each was about."""

from datetime import datetime, timezone

from bot.conversation.sessions import earlier_sessions, split_sessions, summarise_session


def start(t):
    return [{"event": "action", "name": "action_session_start", "timestamp": t},
            {"event": "session_started", "timestamp": t},
            {"event": "action", "name": "action_listen", "timestamp": t}]


def user(t, text, intent="ask_question"):
    return {"event": "user", "text": text, "timestamp": t, "parse_data": {"intent": {"name": intent}}}


def bot(t, text, faq_id=None, decision=None, **data):
    return {"event": "bot", "text": text, "timestamp": t, "data": data,
            "metadata": {"faq_id": faq_id, "faq_decision": decision} if faq_id else {}}


FIRST = [*start(1000), user(1001, "hi", "greet"), bot(1002, "Hi!"),
         user(1003, "how long does a refund take?"), bot(1004, "3 business days", "refund-time", "answer"),
         user(1005, "and shipping costs?"), bot(1006, "Free over 50", "shipping-cost", "answer"),
         user(1007, "and a refund again?"), bot(1008, "3 business days", "refund-time", "answer")]
SECOND = [*start(9000), user(9001, "my parcel is lost"), bot(9002, "Sorry, I don't know", "x", "miss"),
          user(9003, "/request_human", "request_human"),
          bot(9004, "You are number 1 in the queue", custom={"handoff": {"id": "h1"}})]
THIRD = [*start(20000), user(20001, "is the parcel found?")]
EVENTS = FIRST + SECOND + THIRD


def at(t):
    return datetime.fromtimestamp(t, tz=timezone.utc)


def test_sessions_are_cut_before_each_action_session_start_and_lose_no_event():
    sessions = split_sessions(EVENTS)
    assert sessions == [FIRST, SECOND, THIRD]
    assert split_sessions(FIRST) == [FIRST]
    assert split_sessions([]) == []
    # events before any session start (an old tracker) are the first session
    assert split_sessions([user(1, "old")] + SECOND) == [[user(1, "old")], SECOND]


def test_summary_counts_messages_and_names_first_question_faq_answers_and_hand_off():
    s = summarise_session(0, FIRST)
    assert (s.started_at, s.ended_at) == (at(1000), at(1008))
    assert s.customer_messages == 4
    assert s.first_question == "how long does a refund take?"  # "hi" is small talk
    assert s.faq_answered == ["refund-time", "shipping-cost"]
    assert not s.handed_off
    second = summarise_session(1, SECOND)
    assert second.handed_off and second.faq_answered == [] and second.first_question == "my parcel is lost"
    assert [line.text for line in second.transcript][:2] == ["my parcel is lost", "Sorry, I don't know"]


def test_earlier_sessions_are_those_before_the_hand_offs_session_newest_first():
    found = earlier_sessions(EVENTS, at(20001))  # a hand-off in the third session
    assert [(s.index, s.first_question) for s in found] == [
        (1, "my parcel is lost"), (0, "how long does a refund take?")]
    assert [s.index for s in earlier_sessions(EVENTS, at(9004))] == [0]
    assert earlier_sessions(EVENTS, at(1005)) == []
    # a naive datetime is read as UTC, as the hand-off store writes it
    assert [s.index for s in earlier_sessions(EVENTS, at(9004).replace(tzinfo=None))] == [0]


def test_sessions_in_which_the_customer_said_nothing_are_not_listed():
    events = FIRST + start(5000) + THIRD
    assert len(split_sessions(events)) == 3
    assert [s.index for s in earlier_sessions(events, at(20001))] == [0]


def test_a_sessions_row_masks_customer_text_as_the_console_does_and_names_the_match(tmp_path):
    from bot.handoff.service import HandoffService
    from bot.handoff.store import HandoffStore
    from bot.settings import Settings
    from bot.web.console_desk import session_row

    settings = Settings(root=tmp_path, handoff_db=str(tmp_path / "h.db"), agents_see_personal_data=False)
    service = HandoffService(HandoffStore.from_url(settings.handoff_db_url), settings)
    events = [*start(100), user(101, "my mail is jo@example.com, where is my refund?")]
    [s] = earlier_sessions(events + SECOND, at(9004))
    row = session_row(s, service, "u-0123456789abcdef")
    assert "jo@example.com" not in row["first_question"] and "where is my refund?" in row["first_question"]
    assert row["match"] == "signed-in customer" and row["customer_messages"] == 1
    assert session_row(s, service, "c0ffee")["match"] == "same conversation"
