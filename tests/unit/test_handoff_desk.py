"""Issue 19's desk: internal notes never leave the staff side, transfers follow the rules and keep
analytics right, earlier hand-offs are found only by what the customer cannot forge."""

import threading
from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

import bot.handoff.store as store_module
from bot.analytics.figures import compute
from bot.analytics.period import Period
from bot.handoff.desk import SAME_CONVERSATION, SIGNED_IN, BadInput, Desk, NotAllowed, clean_text
from bot.handoff.packet import Reason, build_packet
from bot.handoff.service import HandoffService
from bot.handoff.states import ASSIGNED, RESOLVED, InvalidTransition
from bot.handoff.store import HandoffStore, transitions
from bot.handoff.tickets import TicketReplies
from bot.settings import Settings
from bot.staff.accounts import ADMIN, EDITOR, StaffStore
from tests.handoff_events import EVENTS

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def service(tmp_path):
    settings = Settings(root=tmp_path, handoff_db=str(tmp_path / "h.db"), smtp_host="127.0.0.1",
                        smtp_from="support@shop.test")
    store = HandoffStore.from_url(settings.handoff_db_url)
    staff = StaffStore(store.engine)
    for name, role in (("ana", None), ("bo", None), ("cy", None), ("root", ADMIN), ("ed", EDITOR)):
        staff.add_agent(name, "x", role)
    return HandoffService(store, settings, staff)


@pytest.fixture
def desk(service):
    return Desk(service)


def open_one(service, conversation="conv-1", email=None, minutes=0):
    slots = {"customer_email": email} if email else {}
    packet = build_packet(conversation, EVENTS, slots, Reason.user_request, now=T0 + timedelta(minutes=minutes))
    h, _ = service.store.open(packet)
    return h


def test_a_note_is_kept_for_staff_and_left_out_of_every_road_to_the_customer(service, desk):
    h = open_one(service, email="jo@example.com")
    service.claim(h.id, "ana")
    service.send(h.id, "ana", "Hello Jo")
    note = desk.note(h.id, "bo", "VIP customer: refund without asking")
    # the staff view asks for notes and gets it, marked by its role
    assert [(m.role, m.author, m.text) for m in service.store.messages(h.id, notes=True)][-1] == (
        "note", "bo", "VIP customer: refund without asking")
    # every other reader (ticket email's conversation, suggest-for-FAQ, anything new) does not
    assert note.id not in [m.id for m in service.store.messages(h.id)]
    assert "VIP" not in " ".join(line.text for line in TicketReplies(service.store, service.settings).lines(h))
    # nor is it the hand-off's first agent reply in analytics (only the agent's message counts)
    with service.store.engine.connect() as conn:
        roles = conn.execute(sa.text("SELECT role FROM handoff_messages ORDER BY id")).scalars().all()
    assert roles == ["agent", "note"]


def test_note_and_transfer_inputs_are_checked_and_named():
    with pytest.raises(BadInput, match="non-empty text") as exc:
        clean_text("   ", "text", 10)
    assert exc.value.field == "text"
    with pytest.raises(BadInput, match="at most 10 characters; this one has 11"):
        clean_text("x" * 11, "text", 10)
    with pytest.raises(BadInput, match="must be a string"):
        clean_text(5, "to", 10)
    assert clean_text(None, "note", 10, required=False) == ""


def test_only_the_holder_or_an_admin_transfers_to_an_agent_and_it_is_recorded(service, desk):
    h = open_one(service)
    with pytest.raises(InvalidTransition, match="claim it first"):
        desk.transfer(h.id, "ana", "agent", "bo", "")
    service.claim(h.id, "ana")
    with pytest.raises(NotAllowed, match="only ana"):
        desk.transfer(h.id, "cy", "agent", "bo", "")
    for to, message in (("ed", "not an agent or admin"), ("nobody", "not an agent"), ("ana", "holds this")):
        with pytest.raises(BadInput, match=message):
            desk.transfer(h.id, "ana", "agent", to, "")
    moved = desk.transfer(h.id, "ana", "agent", "bo", "she wants a refund, order 123")
    assert (moved.state, moved.agent) == (ASSIGNED, "bo")
    last = service.store.history(h.id)[-1]
    assert (last["from_state"], last["to_state"], last["actor"], last["agent"]) == (
        ASSIGNED, ASSIGNED, "ana", "bo")
    assert service.store.messages(h.id, notes=True)[-1].text == (
        "Transferred from ana to bo: she wants a refund, order 123")
    # the new holder writes; the old one can no longer
    service.send(h.id, "bo", "Bo here")
    with pytest.raises(InvalidTransition):
        service.send(h.id, "ana", "still me?")
    # an admin may move it on although they do not hold it
    assert desk.transfer(h.id, "root", ADMIN, "cy", "").agent == "cy"
    assert desk.candidates("cy")[0]["name"] in ("ana", "bo", "root")
    assert {c["name"] for c in desk.candidates("cy")} == {"ana", "bo", "root"}  # no editor, not me


def test_a_transfer_and_its_note_are_stored_together_or_not_at_all(service, desk, monkeypatch):
    h = open_one(service)
    service.claim(h.id, "ana")
    real = HandoffStore.add_message

    def failing(self, handoff_id, role, text, author=None, conn=None):
        if role == "note":
            raise sa.exc.OperationalError("INSERT INTO handoff_messages", {}, Exception("disk full"))
        return real(self, handoff_id, role, text, author, conn)

    monkeypatch.setattr(HandoffStore, "add_message", failing)
    with pytest.raises(sa.exc.OperationalError):
        desk.transfer(h.id, "ana", "agent", "bo", "she wants a refund")
    # the note could not be written: the transfer did not happen either, ana still holds it
    assert service.store.get(h.id).agent == "ana"
    assert not [r for r in service.store.history(h.id) if r["from_state"] == ASSIGNED]  # no transfer recorded
    assert service.store.messages(h.id, notes=True) == []
    monkeypatch.setattr(HandoffStore, "add_message", real)
    assert desk.transfer(h.id, "ana", "agent", "bo", "she wants a refund").agent == "bo"


def test_of_two_transfers_at_once_exactly_one_wins(service, desk):
    h = open_one(service)
    service.claim(h.id, "ana")
    results, barrier = [], threading.Barrier(2)

    def go(actor, role, to):
        barrier.wait()
        try:
            results.append(desk.transfer(h.id, actor, role, to, "").agent)
        except InvalidTransition as exc:
            results.append(exc)

    threads = [threading.Thread(target=go, args=a) for a in (("ana", "agent", "bo"), ("root", ADMIN, "cy"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [r for r in results if isinstance(r, str)]
    assert len(winners) == 1 and service.store.get(h.id).agent == winners[0]
    with service.store.engine.connect() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(transitions).where(
            transitions.c.handoff_id == h.id, transitions.c.from_state == ASSIGNED)).scalar_one()
    assert n == 1


def test_analytics_times_a_transferred_handoff_from_first_claim_to_its_end(service, desk, monkeypatch):
    clock = {"now": T0}
    monkeypatch.setattr(store_module, "utcnow", lambda: clock["now"])
    h = open_one(service)
    clock["now"] = T0 + timedelta(minutes=2)
    service.claim(h.id, "ana")
    clock["now"] = T0 + timedelta(minutes=3)
    desk.note(h.id, "ana", "a note is not a reply to the customer")
    clock["now"] = T0 + timedelta(minutes=5)
    desk.transfer(h.id, "ana", "agent", "bo", "yours")
    clock["now"] = T0 + timedelta(minutes=7)
    service.send(h.id, "bo", "first words to the customer")
    clock["now"] = T0 + timedelta(minutes=12)
    service.finish(h.id, "bo", RESOLVED)
    figures = compute(service.store.engine, Period(date(2026, 11, 22), date(2026, 11, 22)))
    # first reply: created -> bo's message (not the note at 3 min); handling: ana's claim -> resolved
    assert figures.total.first_reply == [pytest.approx(7 * 60.0, abs=0.01)]
    assert figures.total.handling == [pytest.approx(10 * 60.0, abs=0.01)]  # not reset by the transfer


def test_earlier_handoffs_by_conversation_or_signed_identity_never_by_a_typed_email(service, desk):
    first = open_one(service, "conv-1", email="jo@example.com")
    service.finish(first.id, "bot", RESOLVED)
    service.store.rate(first.id, 4)
    by_email = open_one(service, "conv-2", email="JO@example.com", minutes=1)
    service.finish(by_email.id, "bot", "abandoned")
    open_one(service, "conv-3", email="someone.else@example.com", minutes=2)
    now = open_one(service, "conv-1", email="jo@example.com", minutes=3)
    found = desk.earlier(now)
    # conv-2 typed jo's address: anyone can, so its hand-off is not shown as jo's (nor theirs as its)
    assert [(e.handoff.id, e.match) for e in found] == [(first.id, SAME_CONVERSATION)]
    assert found[0].handoff.rating == 4
    assert desk.earlier(service.store.get(by_email.id)) == []
    # a site's signed-in customer: their conversation id comes from the JWT subject
    signed = open_one(service, "u-abc", email="signed@example.com", minutes=4)
    service.finish(signed.id, "bot", RESOLVED)
    again = open_one(service, "u-abc", email="signed@example.com", minutes=5)
    assert [(e.handoff.id, e.match) for e in desk.earlier(again)] == [(signed.id, SIGNED_IN)]
    # addresses masked at rest are all "[email]": equal masks match nobody
    m1 = open_one(service, "conv-m1", minutes=6)
    m2 = open_one(service, "conv-m2", minutes=7)
    with service.store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE handoffs SET customer_email='[email]' WHERE id IN (:a, :b)"),
                     {"a": m1.id, "b": m2.id})
    assert desk.earlier(service.store.get(m2.id)) == []


def test_an_older_database_gets_the_transitions_agent_column_and_keeps_its_rows(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE handoff_transitions (id INTEGER PRIMARY KEY, "
                             "handoff_id VARCHAR(32), from_state VARCHAR(16), to_state VARCHAR(16) NOT NULL, "
                             "at DATETIME NOT NULL, "
                             "actor VARCHAR(64))"))
        conn.execute(sa.text("INSERT INTO handoff_transitions (handoff_id, to_state, at, actor) "
                             "VALUES ('h', 'queued', '2026-01-01 00:00:00.000000', 'bot')"))
    store = HandoffStore.from_url(url)
    assert store.history("h")[0]["agent"] is None and store.history("h")[0]["actor"] == "bot"
    HandoffStore.from_url(url)  # idempotent


def test_a_finish_decided_before_a_transfer_landed_does_not_end_the_new_holders_chat(service, desk):
    h = open_one(service)
    service.claim(h.id, "ana")
    desk.transfer(h.id, "root", ADMIN, "bo", "")  # lands between ana's check and her update
    with pytest.raises(InvalidTransition, match="by bo"):
        service.store.transition(h.id, RESOLVED, actor="ana", holder="ana")
    assert service.store.get(h.id).state == ASSIGNED


def test_a_note_is_not_in_the_webhook_packet_of_the_handoffs_end(tmp_path):
    settings = Settings(root=tmp_path, handoff_db=str(tmp_path / "w.db"), handoff_webhooks="http://127.0.0.1:9/x",
                        handoff_webhook_secret="s")
    store = HandoffStore.from_url(settings.handoff_db_url)
    StaffStore(store.engine).add_agent("ana", "x")
    service = HandoffService(store, settings)
    h = open_one(service)
    service.claim(h.id, "ana")
    Desk(service).note(h.id, "ana", "the customer sounds upset, be gentle")
    service.finish(h.id, "ana", RESOLVED)
    bodies = [row["body"] for row in service.outbox.webhook_rows()]
    assert len(bodies) == 1 and "handoff.resolved" in bodies[0] and "upset" not in bodies[0]
