"""The agent console in a real browser (Debian's Chromium through Playwright): log in, see the queue,
claim, read what the customer typed as text (never as HTML), reply, resolve."""

from tests.e2e.a11y import assert_accessible
from tests.e2e.test_handoff import PASSWORD, base, conversation, poll, say, store  # noqa: F401

HOSTILE = "<script>window.__xss = 1</script><img src=x onerror=\"window.__xss = 2\"> is my order late?"


def test_agent_works_a_handoff_in_the_browser_and_customer_text_stays_text(
        servers, store, browser, screenshots):  # noqa: F811
    page = browser.new_page()
    screenshots.append(page)
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(base(servers) + "/console/")
    page.wait_for_selector("form#login")
    assert_accessible(page, "the console's login page")
    page.fill("input[name=name]", "ana")
    page.fill("input[name=password]", "not the password")
    page.click("form#login button[type=submit]")
    page.wait_for_selector("#login-error:has-text('wrong name or password')")
    assert_accessible(page, "the login page saying the password is wrong")
    page.fill("input[name=password]", PASSWORD)
    page.click("form#login button[type=submit]")
    page.wait_for_selector("#whoami:has-text('Logged in as ana')")

    sender = conversation()
    say(servers, sender, HOSTILE)
    say(servers, sender, "talk to a human")
    row = page.locator("#queue tbody tr", has_text="is my order late?")
    row.wait_for(timeout=10_000)  # the queue refreshes by itself
    assert_accessible(page, "the queue with a customer waiting")
    row.locator("button", has_text="Open").click()
    page.wait_for_selector("#transcript li.customer")
    page.click("#claim")
    page.wait_for_selector("#conv-state:has-text('assigned')")

    # the hostile message is shown literally, and nothing in it ran or became an element
    first = page.locator("#transcript li.customer").first
    assert HOSTILE in first.inner_text()
    assert page.locator("#transcript img, #transcript script").count() == 0
    assert page.evaluate("window.__xss") is None and dialogs == []
    assert HOSTILE in page.locator("#s-first").inner_text()
    assert_accessible(page, "a hand-off open and claimed: summary, transcript, reply box")

    # reply from the page; the customer gets it; the customer's answer shows up live
    page.fill("#reply textarea", "Hi, Ana here. <b>Not bold</b>")
    page.click("#reply button[type=submit]")
    page.wait_for_selector("#transcript li.agent:has-text('Hi, Ana here.')")
    assert "Hi, Ana here. <b>Not bold</b>" in [m["text"] for m in poll(servers, sender)]
    say(servers, sender, "<img src=y onerror=\"window.__xss = 3\">thanks")
    page.wait_for_selector("#transcript li.customer:has-text('thanks')", timeout=5_000)
    assert page.evaluate("window.__xss") is None and page.locator("#transcript img").count() == 0

    page.click("#resolve")
    page.wait_for_selector("#conv-state:has-text('resolved')")
    assert_accessible(page, "a resolved hand-off")
    assert store.active_for(sender) is None
    # issue 17: the agent's reply goes to the editors' inbox as a proposed entry
    page.click("#suggest")
    page.wait_for_selector("#suggest:disabled")
    from bot.inbox.store import PROPOSED, InboxStore

    [proposed] = [q for q in InboxStore(store.engine).questions((PROPOSED,)) if q.conversation_id == sender]
    assert proposed.proposed_by == "ana" and proposed.proposed_answer == "Hi, Ana here. <b>Not bold</b>"
    page.close()


def test_bot_answers_show_their_markdown_as_the_customer_saw_it_and_customer_text_stays_text(
        servers, store, browser):  # noqa: F811
    from tests.e2e.test_console_desk_browser import logged_in

    context, page = logged_in(browser, servers, "ana")
    sender = conversation()
    say(servers, sender, "How do I create an account?")  # answered: "Choose **Sign in → Create account**..."
    say(servers, sender, "**not bold** <img src=x onerror=\"window.__xss = 4\"> [link](javascript:alert(1))")
    say(servers, sender, "talk to a human")
    row = page.locator("#queue tbody tr", has_text="create an account")
    row.wait_for(timeout=10_000)
    row.locator("button", has_text="Open").click()
    answer = page.locator("#transcript li.bot", has_text="Create account").first
    answer.wait_for()
    # the answer's Markdown is rendered (bold, no asterisks), as in the widget
    assert answer.locator("strong", has_text="Sign in → Create account").count() == 1
    assert "**" not in answer.inner_text()
    # the customer's Markdown and HTML are shown literally: nothing rendered, nothing ran
    said = page.locator("#transcript li.customer", has_text="not bold")
    assert "**not bold**" in said.inner_text() and said.locator("strong, img, a").count() == 0
    assert page.evaluate("window.__xss") is None
    # suggested answers are rendered the same way
    suggestion = page.locator("#assist-list .assist-answer strong").first
    suggestion.wait_for(timeout=10_000)
    assert "**" not in page.locator("#assist-list").inner_text()
    context.close()
