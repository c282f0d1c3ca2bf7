"""Issue 19: a returning customer's earlier conversation with the bot (an earlier Rasa session of the
same conversation) listed next to the earlier hand-offs and opened read-only, in a real browser
through the real servers; and the transcript API reachable only through a hand-off."""

import json
import sqlite3

import httpx

from tests.e2e.a11y import assert_accessible
from tests.e2e.test_console_desk_browser import IMAGES, logged_in, open_row
from tests.e2e.test_handoff import base, console, conversation, say, store  # noqa: F401
from tests.e2e.test_rest_conversations import tracker

FAQ_QUESTION = "how long does it take to get my refund?"


def expire_session(servers, sender, hours=3):
    """As if the customer had been away ``hours``: the stored events moved back in time, so the next
    message finds the session expired (domain.yml ``session_expiration_time``) and Rasa starts one."""
    db = sqlite3.connect(servers.settings.tracker_db)
    with db:
        for row_id, data, at in db.execute("SELECT id, data, timestamp FROM events WHERE sender_id = ?",
                                           (sender,)).fetchall():
            event = json.loads(data)
            event["timestamp"] -= hours * 3600
            db.execute("UPDATE events SET data = ?, timestamp = ? WHERE id = ?",
                       (json.dumps(event), at - hours * 3600, row_id))
    db.close()


def test_the_agent_sees_the_customers_earlier_bot_conversation_and_reads_it(
        servers, store, browser, screenshots):  # noqa: F811
    ctx, ana = logged_in(browser, servers, "ana")  # online, so the hand-off is a live chat
    screenshots.append(ana)
    sender = conversation()
    [answer] = say(servers, sender, FAQ_QUESTION)
    assert "3 business days" in answer["text"]
    expire_session(servers, sender)
    say(servers, sender, "I was charged twice for my blue sweater")
    say(servers, sender, "talk to a human")
    assert [t for t, _ in tracker(servers, sender)].count("session_started") == 2  # Rasa's own new session
    h = store.active_for(sender)
    assert FAQ_QUESTION not in json.dumps(h.packet.dict(), default=str)  # not in this hand-off's packet

    open_row(ana, "blue sweater")
    row = ana.locator("#earlier-sessions li", has_text=FAQ_QUESTION)
    row.wait_for()
    text = row.inner_text()
    assert "1 customer message" in text and "FAQ answered: refund-time" in text and "bot only" in text
    assert "same conversation" in text
    assert_accessible(ana, "a hand-off with the customer's earlier conversation with the bot listed")

    row.locator("button", has_text="Open transcript read-only").click()
    ana.wait_for_selector("#readonly-banner:visible:has-text('earlier conversation of this customer')")
    ana.wait_for_selector(f"#session-transcript li.customer:has-text('{FAQ_QUESTION}')")
    assert "3 business days" in ana.locator("#session-transcript li.bot").first.inner_text()
    assert ana.locator("#transcript").is_hidden() and ana.locator("#reply").is_hidden()
    assert ana.locator("#claim").is_hidden() and ana.locator("#note-form").is_hidden()
    assert ana.locator("#assist").is_hidden()  # suggestions for the current hand-off, not this one
    ana.wait_for_timeout(1200)  # polls of the live hand-off come and go: it stays read-only
    assert ana.locator("#claim").is_hidden() and ana.locator("#session-transcript").is_visible()
    assert_accessible(ana, "an earlier conversation with the bot opened read-only")
    IMAGES.mkdir(exist_ok=True)
    ana.locator("#conversation").screenshot(path=str(IMAGES / "console-earlier-session.png"))

    ana.click("#back-to-current")
    ana.wait_for_selector("#readonly-banner", state="hidden")
    ana.wait_for_selector("#transcript li.customer:has-text('charged twice')")
    assert ana.locator("#session-transcript").is_hidden() and ana.locator("#claim").is_visible()
    assert ana.locator("#note-form").is_visible() and ana.locator("#assist").is_visible()
    ana.click("#claim")
    ana.wait_for_selector("#conv-state:has-text('assigned · ana')")
    ana.click("#resolve")
    ana.wait_for_selector("#conv-state:has-text('resolved')")
    ctx.close()


def test_a_transcript_is_reached_only_through_a_hand_off_by_a_logged_in_agent(servers, store):  # noqa: F811
    sender = conversation()
    say(servers, sender, FAQ_QUESTION)
    expire_session(servers, sender)
    bo = console(servers, "bo")
    say(servers, sender, "talk to a human")
    hid = store.active_for(sender).id
    [earlier] = bo.get(f"/handoffs/{hid}/sessions").json()["sessions"]
    assert earlier["first_question"] == FAQ_QUESTION and earlier["handed_off"] is False
    r = bo.get(f"/handoffs/{hid}/sessions/{earlier['index']}")
    assert r.status_code == 200 and r.json()["transcript"][0]["text"] == FAQ_QUESTION
    # the conversation id is not a key: nothing answers to it in place of the hand-off's id
    assert bo.get(f"/handoffs/{sender}/sessions/{earlier['index']}").status_code == 404
    assert bo.get(f"/handoffs/{sender}/sessions").status_code == 404
    # the current session is not an "earlier" one, nor is a session that does not exist
    r = bo.get(f"/handoffs/{hid}/sessions/{earlier['index'] + 1}")
    assert r.status_code == 404 and r.json()["error"].startswith("index:")
    assert bo.get(f"/handoffs/{hid}/sessions/first").status_code == 404
    anonymous = httpx.get(f"{base(servers)}/console/api/handoffs/{hid}/sessions/{earlier['index']}", timeout=30)
    assert anonymous.status_code == 401 and FAQ_QUESTION not in anonymous.text
    assert "access-control-allow-origin" not in {k.lower() for k in anonymous.headers}
    assert bo.post(f"/handoffs/{hid}/resolve").status_code == 200
