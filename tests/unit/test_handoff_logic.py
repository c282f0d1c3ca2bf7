from datetime import datetime, timedelta, timezone

import pytest

from actions.handoff import parse_rating
from bot.handoff.packet import Reason
from bot.handoff.service import HandoffService, redacted_packet
from bot.handoff.store import HandoffStore
from bot.hours import HoursError, is_open
from bot.settings import Settings, SettingsError
from bot.staff.limiter import LoginLimiter
from bot.staff.passwords import PasswordError, hash_password, verify_password
from tests.handoff_events import EVENTS


def test_passwords_are_argon2_hashed_and_verified():
    h = hash_password("correct horse battery")
    assert h.startswith("$argon2id$") and "correct" not in h
    assert verify_password(h, "correct horse battery")
    assert not verify_password(h, "wrong horse battery")
    assert not verify_password(None, "correct horse battery")  # unknown agent
    with pytest.raises(PasswordError, match="at least 10"):
        hash_password("short")


def test_login_limiter_blocks_after_repeated_failures_then_forgets():
    limiter = LoginLimiter(attempts=3, window=60)
    for t in range(3):
        assert limiter.retry_after("ana|1.2.3.4", now=t) == 0
        limiter.failed("ana|1.2.3.4", now=t)
    assert limiter.retry_after("ana|1.2.3.4", now=10) == pytest.approx(50)
    assert limiter.retry_after("bo|1.2.3.4", now=10) == 0
    assert limiter.retry_after("ana|1.2.3.4", now=61) == 0


@pytest.mark.parametrize("when,expected", [
    (datetime(2026, 11, 23, 8, 30), True),    # Monday 09:30 in Berlin
    (datetime(2026, 11, 23, 17, 30), False),  # Monday 18:30 in Berlin
    (datetime(2026, 11, 28, 10, 0), True),    # Saturday 11:00
    (datetime(2026, 11, 29, 10, 0), False),   # Sunday
])
def test_opening_hours_in_the_configured_zone(when, expected):
    spec = "mon-fri 09:00-18:00; sat 10:00-14:00"
    assert is_open(spec, "Europe/Berlin", when.replace(tzinfo=timezone.utc)) is expected
    assert is_open("", "UTC", when.replace(tzinfo=timezone.utc))


@pytest.mark.parametrize("spec", ["weekdays 9-5", "mon-fri 18:00-09:00", "mon 09:00"])
def test_bad_opening_hours_say_how_to_write_them(spec):
    with pytest.raises(HoursError):
        is_open(spec, "UTC", datetime.now(timezone.utc))
    with pytest.raises(SettingsError, match="SUPPORTBOT_HANDOFF_HOURS"):
        Settings(handoff_hours=spec)


def test_webhooks_need_a_secret():
    with pytest.raises(SettingsError, match="WEBHOOK_SECRET"):
        Settings(handoff_webhooks="http://127.0.0.1:9/x")


@pytest.fixture
def service(tmp_path):
    return HandoffService(HandoffStore.from_url(f"sqlite:///{tmp_path / 'h.db'}"), Settings(root=tmp_path))


def test_open_is_live_only_with_an_agent_online_within_opening_hours(service):
    first = service.open("c1", EVENTS, {}, Reason.user_request)
    assert first.created and not first.live and first.handoff.ticket  # nobody online: a ticket
    service.staff.add_agent("ana", "x")
    service.staff.create_session("ana", timedelta(hours=1))
    second = service.open("c2", EVENTS, {}, Reason.low_confidence)
    # the ticket waiting for an email reply is not ahead of a live customer (issue 19: was 2)
    assert second.live and not second.handoff.ticket and second.position == 1
    again = service.open("c2", EVENTS, {}, Reason.low_confidence)
    assert not again.created and again.handoff.id == second.handoff.id


def test_redacted_packet_masks_every_copy_of_personal_data(service):
    packet = service.open("c1", EVENTS, {}, Reason.user_request).handoff.packet
    assert "jo@example.com" in packet.json()
    masked = redacted_packet(packet)
    assert "jo@example.com" not in masked.json() and masked.customer.email == "[email]"
    assert "jo@example.com" in packet.json()  # the stored original is untouched


@pytest.mark.parametrize("text,entity,expected", [
    ("4 - quick and friendly", "4", (4, "quick and friendly")),
    ("5", "5", (5, None)),
    ('/rate{"rating": "3"}', "3", (3, None)),
    ("I'd give it a 2", None, (2, None)),
    ("10 out of 10", None, (None, None)),
    ("great", None, (None, None)),
])
def test_parse_rating(text, entity, expected):
    assert parse_rating(text, entity) == expected


def test_agents_see_personal_data_only_when_configured(tmp_path):
    store = HandoffStore.from_url(f"sqlite:///{tmp_path / 'h.db'}")
    text = "reach me at jo@example.com"
    assert HandoffService(store, Settings(root=tmp_path)).for_agent(text) == text
    hidden = HandoffService(store, Settings(root=tmp_path, agents_see_personal_data=False))
    assert hidden.for_agent(text) == "reach me at [email]"
    assert Settings.from_env({"SUPPORTBOT_AGENTS_SEE_PERSONAL_DATA": "no"}).agents_see_personal_data is False
    with pytest.raises(SettingsError, match="AGENTS_SEE_PERSONAL_DATA"):
        Settings.from_env({"SUPPORTBOT_AGENTS_SEE_PERSONAL_DATA": "maybe"})


def test_relay_copies_only_what_is_said_after_the_handoff_opened(service):
    from bot.rasa.relay import HandoffRelay

    opened = service.open("c1", EVENTS, {}, Reason.user_request).handoff
    after = opened.created_at.timestamp() + 1
    relay = HandoffRelay(service)
    relay.publish({"event": "user", "sender_id": "c1", "text": "before", "timestamp": after - 5})
    relay.publish({"event": "user", "sender_id": "c1", "text": "are you there?", "timestamp": after})
    relay.publish({"event": "bot", "sender_id": "c1", "text": "Hi, Ana here", "timestamp": after,
                   "metadata": {"agent": "ana"}})  # stored by the console itself
    relay.publish({"event": "user", "sender_id": "c1", "text": "EXTERNAL: handoff_finished",
                   "timestamp": after, "metadata": {"is_external": True}})  # as Rasa sends it
    relay.publish({"event": "slot", "sender_id": "c1", "name": "x", "timestamp": after})
    relay.publish({"event": "user", "sender_id": "other", "text": "unrelated", "timestamp": after})
    assert [(m.role, m.text) for m in service.store.messages(opened.id)] == [("customer", "are you there?")]


def test_relay_looks_up_the_handoff_once_per_turn(service, monkeypatch):
    from bot.rasa.relay import HandoffRelay

    opened = service.open("c1", EVENTS, {}, Reason.user_request).handoff
    after = opened.created_at.timestamp() + 1
    lookups = []
    active_for = service.store.active_for
    monkeypatch.setattr(service.store, "active_for", lambda cid: lookups.append(cid) or active_for(cid))
    HandoffRelay(service).publish_many([
        {"event": "user", "sender_id": "c1", "text": "still there?", "timestamp": after},
        {"event": "action", "sender_id": "c1", "name": "action_listen", "timestamp": after},
        {"event": "bot", "sender_id": "c1", "text": "An agent will be with you", "timestamp": after + 1},
        {"event": "user", "sender_id": "other", "text": "unrelated", "timestamp": after}])
    assert sorted(lookups) == ["c1", "other"]
    assert [(m.role, m.text) for m in service.store.messages(opened.id)] == [
        ("customer", "still there?"), ("bot", "An agent will be with you")]


def test_a_fresh_checkout_without_a_rasa_folder_opens_its_stores(tmp_path):
    """The default SQLite files live in .rasa/, which only `rasa train` used to create: with a
    trained model copied in (or a new database path), the Rasa server died at start-up."""
    settings = Settings(root=tmp_path, handoff_db="new/folder/handoff.db")
    service = HandoffService.from_settings(settings)
    assert service.agents_online() == [] and (tmp_path / "new" / "folder" / "handoff.db").is_file()


def test_a_customer_message_that_starts_like_rasas_own_triggers_still_reaches_the_agent(service):
    """Issue 16, item 9: "EXTERNAL: ..." typed by a customer vanished from the relay and the packet."""
    from bot.handoff.packet import build_packet
    from bot.rasa.relay import HandoffRelay

    typed = {"event": "user", "timestamp": 1700000050.0, "text": "EXTERNAL: my parcel never came",
             "parse_data": {"intent": {"name": "nlu_fallback"}, "entities": []}}
    triggered = {"event": "user", "timestamp": 1700000051.0, "text": "EXTERNAL: handoff_finished",
                 "metadata": {"is_external": True}}
    packet = build_packet("c9", [*EVENTS, typed, triggered], {}, Reason.user_request)
    assert [line.text for line in packet.transcript][-2:] == ["I want to talk to a human",
                                                              "EXTERNAL: my parcel never came"]
    opened = service.open("c9", EVENTS, {}, Reason.user_request).handoff
    later = opened.created_at.timestamp() + 1
    HandoffRelay(service).publish_many([{**typed, "sender_id": "c9", "timestamp": later},
                                        {**triggered, "sender_id": "c9", "timestamp": later}])
    assert [m.text for m in service.store.messages(opened.id)] == ["EXTERNAL: my parcel never came"]


def test_only_a_resolved_handoff_is_rated_and_only_once(service):
    from bot.handoff.states import AlreadyRated, InvalidTransition

    h = service.open("c1", EVENTS, {}, Reason.user_request).handoff
    with pytest.raises(InvalidTransition, match="is already queued; it cannot become rated"):
        service.rate(h.id, 5)
    service.staff.add_agent("ana", "x")
    service.finish(h.id, "ana", "resolved")
    assert service.rate(h.id, 4, "quick").rating == 4
    with pytest.raises(AlreadyRated, match="rated once"):
        service.rate(h.id, 1, "actually bad")
    assert (service.store.get(h.id).rating, service.store.get(h.id).rating_comment) == (4, "quick")


@pytest.mark.parametrize("entity", ["0", "6", "4.5", "<img src=x>", "", None])
def test_a_rating_entity_that_is_not_a_whole_number_from_1_to_5_is_no_rating(entity):
    assert parse_rating('/rate{"rating": "x"}', entity) == (None, None)


def test_a_conversation_already_with_a_person_is_not_told_it_is_number_0_in_a_queue():
    from bot.handoff.messages import queued

    assert "number 2 in the queue" in queued(2)
    assert "number 0" not in queued(0) and "already connected" in queued(0)
