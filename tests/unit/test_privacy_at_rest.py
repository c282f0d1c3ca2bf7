"""Personal data the operator masks at rest never reaches a store; the bot still saw it."""

import asyncio
import json
import sqlite3

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, SlotSet, UserUttered

from bot.delivery.feed import FeedStore
from bot.handoff.packet import Reason, build_packet
from bot.handoff.service import HandoffService
from bot.handoff.store import HandoffStore
from bot.privacy.at_rest import AtRest
from bot.rasa.tracker_store import SupportTrackerStore
from bot.settings import Settings, SettingsError
from tests.handoff_events import EVENTS

CARD, IBAN = "4111 1111 1111 1111", "de89 3704 0044 0532 0130 00"
EMAIL, PHONE = "jo@example.com", "(415) 555-2671"
SAID = f"charged twice on {CARD}, refund to {IBAN} please; {EMAIL} or {PHONE}, order 12345678"
DOMAIN = Domain.from_yaml("""
version: "3.1"
slots:
  customer_email: {type: text, influence_conversation: false, mappings: [{type: custom}]}
""")


def dump(path) -> str:
    """Every text value of every table, as SQLite holds it."""
    db = sqlite3.connect(path)
    out = []
    for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
        out += [str(v) for row in db.execute(f"SELECT * FROM {table}") for v in row]
    return "\n".join(out)


def test_settings_default_to_cards_and_ibans_and_reject_unknown_kinds():
    assert Settings().mask_kinds == {"card", "iban"} and Settings().phone_region == "US"
    assert Settings.from_env({"SUPPORTBOT_MASK_AT_REST": " Email, phone ,card"}).mask_kinds == {
        "email", "phone", "card"}
    assert Settings.from_env({"SUPPORTBOT_MASK_AT_REST": ""}).mask_kinds == frozenset()
    with pytest.raises(SettingsError, match=r"MASK_AT_REST: unknown kind\(s\) 'cards'.*email, phone"):
        Settings.from_env({"SUPPORTBOT_MASK_AT_REST": "cards,iban"})
    with pytest.raises(SettingsError, match="SUPPORTBOT_PHONE_REGION must be a two-letter region"):
        Settings.from_env({"SUPPORTBOT_PHONE_REGION": "USA"})
    assert Settings.from_env({"SUPPORTBOT_PHONE_REGION": "gb"}).phone_region == "gb"


def test_a_rasa_event_is_masked_where_it_holds_what_was_said():
    user = UserUttered(SAID, intent={"name": "ask_question", "confidence": 0.9},
                       entities=[{"entity": "card", "value": CARD, "start": 17, "end": 36}]).as_dict()
    masked = AtRest({"card", "iban"}).event(user)
    assert masked["text"] == masked["parse_data"]["text"] == (
        f"charged twice on [card], refund to [iban] please; {EMAIL} or {PHONE}, order 12345678")
    assert masked["parse_data"]["entities"][0]["value"] == "[card]"
    assert masked["parse_data"]["intent"] == user["parse_data"]["intent"]
    assert user["text"] == SAID  # a copy: the turn in memory keeps what was typed
    everything = AtRest({"email", "phone", "card", "iban"}).event(user)
    assert everything["text"] == (
        "charged twice on [card], refund to [iban] please; [email] or [phone], order 12345678")
    slot = AtRest({"email"}).event(SlotSet("customer_email", EMAIL).as_dict())
    assert slot["value"] == "[email]" and slot["name"] == "customer_email"
    assert AtRest().event(user) is user  # nothing to mask


def test_the_tracker_store_writes_masked_rows_and_the_turn_keeps_the_typed_text(tmp_path):
    db = tmp_path / "tracker.db"
    store = SupportTrackerStore(domain=DOMAIN, db=str(db), at_rest=AtRest({"card", "iban", "email"}))

    async def turn():
        tracker = await store.get_or_create_tracker("probe-12345678")
        tracker.update(UserUttered(SAID, intent={"name": "ask_question"}, timestamp=1.0))
        tracker.update(SlotSet("customer_email", EMAIL, timestamp=1.1))
        tracker.update(BotUttered(f"Thanks! Our support team will reply to {EMAIL}.", timestamp=1.2))
        await store.save(tracker)
        assert tracker.latest_message.text == SAID  # NLU and this turn's actions saw it as typed
        return await store.retrieve("probe-12345678")

    read = asyncio.run(turn())
    stored = dump(db)
    for secret in ("4111", "3704", EMAIL):
        assert secret not in stored
    assert "[card]" in stored and "[iban]" in stored and "order 12345678" in stored
    assert "probe-12345678" in stored  # the conversation id is no phone number
    assert read.latest_message.text.startswith("charged twice on [card], refund to [iban]")
    assert read.get_slot("customer_email") == "[email]"


def test_nothing_masked_at_rest_when_the_operator_says_so(tmp_path):
    store = SupportTrackerStore(domain=DOMAIN, db=str(tmp_path / "t.db"), at_rest=AtRest())

    async def turn():
        tracker = await store.get_or_create_tracker("c")
        tracker.update(UserUttered(SAID, timestamp=1.0))
        await store.save(tracker)

    asyncio.run(turn())
    assert CARD in dump(tmp_path / "t.db")


def test_the_handoff_store_and_feed_write_masked_text(tmp_path):
    events = [*EVENTS[:-1], {**EVENTS[-1], "text": f"a person please, my card {CARD} and IBAN {IBAN}"}]
    store = HandoffStore.from_url(f"sqlite:///{tmp_path / 'h.db'}")  # the default: cards and IBANs
    h, _ = store.open(build_packet("c1", events, {"customer_email": EMAIL}, Reason.user_request))
    store.add_message(h.id, "customer", f"it was {CARD}")
    store.add_message(h.id, "agent", f"refunded to {IBAN.upper()}", author="ana")
    store.rate(h.id, 5, f"they refunded {CARD} quickly")
    FeedStore(store.engine).feed_push("c1", {"recipient_id": "c1", "text": f"refunded to {IBAN}"})
    stored = dump(tmp_path / "h.db")
    assert "4111" not in stored and "3704" not in stored and "0044" not in stored
    assert stored.count("[card]") >= 4 and stored.count("[iban]") >= 4
    assert EMAIL in stored  # the contact the team replies to is kept unless emails are masked
    assert store.get(h.id).packet.transcript[-1].text == "a person please, my card [card] and IBAN [iban]"
    assert [m.text for m in store.messages(h.id)] == ["it was [card]", "refunded to [iban]"]


def test_emails_masked_at_rest_leave_no_contact_address(tmp_path):
    settings = Settings(root=tmp_path, handoff_db=str(tmp_path / "h.db"), mask_at_rest="email,card")
    service = HandoffService.from_settings(settings)
    h = service.open("c1", EVENTS, {}, Reason.user_request).handoff
    assert h.customer_email == "[email]" and h.packet.customer.email == "[email]"
    service.store.set_customer_email(h.id, "other@example.com")
    assert EMAIL not in dump(tmp_path / "h.db") and "other@example.com" not in dump(tmp_path / "h.db")


def test_webhook_bodies_in_the_outbox_hold_no_personal_data_whatever_the_setting(tmp_path):
    settings = Settings(root=tmp_path, handoff_db=str(tmp_path / "h.db"), mask_at_rest="",
                        handoff_webhooks="http://127.0.0.1:9/hook", handoff_webhook_secret="s")
    service = HandoffService.from_settings(settings)
    events = [*EVENTS[:-1], {**EVENTS[-1], "text": f"my card {CARD}, call {PHONE}"}]
    service.open("c1", events, {}, Reason.user_request)
    [row] = service.outbox.webhook_rows()
    body = row["body"]
    assert CARD not in body and PHONE not in body and EMAIL not in body and "[card]" in body
    assert CARD in service.store.latest_for("c1").packet.transcript[-1].text  # stored as typed
    assert json.loads(body)["packet"]["conversation_id"] == "c1"
