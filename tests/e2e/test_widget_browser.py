"""The chat widget on the demo shop page in a real browser, against the real servers and console."""

import os
import signal
import time

import pytest

from bot.kb.corpus import load_corpus
from bot.kb.ops import build
from tests.e2e.a11y import assert_accessible
from tests.e2e.conftest import ARTIFACTS
from tests.e2e.test_handoff import PASSWORD, acknowledged, base, store  # noqa: F401
from tests.e2e.test_rest_conversations import conversation, say


@pytest.fixture
def shop(servers, browser, screenshots):
    """A customer with a fresh browser profile on the demo shop, chat opened."""
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    page = context.new_page()
    screenshots.append(page)
    page.goto(base(servers) + "/widget/demo")
    page.click(".sb-launcher")
    page.wait_for_selector(".sb-log .sb-bot")  # the greeting: connected, session confirmed
    yield page
    context.close()


def ask(page, text):
    """Type a message; wait for the next bot or agent reply and return its element."""
    before = page.locator(".sb-log .sb-bot, .sb-log .sb-agent").count()
    page.fill(".sb-input", text)
    page.press(".sb-input", "Enter")
    page.wait_for_function(
        "n => document.querySelectorAll('.sb-log .sb-bot, .sb-log .sb-agent').length > n", arg=before)
    return page.locator(".sb-log .sb-bot, .sb-log .sb-agent").nth(before)


def test_faq_answer_renders_markdown_safely_and_customer_text_stays_text(shop):
    answer = ask(shop, "do you sell my personal data?")
    assert "we never sell your data" in answer.inner_text()
    assert answer.locator("strong").inner_text() == "we never sell your data"  # Markdown rendered
    link = answer.locator("a", has_text="privacy policy")
    assert link.get_attribute("target") == "_blank" and "noopener" in link.get_attribute("rel")
    hostile = '<img src=x onerror="window.__xss = 1">where is my refund?'
    ask(shop, hostile)
    assert shop.locator(".sb-user").last.locator(".sb-body").inner_text() == hostile
    assert shop.locator(".sb-log img").count() == 0 and shop.evaluate("window.__xss") is None
    ARTIFACTS.mkdir(exist_ok=True)
    shop.screenshot(path=str(ARTIFACTS / "widget.png"))


def test_clarify_buttons_answer_on_click(shop):
    reply = ask(shop, "my package")  # vague: three entries fit
    buttons = reply.locator(".sb-button")
    assert buttons.count() >= 2 and buttons.last.inner_text() == "None of these"
    chosen = buttons.first.inner_text()
    before = shop.locator(".sb-bot").count()
    buttons.first.click()
    shop.wait_for_function("n => document.querySelectorAll('.sb-log .sb-bot').length > n", arg=before)
    assert shop.locator(".sb-user").last.inner_text().endswith(chosen)  # the title, not the payload
    assert shop.locator(".sb-bot .sb-buttons").count() == 0  # old choices are gone


def test_person_journey_live_both_ways_then_rating(servers, store, browser, shop, screenshots):  # noqa: F811
    agent = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    screenshots.append(agent)
    agent.goto(base(servers) + "/console/")
    agent.fill("input[name=name]", "ana")
    agent.fill("input[name=password]", PASSWORD)
    agent.click("form#login button[type=submit]")
    agent.wait_for_selector("#whoami:has-text('ana')")
    assert agent.locator("form#login").is_hidden()
    ask(shop, "where is my parcel?")
    shop.click(".sb-person")
    shop.wait_for_selector(".sb-status:has-text('You are number')")
    assert shop.locator(".sb-user").last.inner_text().endswith("Talk to a person")
    session = shop.evaluate(
        "JSON.parse(Object.entries(localStorage).find(([k]) => k.startsWith('supportbot:'))[1]).session")
    row = agent.locator("#queue tbody tr", has_text="user request")
    row.first.wait_for()
    hid = store.active_for(session).id
    agent.locator(f"#queue tbody tr[data-id='{hid}'] button").click()
    agent.click("#claim")
    shop.wait_for_selector(".sb-bot:has-text('ana has joined the conversation.')")
    agent.fill("#reply textarea", "Hi, I'm Ana. How can I help?")
    agent.click("#reply button[type=submit]")
    msg = shop.wait_for_selector(".sb-agent:has-text('How can I help?')", timeout=2000)
    assert "from our support team" in msg.inner_text() and "ana" in msg.inner_text()
    acknowledged(store, session)  # the widget acknowledged each push: a reconnection sends none again
    shop.reload()
    shop.wait_for_selector(".sb-agent:has-text('How can I help?')", state="attached")  # its own history
    shop.click(".sb-launcher")
    time.sleep(1.0)
    assert shop.locator(".sb-agent:has-text('How can I help?')").count() == 1
    assert shop.locator(".sb-bot:has-text('ana has joined the conversation.')").count() == 1
    shop.fill(".sb-input", "My parcel is late")
    shop.press(".sb-input", "Enter")
    agent.wait_for_selector("#transcript li.customer:has-text('My parcel is late')", timeout=2000)
    ARTIFACTS.mkdir(exist_ok=True)
    agent.screenshot(path=str(ARTIFACTS / "console.png"))
    agent.click("#resolve")
    rating = shop.wait_for_selector(".sb-bot:has-text('How would you rate')")
    rating.query_selector("button:text-is('4')").click()
    shop.wait_for_selector(".sb-bot:has-text('Thank you for your feedback')")
    assert store.get(hid).rating == 4
    agent.context.close()


def test_reload_keeps_history_and_a_server_restart_reconnects(servers, shop):
    ask(shop, "how long do refunds take?")
    shop.reload()
    shop.click(".sb-launcher")
    shop.wait_for_selector(".sb-user:has-text('how long do refunds take?')")
    assert "3 business days" in shop.locator(".sb-bot").last.inner_text()
    # the Rasa server goes away and comes back: the widget says so, then carries on
    rasa = servers.procs["rasa"]
    os.killpg(rasa.pid, signal.SIGTERM)
    rasa.wait(timeout=30)
    shop.wait_for_selector(".sb-status.sb-error:has-text('Connection lost')", timeout=15_000)
    servers.start_rasa()
    shop.wait_for_selector(".sb-status.sb-error", state="hidden", timeout=30_000)
    assert "PayPal" in ask(shop, "can I pay with paypal?").inner_text()
    assert shop.locator(".sb-user").first.inner_text().endswith("how long do refunds take?")  # same session


def test_keyboard_only_on_a_phone_sized_screen(servers, browser, screenshots):
    context = browser.new_context(viewport={"width": 375, "height": 667}, is_mobile=True, has_touch=True)
    page = context.new_page()
    screenshots.append(page)
    page.goto(base(servers) + "/widget/demo")
    page.wait_for_selector(".sb-launcher")
    page.focus(".sb-launcher")
    page.keyboard.press("Enter")  # opens, and focus moves into the input
    page.wait_for_selector(".sb-log .sb-bot")
    assert page.evaluate("document.activeElement.classList.contains('sb-input')")
    box = page.locator(".sb-panel").bounding_box()
    assert box["width"] >= 370 and box["height"] >= 660  # the panel fills the small screen
    assert page.locator(".sb-log").get_attribute("aria-live") == "polite"
    page.keyboard.type("how long do refunds take?")
    page.keyboard.press("Enter")
    page.wait_for_selector(".sb-bot:has-text('3 business days')")
    page.keyboard.press("Escape")
    assert page.locator(".sb-panel").is_hidden()
    assert page.evaluate("document.activeElement.classList.contains('sb-launcher')")
    context.close()


def test_a_customer_votes_an_answer_not_helpful_and_the_editors_inbox_gets_it(shop, servers):
    """Issue 17: a helpful / not helpful control under each FAQ answer, keyboard-usable; the vote is
    stored per answer and entry, and 'not helpful' puts the question in the inbox."""
    import sqlalchemy as sa

    from bot.inbox.store import NOT_HELPFUL, InboxStore

    answer = ask(shop, "how long does it take to get my refund?")
    ask(shop, "hello")  # a later message: the vote is still possible on the earlier answer
    no = answer.get_by_role("button", name="No, not helpful")
    assert answer.get_by_role("button", name="Yes, helpful").get_attribute("aria-pressed") == "false"
    no.focus()
    shop.keyboard.press("Enter")
    answer.locator(".sb-feedback-thanks").wait_for()  # once the server has stored the vote
    assert no.get_attribute("aria-pressed") == "true"
    inbox = InboxStore(sa.create_engine(f"sqlite:///{servers.settings.handoff_db}"))
    session = shop.evaluate("JSON.parse(localStorage.getItem(Object.keys(localStorage)[0])).session")
    deadline = time.monotonic() + 5
    while not any(q.conversation_id == session and q.kind == NOT_HELPFUL for q in inbox.questions()):
        assert time.monotonic() < deadline, "the vote never reached the inbox"
        time.sleep(0.1)
    [voted] = [q for q in inbox.questions() if q.conversation_id == session]
    assert voted.question == "how long does it take to get my refund?" and voted.nearest_entry
    assert inbox.votes()[voted.nearest_entry][1] >= 1
    assert shop.locator(".sb-bot").last.locator(".sb-feedback").count() == 0  # small talk: no vote


def test_the_widget_passes_axe_closed_open_and_with_answers_choices_and_votes(servers, browser, screenshots):
    """Issue 17: WCAG 2.0/2.1 A and AA (axe-core), no serious or critical rule failing, in every state a
    customer sees: closed, open, a Markdown answer with a list and its vote control, a "did you mean"."""
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    page = context.new_page()
    screenshots.append(page)
    page.goto(base(servers) + "/widget/demo")
    page.wait_for_selector(".sb-launcher")
    assert_accessible(page, "the widget closed, on the demo shop")
    page.click(".sb-launcher")
    page.wait_for_selector(".sb-log .sb-bot")
    assert_accessible(page, "the widget open, with its greeting")
    answer = ask(page, "how long does delivery take?")
    assert answer.locator(".sb-body ul > li").count() == 3  # the answer's Markdown list
    assert answer.locator(".sb-feedback .sb-vote").count() == 2
    assert_accessible(page, "a Markdown list answer with its helpful / not helpful control")
    answer.get_by_role("button", name="Yes, helpful").click()
    answer.locator(".sb-feedback-thanks").wait_for()
    assert_accessible(page, "after a vote")
    reply = ask(page, "my package")  # vague: "did you mean" with buttons
    assert reply.locator(".sb-button").count() >= 2
    assert_accessible(page, "a 'did you mean' with its buttons")
    context.close()


def test_a_vote_by_keyboard_alone_tab_to_it_space_or_enter_and_the_server_confirms(shop, servers):
    """The helpful / not helpful control is reached with Tab from the top of the chat and works with
    Space and Enter; "thanks" shows once the server has stored the vote."""
    import sqlalchemy as sa

    from bot.inbox.store import InboxStore

    inbox = InboxStore(sa.create_engine(f"sqlite:///{servers.settings.handoff_db}"))
    before = inbox.votes().get("shipping-times", (0, 0))
    answer = ask(shop, "how long does delivery take?")
    shop.focus(".sb-launcher")
    path = []
    for _ in range(12):
        shop.keyboard.press("Tab")
        path.append(shop.evaluate("document.activeElement.getAttribute('aria-label') "
                                  "|| document.activeElement.textContent"))
        if path[-1] == "Yes, helpful":
            break
    assert path[-1] == "Yes, helpful", f"Tab never reached the vote control: {path}"
    yes, no = (answer.get_by_role("button", name=n) for n in ("Yes, helpful", "No, not helpful"))
    shop.keyboard.press("Space")
    answer.locator(".sb-feedback-thanks").wait_for()  # shown on the server's feedback_confirm
    assert yes.get_attribute("aria-pressed") == "true" and no.get_attribute("aria-pressed") == "false"
    assert inbox.votes()["shipping-times"][0] == before[0] + 1
    shop.keyboard.press("Tab")
    assert shop.evaluate("document.activeElement.getAttribute('aria-label')") == "No, not helpful"
    shop.keyboard.press("Enter")
    shop.wait_for_function("() => document.activeElement.getAttribute('aria-pressed') === 'true'")
    assert yes.get_attribute("aria-pressed") == "false"
    deadline = time.monotonic() + 5
    while inbox.votes()["shipping-times"][1] <= before[1]:
        assert time.monotonic() < deadline, "the keyboard's second vote never reached the server"
        time.sleep(0.1)


HOSTILE_MARKDOWN = ('<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">'
                    '[balance](javascript:window.__xss=3) '
                    '<a href="https://brightcart.example/gift" onclick="window.__xss = 4">gift page</a>')


def test_an_answer_with_html_in_its_markdown_is_rendered_harmless_through_markdown_js(
        servers, real_encoder, shop):
    """An answer an editor published with a script, an onerror image, a javascript: link and an onclick:
    the widget renders it through the shared SupportbotMarkdown (the editor's preview uses the same)
    and nothing in it runs."""
    corpus = servers.settings.corpus_path
    f = corpus / "payments.yml"
    original = f.read_text()
    assert "They never expire." in original
    f.write_text(original.replace("They never expire.", "They never expire. " + HOSTILE_MARKDOWN))
    try:
        build(load_corpus(corpus), servers.settings.index_path, real_encoder)
        deadline, text = time.monotonic() + 10, ""
        while "<script>" not in text:  # the running bot serves the new version
            assert time.monotonic() < deadline, "the edited answer was never served"
            text = say(servers, conversation(), "do you sell gift cards?")[0]["text"]
        answer = ask(shop, "do you sell gift cards?")
        assert "They never expire." in answer.inner_text()
        body = answer.locator(".sb-body")
        shop.wait_for_function("() => [...document.querySelectorAll('.sb-log img')].every(i => i.complete)")
        assert shop.evaluate("window.__xss") is None
        assert body.locator("script").count() == 0
        assert body.evaluate("b => [...b.querySelectorAll('*')].flatMap(e => e.getAttributeNames())"
                             ".filter(n => n.startsWith('on'))") == []
        assert body.locator("a[href^='javascript']").count() == 0
        link = body.locator("a", has_text="gift page")
        assert link.get_attribute("target") == "_blank" and link.get_attribute("rel") == "noopener noreferrer"
        link.evaluate("a => { a.addEventListener('click', e => e.preventDefault()); a.click(); }")
        assert shop.evaluate("window.__xss") is None
        # the widget's HTML is the shared renderer's, the one the editor's preview calls
        assert shop.evaluate("typeof window.SupportbotMarkdown.render") == "function"
        assert body.inner_html() == shop.evaluate("t => window.SupportbotMarkdown.render(t)", text)
    finally:
        f.write_text(original)
        build(load_corpus(corpus), servers.settings.index_path, real_encoder)
        deadline = time.monotonic() + 10
        while "<script>" in say(servers, conversation(), "do you sell gift cards?")[0]["text"]:
            assert time.monotonic() < deadline, "the original answer was never served again"
            time.sleep(0.25)
