"""Issue 19's desk in a real browser through the real servers: two agents in two browser contexts,
an internal note that never reaches the customer, a transfer with a note (the new agent writes, the
old one no longer can), and a returning customer's earlier hand-off opened read-only."""

import json
from pathlib import Path

from tests.e2e.a11y import assert_accessible
from tests.e2e.test_handoff import PASSWORD, base, console, conversation, poll, say, store  # noqa: F401
from tests.e2e.test_rest_conversations import tracker

IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
NOTE = "VIP customer, refund without asking"
HANDOVER = "Bo knows our refund rules"


def logged_in(browser, servers, name):
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.goto(base(servers) + "/console/")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("form#login button[type=submit]")
    page.wait_for_selector(f"#whoami:has-text('Logged in as {name}')")
    return context, page


def open_row(page, text):
    row = page.locator("#queue tbody tr", has_text=text)
    row.wait_for(timeout=10_000)
    row.locator("button", has_text="Open").click()
    page.wait_for_selector("#transcript li.customer")


def test_a_note_stays_internal_and_a_transfer_moves_the_chat_to_the_other_agent(
        servers, store, browser, screenshots):  # noqa: F811
    ctx_a, ana = logged_in(browser, servers, "ana")
    ctx_b, bo = logged_in(browser, servers, "bo")
    screenshots.extend([ana, bo])
    sender = conversation()
    say(servers, sender, "I was charged twice for order 4417")
    say(servers, sender, "talk to a human")
    open_row(ana, "charged twice")
    ana.click("#claim")
    ana.wait_for_selector("#conv-state:has-text('assigned')")

    # an internal note: marked in words and style in the transcript, and never sent anywhere
    ana.fill("#note-text", NOTE)
    ana.click("#note-form button[type=submit]")
    note = ana.locator("#transcript li.note", has_text=NOTE)
    note.wait_for()
    assert "Internal note — not sent to the customer" in note.inner_text()
    ana.fill("#reply textarea", "Hi, Ana here, looking at it.")
    ana.click("#reply button[type=submit]")
    ana.wait_for_selector("#transcript li.agent:has-text('Ana here')")
    assert_accessible(ana, "a claimed hand-off with an internal note and the transfer form")

    # transfer to bo with a note: bo is listed (online), the customer is told who joined
    assert ana.locator("#transfer-to option", has_text="bo (online)").count() == 1
    ana.select_option("#transfer-to", "bo")
    ana.fill("#transfer-note", HANDOVER)
    ana.click("#transfer-form button[type=submit]")
    ana.wait_for_selector("#conv-state:has-text('assigned · bo')")
    assert ana.locator("#reply").is_hidden() and ana.locator("#transfer-form").is_hidden()
    r = console(servers, "ana").post(f"/handoffs/{store.active_for(sender).id}/messages", json={"text": "me?"})
    assert r.status_code == 409  # ana can no longer write in it

    open_row(bo, "charged twice")
    bo.wait_for_selector(f"#transcript li.note:has-text('Transferred from ana to bo: {HANDOVER}')")
    assert bo.locator("#reply").is_visible()
    bo.fill("#reply textarea", "Bo here: the second charge is refunded.")
    bo.click("#reply button[type=submit]")
    bo.wait_for_selector("#transcript li.agent:has-text('Bo here')")
    assert_accessible(bo, "a hand-off transferred to bo, with the transfer note")
    IMAGES.mkdir(exist_ok=True)
    bo.locator("#conversation").screenshot(path=str(IMAGES / "console-transfer-note.png"))

    # what the customer got: the replies and who joined, never the notes
    got = [m.get("text") for m in poll(servers, sender)]
    assert "Hi, Ana here, looking at it." in got and "Bo here: the second charge is refunded." in got
    assert "bo has joined the conversation." in got
    stored = json.dumps(tracker(servers, sender))  # the Rasa conversation itself
    for secret in (NOTE, HANDOVER):
        assert secret not in " ".join(str(t) for t in got) and secret not in stored

    # the customer comes back later: bo sees the earlier hand-off and opens it read-only
    bo.click("#resolve")
    bo.wait_for_selector("#conv-state:has-text('resolved')")
    say(servers, sender, "5")
    say(servers, sender, "talk to a human")
    bo.reload()
    bo.wait_for_selector("#whoami:has-text('Logged in as bo')")
    open_row(bo, "charged twice")
    earlier = bo.locator("#earlier li", has_text="resolved")
    earlier.wait_for()
    text = earlier.inner_text()
    assert "same conversation" in text and "rated 5/5" in text and "bo" in text
    assert_accessible(bo, "a returning customer's hand-off with the earlier one listed")
    earlier.locator("button", has_text="Open read-only").click()
    bo.wait_for_selector("#readonly-banner:visible")
    bo.wait_for_selector(f"#transcript li.note:has-text('{NOTE}')")
    assert bo.locator("#reply").is_hidden() and bo.locator("#claim").is_hidden()
    # nor suggested answers: they are for the live hand-off, not this finished one
    bo.wait_for_timeout(500)  # assist answers asynchronously: give it the time to (wrongly) show
    assert bo.locator("#assist").is_hidden()
    bo.locator("#conversation").screenshot(path=str(IMAGES / "console-earlier.png"))
    bo.click("#back-to-current")
    bo.wait_for_selector("#readonly-banner", state="hidden")
    bo.click("#claim")
    bo.wait_for_selector("#conv-state:has-text('assigned · bo')")
    bo.wait_for_selector("#assist", state="visible")  # the live hand-off has its suggestions again
    bo.click("#resolve")
    ctx_a.close()
    ctx_b.close()


def test_the_desk_api_checks_csrf_roles_and_input_and_names_the_field(servers, store):  # noqa: F811
    from bot.staff.accounts import EDITOR, StaffStore
    from bot.staff.passwords import hash_password

    StaffStore(store.engine).add_agent("eve", hash_password(PASSWORD), EDITOR)
    ana, bo = console(servers, "ana"), console(servers, "bo")
    sender = conversation()
    say(servers, sender, "talk to a human")
    hid = store.active_for(sender).id
    assert ana.post(f"/handoffs/{hid}/claim").status_code == 200
    no_csrf = console(servers, "bo")
    no_csrf.headers.pop("X-CSRF-Token")
    assert no_csrf.post(f"/handoffs/{hid}/notes", json={"text": "hi"}).status_code == 403
    r = bo.post(f"/handoffs/{hid}/notes", json={"text": "  "})
    assert r.status_code == 400 and r.json()["error"].startswith("text:")
    r = bo.post(f"/handoffs/{hid}/notes", json={"text": "x" * 2001})
    assert r.status_code == 413 and "at most 2000" in r.json()["error"]
    assert bo.post(f"/handoffs/{hid}/notes", json={"text": "a colleague's note"}).status_code == 200
    r = bo.post(f"/handoffs/{hid}/transfer", json={"to": "bo"})
    assert r.status_code == 403 and "only ana" in r.json()["error"]  # bo does not hold it
    r = ana.post(f"/handoffs/{hid}/transfer", json={"to": "eve"})
    assert r.status_code == 400 and r.json()["error"].startswith("to:")  # an editor takes no chats
    assert "eve" not in [a["name"] for a in ana.get("/agents").json()["agents"]]
    assert ana.post(f"/handoffs/{hid}/transfer", json={"to": "bo", "note": 5}).status_code == 400
    assert ana.post("/handoffs/nope/transfer", json={"to": "bo"}).status_code == 404
    assert ana.post(f"/handoffs/{hid}/transfer", json={"to": "bo"}).json()["handoff"]["agent"] == "bo"
    editor = httpx_login(servers, "eve")
    assert editor.status_code == 403  # the console is for agents and admins
    assert "a colleague's note" not in str(poll(servers, sender))
    assert bo.post(f"/handoffs/{hid}/resolve").status_code == 200


def httpx_login(servers, name):
    import httpx

    return httpx.post(base(servers) + "/console/api/login", json={"name": name, "password": PASSWORD},
                      timeout=30)
