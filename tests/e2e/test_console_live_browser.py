"""The console's live updates in a real browser against the real servers (issue 19, live): customer
messages and typing over the staff socket with no polling, the title badge and sound for a new
hand-off, a socket without a staff session refused, polling when the socket is blocked, and the
wait-time warning."""

import re
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import socketio
import sqlalchemy as sa

from bot.db import utcnow
from bot.handoff.store import handoffs
from tests.e2e.a11y import assert_accessible
from tests.e2e.test_handoff import PASSWORD, base, console, say, store  # noqa: F401
from tests.e2e.test_rest_conversations import conversation
from tests.e2e.test_widget_browser import ask, shop  # noqa: F401

IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
POLL = re.compile(r"/console/api/handoffs/[^/]+/messages")
# counts the Web Audio beeps the page plays (the page's own code, untouched, calls start())
COUNT_BEEPS = """window.__beeps = 0;
const start = OscillatorNode.prototype.start;
OscillatorNode.prototype.start = function (...args) { window.__beeps += 1; return start.apply(this, args); };"""


@pytest.fixture(scope="module", autouse=True)
def leave_no_one_waiting(servers, store):  # noqa: F811
    """Other modules count queue positions: the hand-offs made here end with the module."""
    agent = console(servers)
    before = {h["id"] for h in agent.get("/queue").json()["handoffs"]}
    yield
    for h in agent.get("/queue").json()["handoffs"]:
        if h["id"] not in before:
            agent.post(f"/handoffs/{h['id']}/abandon")


def agent_page(servers, browser, screenshots, block_socket=False, init_script=None):
    """ana logged in to the console in a fresh browser context; every GET request is recorded."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    if init_script:
        context.add_init_script(init_script)
    if block_socket:  # a proxy that does not pass socket.io, say
        context.route("**/console/socket.io/**", lambda route: route.abort())
    page = context.new_page()
    screenshots.append(page)
    page.requests = []
    page.on("request", lambda r: page.requests.append(r.url) if r.method == "GET" else None)
    page.sockets = []
    page.on("websocket", lambda ws: page.sockets.append(ws.url))
    page.goto(base(servers) + "/console/")
    page.fill("input[name=name]", "ana")
    page.fill("input[name=password]", PASSWORD)
    page.click("form#login button[type=submit]")
    page.wait_for_selector("#whoami:has-text('Logged in as ana')")
    return page


def polls(page):
    return [u for u in page.requests if POLL.search(u)]


def hand_off(servers, text):
    sender = conversation()
    say(servers, sender, text)
    say(servers, sender, "talk to a human")
    return sender


def test_customer_typing_and_messages_arrive_over_the_socket_without_polling(
        servers, store, browser, screenshots, shop):  # noqa: F811
    agent = agent_page(servers, browser, screenshots)
    agent.wait_for_selector("#live-status:text-is('live')", timeout=10_000)
    # the customer, in the widget on the shop's page, asks for a person
    ask(shop, "where is my parcel?")
    shop.click(".sb-person")
    shop.wait_for_selector(".sb-status:has-text('You are number')")
    session = shop.evaluate(
        "JSON.parse(Object.entries(localStorage).find(([k]) => k.startsWith('supportbot:'))[1]).session")
    row = agent.locator(f"#queue tbody tr[data-id='{store.active_for(session).id}']")
    row.wait_for(timeout=5_000)  # announced over the socket: the 3-second queue refresh is off
    row.locator("button", has_text="Open").click()
    agent.click("#claim")
    agent.wait_for_selector("#conv-state:has-text('assigned')")
    shop.wait_for_selector(".sb-bot:has-text('ana has joined the conversation.')")
    agent.wait_for_timeout(1_000)
    agent.requests.clear()

    shop.type(".sb-input", "Is anyone", delay=50)  # typing, not sent yet
    agent.wait_for_selector("#live-typing:text-is('Customer is typing…')", timeout=5_000)
    assert_accessible(agent, "the console live: status line, sound toggle, customer typing")
    IMAGES.mkdir(exist_ok=True)
    agent.screenshot(path=str(IMAGES / "console-live.png"))
    shop.type(".sb-input", " there? I still have no parcel")
    shop.press(".sb-input", "Enter")
    agent.wait_for_selector("#transcript li.customer:has-text('I still have no parcel')", timeout=5_000)
    assert agent.locator("#live-typing").inner_text() == ""
    # over REST too (the relay sees every channel), and nothing polled for it
    say(servers, session, "writing from my phone now")
    agent.wait_for_selector("#transcript li.customer:has-text('writing from my phone now')", timeout=5_000)
    agent.wait_for_timeout(1_500)  # three half-second polls would have happened by now
    assert polls(agent) == [], polls(agent)
    assert agent.locator("#transcript li.customer:has-text('I still have no parcel')").count() == 1
    # socket.io upgraded to a WebSocket on the console's path (not stuck on its own long-polling)
    assert any("/console/socket.io/" in u and "transport=websocket" in u for u in agent.sockets), agent.sockets
    agent.context.close()


def test_a_new_handoff_raises_the_title_badge_and_beeps_when_sound_is_on(
        servers, store, browser, screenshots):  # noqa: F811
    agent = agent_page(servers, browser, screenshots, init_script=COUNT_BEEPS)
    agent.wait_for_selector("#live-status:text-is('live')", timeout=10_000)
    assert not agent.title().startswith("(")
    assert not agent.is_checked("#live-sound")  # off by default
    agent.check("#live-sound")  # the click plays one beep, so the agent knows what it sounds like
    assert agent.evaluate("localStorage.getItem('supportbot:console:sound')") == "on"
    agent.wait_for_function("() => window.__beeps === 1")
    first = hand_off(servers, "the wrong size came")
    agent.wait_for_function("() => document.title.startsWith('(1) ')", timeout=5_000)
    agent.wait_for_function("() => window.__beeps === 2")
    hand_off(servers, "the colour is wrong too")
    agent.wait_for_function("() => document.title.startsWith('(2) ')", timeout=5_000)
    assert agent.title().endswith("Support console")
    agent.locator("#queue tbody tr", has_text="the wrong size came").wait_for()
    agent.mouse.click(5, 300)  # the agent looks at the page: the new ones are seen
    agent.wait_for_function("() => !document.title.startsWith('(')")
    agent.reload()  # the sound setting is kept
    agent.wait_for_selector("#live-status:text-is('live')", timeout=10_000)
    assert agent.is_checked("#live-sound")
    assert store.active_for(first) is not None
    agent.context.close()


def test_a_socket_without_a_staff_session_or_from_another_origin_is_refused(
        servers, store, browser, screenshots):  # noqa: F811
    context = browser.new_context()
    page = context.new_page()
    screenshots.append(page)
    page.goto(base(servers) + "/console/")
    page.wait_for_selector("form#login")
    refused = page.evaluate("""() => new Promise((resolve) => {
        const s = io("/staff", { path: "/console/socket.io", reconnection: false });
        s.on("connect", () => resolve("connected"));
        s.on("connect_error", (e) => resolve(e.data || e.message));
    })""")
    assert refused["field"] == "session" and "log in to the console first" in refused["error"]
    context.close()
    # a logged-in agent's cookie from another site's page: no CORS grant, no socket
    agent = console(servers)
    cookie = agent.cookies.get("supportbot_session")
    r = httpx.get(base(servers) + "/console/socket.io/", params={"EIO": "4", "transport": "polling"},
                  headers={"Origin": "http://shop.test", "Cookie": f"supportbot_session={cookie}"})
    assert r.status_code == 403 and "own page" in r.json()["error"]
    assert not any(h.lower().startswith("access-control") for h in r.headers)
    # the page's own origin reaches engine.io on that path (the staff namespace then checks the session)
    same = httpx.get(base(servers) + "/console/socket.io/", params={"EIO": "4", "transport": "polling"})
    assert same.status_code == 200 and same.text.startswith("0{")  # the engine.io handshake
    # a customer's client on the customers' path: the staff namespace refuses it
    client, errors = socketio.Client(reconnection=False), []
    client.on("connect_error", errors.append, namespace="/staff")
    try:
        with pytest.raises(socketio.exceptions.ConnectionError, match="/staff"):
            client.connect(base(servers), namespaces=["/staff"], transports=["polling"], wait_timeout=10)
    finally:
        client.disconnect()
    assert errors and "log in to the console first" in str(errors[0]), errors


def test_polling_takes_over_when_the_socket_is_blocked(servers, store, browser, screenshots):  # noqa: F811
    agent = agent_page(servers, browser, screenshots, block_socket=True)
    agent.wait_for_selector("#live-status:has-text('reconnecting — refreshing every few s')", timeout=10_000)
    sender = hand_off(servers, "my voucher code does not work")
    row = agent.locator("#queue tbody tr", has_text="my voucher code does not work")
    row.wait_for(timeout=10_000)  # the queue's 3-second refresh
    row.locator("button", has_text="Open").click()
    agent.click("#claim")
    agent.wait_for_selector("#conv-state:has-text('assigned')")
    say(servers, sender, "it says expired")
    agent.wait_for_selector("#transcript li.customer:has-text('it says expired')", timeout=5_000)
    assert polls(agent)  # it came by polling, which goes on every half second
    seen = len(polls(agent))
    agent.wait_for_timeout(1_200)
    assert len(polls(agent)) > seen
    assert agent.locator("#live-status").inner_text().startswith("reconnecting")
    agent.context.close()


def test_a_live_customer_waiting_longer_than_the_setting_is_flagged_in_queue_and_title(
        servers, store, browser, screenshots):  # noqa: F811
    limit = servers.settings.wait_warning_seconds
    assert limit == 120  # the default: the e2e settings leave it
    agent = agent_page(servers, browser, screenshots)
    agent.wait_for_selector("#live-status:text-is('live')", timeout=10_000)
    late, fresh = hand_off(servers, "where is my refund"), hand_off(servers, "can I change my address")
    late_id, fresh_id = store.active_for(late).id, store.active_for(fresh).id
    with store.engine.begin() as conn:  # the first one has been waiting for 3 minutes
        conn.execute(handoffs.update().where(handoffs.c.id == late_id)
                     .values(created_at=utcnow() - timedelta(seconds=limit + 60)))
    agent.reload()
    late_row = agent.locator(f"#queue tbody tr[data-id='{late_id}']")
    late_row.wait_for(timeout=5_000)
    agent.wait_for_selector(f"#queue tbody tr[data-id='{late_id}'].overdue .overdue-mark")
    assert "⚠ waiting over 2 min" in late_row.inner_text() and "3 min" in late_row.inner_text()
    fresh_row = agent.locator(f"#queue tbody tr[data-id='{fresh_id}']")
    assert "waiting over" not in fresh_row.inner_text()
    assert "overdue" not in (fresh_row.get_attribute("class") or "")
    overdue = agent.locator("#queue tbody tr.overdue").count()
    assert f"⚠ {overdue} waiting too long · " in agent.title()
    assert_accessible(agent, "the queue with a customer waiting too long")
    agent.locator("#queue-panel").screenshot(path=str(IMAGES / "console-wait-warning.png"))
    # claimed: no longer waiting, no longer flagged
    late_row.locator("button", has_text="Open").click()
    agent.click("#claim")
    agent.wait_for_selector(f"#queue tbody tr[data-id='{late_id}']:not(.overdue)")
    time.sleep(0.1)
    assert "waiting over" not in agent.locator(f"#queue tbody tr[data-id='{late_id}']").inner_text()
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(handoffs.c.state).where(handoffs.c.id == late_id)).scalar() == "assigned"
    agent.context.close()
