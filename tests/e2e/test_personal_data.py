"""Personal data at rest, through the real servers: with the default SUPPORTBOT_MASK_AT_REST a card
number and an IBAN a customer types never reach tracker.db or handoff.db, while the FAQ and a
hand-off still work; `supportbot forget` erases a conversation the running bot then no longer has."""

from pathlib import Path

from bot.cli import main
from tests.e2e import test_handoff as _handoff
from tests.e2e.test_handoff import console, handoff_of, poll, texts
from tests.e2e.test_rest_conversations import conversation, say, tracker

CARD, IBAN = "4111 1111 1111 1111", "de89 3704 0044 0532 0130 00"
SECOND_CARD = "5500-0000-0000-0004"
store = _handoff.store  # the hand-off store fixture
SECRETS = ["4111 1111", "41111111", "5500-0000", "55000000", "3704 0044", "37040044", "0532 0130"]


def raw(path: str) -> str:
    """The database file and its write-ahead log, byte for byte."""
    files = [Path(path), Path(path + "-wal")]
    return "".join(f.read_bytes().decode("latin-1") for f in files if f.exists())


def test_cards_and_ibans_never_reach_the_databases_and_the_bot_still_works(servers, store):
    agent = console(servers)
    sender = conversation()
    say(servers, sender, f"I was charged twice on my card {CARD}, please refund to {IBAN}")
    assert "3 business days" in texts(say(servers, sender, "how long do refunds take?"))[0]
    replies = say(servers, sender, "I want to talk to a real person")
    assert texts(replies)[0].startswith("Connecting you to a person")
    hid = handoff_of(agent, sender)["id"]
    assert agent.post(f"/handoffs/{hid}/claim").status_code == 200
    # the bot is quiet (the request hands back only what was kept for the customer); the agent sees it
    joined = texts(say(servers, sender, f"the other card was {SECOND_CARD}"))
    assert joined == ["ana has joined the conversation."]
    sent = agent.post(f"/handoffs/{hid}/messages", json={"text": f"Refunding to {IBAN.upper()} today."})
    assert sent.status_code == 200
    assert [m["text"] for m in poll(servers, sender)][-1] == "Refunding to [iban] today."  # kept masked

    detail = agent.get(f"/handoffs/{hid}").json()
    assert detail["transcript"][0]["text"] == "I was charged twice on my card [card], please refund to [iban]"
    said = [m["text"] for m in detail["messages"]]
    assert "the other card was [card]" in said and "Refunding to [iban] today." in said
    user_texts = [d["text"] for t, d in tracker(servers, sender) if t == "user"]
    assert user_texts[0] == "I was charged twice on my card [card], please refund to [iban]"
    for path in (servers.settings.tracker_db, servers.settings.handoff_db):
        stored = raw(str(servers.settings.path(Path(path))))
        assert sender in stored
        leaked = [s for s in SECRETS if s in stored or s.upper() in stored]
        assert leaked == [], f"{path} holds {leaked}"
    assert agent.post(f"/handoffs/{hid}/resolve").status_code == 200

    # the right to erasure, while the servers run: gone from every store, and from the bot's memory
    assert main(["forget", "--sender", sender], servers.settings) == 0
    assert tracker(servers, sender) == [] and store.latest_for(sender) is None
    poll(servers, sender)
    assert "3 business days" in texts(say(servers, sender, "how long do refunds take?"))[0]
    assert [d["text"] for t, d in tracker(servers, sender) if t == "user"] == ["how long do refunds take?"]
