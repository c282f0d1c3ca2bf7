"""Issue 19 (assist) in a real browser through the real servers: a suggested FAQ answer goes into the
reply box with one click and, sent, reaches the customer; the Why panel of real bot turns (an answer
and a miss); "/" + name inserts a canned reply (keyboard only); an editor manages canned replies on
the editor page, an agent can only read them there."""

from pathlib import Path

import pytest

from bot.kb.corpus import load_corpus
from tests.e2e.a11y import assert_accessible
from tests.e2e.test_console_assist_api import MISSING, QUESTION, accounts  # noqa: F401
from tests.e2e.test_editor_api import editor_base, staff_client
from tests.e2e.test_handoff import PASSWORD, base, poll, store  # noqa: F401
from tests.e2e.test_rest_conversations import conversation, say

IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"


@pytest.fixture
def console_page(servers, browser, screenshots):
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    screenshots.append(page)
    page.goto(base(servers) + "/console/")
    page.fill("input[name=name]", "cara")
    page.fill("input[name=password]", PASSWORD)
    page.click("form#login button[type=submit]")
    page.wait_for_selector("#whoami:has-text('Logged in as cara')")
    yield page
    page.close()


def open_and_claim(page, first_question):
    row = page.locator("#queue tbody tr", has_text=first_question).last  # the newest: other tests ask it too
    row.wait_for(timeout=10_000)
    row.locator("button", has_text="Open").click()
    page.click("#claim")
    page.wait_for_selector("#conv-state:has-text('assigned')")


def test_assist_fills_the_reply_box_and_why_shows_each_bot_turn(servers, accounts, console_page):  # noqa: F811
    page, sender = console_page, conversation()
    say(servers, sender, QUESTION)
    say(servers, sender, MISSING)
    say(servers, sender, "talk to a human")
    say(servers, sender, "i forgot my password again, the link never came")
    open_and_claim(page, QUESTION)

    # why: the answer and the miss, with their candidates and the thresholds at the time
    whys = page.locator("#transcript li.bot details.why")
    assert whys.count() >= 2
    answer, miss = whys.nth(0), whys.nth(1)
    assert "Why: answer" in answer.locator("summary").inner_text()
    assert "Why: miss" in miss.locator("summary").inner_text()
    answer.locator("summary").click()
    miss.locator("summary").click()
    assert "password-reset" in answer.locator("table").inner_text()
    assert QUESTION in answer.locator("table").inner_text()
    assert "answer ≥" in answer.inner_text() and "clarify ≥" in miss.inner_text()
    assert_accessible(page, "the transcript with the Why panels open")
    answer.scroll_into_view_if_needed()
    page.locator("#conversation").screenshot(path=str(IMAGES / "console-why.png"))

    # assist: the nearest entries for the customer's latest message; one click fills the box, no send
    entry = page.locator("#assist-list li[data-entry='password-reset']")
    entry.wait_for(timeout=10_000)
    assert "the link never came" in page.locator("#assist .assist-for").inner_text()
    assert page.locator("#assist-list li").count() == 3
    assert_accessible(page, "the suggested answers")
    page.locator("#assist").screenshot(path=str(IMAGES / "console-assist.png"))
    entry.locator("button", has_text="Use this answer").click()
    entries = load_corpus(servers.settings.corpus_path).entries
    expected = next(e.answer for e in entries if e.id == "password-reset")
    box = page.locator("#reply textarea")
    # as plain text: the widget shows an agent's words as text, so Markdown markers would reach the customer
    assert box.input_value() == expected.replace("**", "").strip()
    assert page.evaluate("document.activeElement === document.querySelector('#reply textarea')")
    assert not [m for m in poll(servers, sender) if "Forgot password" in (m.get("text") or "")]  # not sent
    box.press("End")
    box.type(" Let me know if it works!")
    page.click("#reply button[type=submit]")
    page.wait_for_selector("#transcript li.agent:has-text('Let me know if it works!')")
    [sent] = [m["text"] for m in poll(servers, sender) if "Let me know if it works!" in (m.get("text") or "")]
    assert sent.startswith("Choose Sign in → Forgot password and") and "**" not in sent


def test_slash_and_a_name_inserts_a_canned_reply(servers, accounts, console_page):  # noqa: F811
    editor = staff_client(servers, "eddie")
    for name, text in (("refund-time", "Refunds reach your card within 5 working days."),
                       ("returns-label", "Print the return label from Orders → Return.")):
        r = editor.post("/canned", json={"name": name, "text": text})
        assert r.status_code in (200, 409), r.text
    page, sender = console_page, conversation()
    say(servers, sender, "my refund for the blue teapot is late")
    say(servers, sender, "talk to a human")
    open_and_claim(page, "blue teapot")
    box = page.locator("#reply textarea")
    box.click()
    box.type("Hello! /re")
    options = page.locator("#canned-suggestions [role=option]")
    options.first.wait_for()
    assert [o.inner_text().split()[0] for o in options.all()][:2] == ["/refund-time", "/returns-label"]
    box.type("t")  # "/ret": only one left
    assert [o.inner_text().split()[0] for o in options.all()] == ["/returns-label"]
    box.press("Backspace")
    box.press("ArrowDown")
    assert page.locator("#canned-suggestions [aria-selected=true]").inner_text().startswith("/returns-label")
    assert_accessible(page, "the canned replies' suggestions")
    page.locator("#conversation").screenshot(path=str(IMAGES / "console-canned.png"))
    box.press("Enter")
    assert box.input_value() == "Hello! Print the return label from Orders → Return."
    assert page.locator("#canned-suggestions").is_hidden()
    box.type(" Thanks!")
    page.click("#reply button[type=submit]")
    page.wait_for_selector("#transcript li.agent:has-text('Thanks!')")
    sent = [m.get("text") for m in poll(servers, sender)]
    assert "Hello! Print the return label from Orders → Return. Thanks!" in sent


def editor_page(browser, servers, name):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(editor_base(servers) + "/")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("form#login button[type=submit]")
    page.wait_for_selector(f"#whoami:has-text('Logged in as {name}')")
    page.click("#tabs button[data-tab=canned]")
    page.wait_for_selector("#canned-view:visible")
    return page


def test_editors_manage_canned_replies_and_an_agent_cannot_create_one(servers, accounts, browser,  # noqa: F811
                                                                      screenshots):
    page = editor_page(browser, servers, "eddie")
    screenshots.append(page)
    page.fill("#canned-form input[name=name]", "shipping-delay")
    page.fill("#canned-form textarea[name=text]", "<b>Sorry</b> for the wait: carriers are slow this week.")
    page.click("#canned-save")
    row = page.locator("#canned-table tr[data-name='shipping-delay']")
    row.wait_for()
    assert "<b>Sorry</b>" in row.inner_text() and page.locator("#canned-table b").count() == 0  # text, not HTML
    page.fill("#canned-form input[name=name]", "shipping-delay")  # the same name again: 409, shown
    page.fill("#canned-form textarea[name=text]", "again")
    page.click("#canned-save")
    page.wait_for_selector("#canned-error:has-text('already exists')")
    assert page.locator("#canned-form textarea[name=text]").input_value() == "again"  # nothing lost
    row.locator("button", has_text="Edit").click()
    page.fill("#canned-form textarea[name=text]", "Sorry for the wait: carriers are slow this week.")
    page.click("#canned-save")
    page.wait_for_selector("#canned-table tr[data-name='shipping-delay'] td:text-is('Sorry for the wait: "
                           "carriers are slow this week.')")
    page.fill("#canned-form input[name=name]", "")
    assert_accessible(page, "the editor's canned replies")
    page.screenshot(path=str(IMAGES / "editor-canned.png"))
    page.close()

    agent = editor_page(browser, servers, "cara")
    screenshots.append(agent)
    agent.locator("#canned-table tr[data-name='shipping-delay']").wait_for()
    assert agent.locator("#canned-form").is_hidden() and agent.locator("#canned-readonly").is_visible()
    assert agent.locator("#canned-table button").count() == 0
    # and the page's own API refuses the agent a write, with the CSRF token of the session
    status = agent.evaluate("""async () => {
        const me = await (await fetch('/editor/api/me')).json();
        const r = await fetch('/editor/api/canned', {method: 'POST', headers: {'Content-Type':
            'application/json', 'X-CSRF-Token': me.csrf}, body: JSON.stringify({name: 'mine', text: 'x'})});
        return [r.status, (await r.json()).error];
    }""")
    assert status[0] == 403 and "editor or admin" in status[1]
    assert "mine" not in {c["name"] for c in staff_client(servers, "cara").get("/canned").json()["canned"]}
    agent.close()
