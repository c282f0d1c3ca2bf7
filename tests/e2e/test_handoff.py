"""Hand-off through the real Rasa server, action server and agent console, as customer and agent."""

import queue
import threading
import time
from pathlib import Path

import httpx
import pytest
import socketio
import sqlalchemy as sa

from bot.access.conversations import token_for
from bot.delivery.feed import FeedStore
from bot.events.outbox import Outbox
from bot.handoff import messages
from bot.handoff.store import HandoffStore
from bot.staff.accounts import StaffStore, sessions
from bot.staff.passwords import hash_password
from tests.e2e.test_rest_conversations import auth, conversation, say, send, tracker

PASSWORD = "correct horse battery"


def texts(replies):
    return [r["text"] for r in replies if r.get("text")]


@pytest.fixture(scope="module")
def store(servers):
    s = HandoffStore.from_url(servers.settings.handoff_db_url)
    for name in ("ana", "bo"):
        StaffStore(s.engine).add_agent(name, hash_password(PASSWORD))
    return s


def base(servers):
    return f"http://{servers.settings.host}:{servers.settings.rasa_port}"


def console(servers, name="ana"):
    client = httpx.Client(base_url=base(servers) + "/console/api", timeout=30)
    r = client.post("/login", json={"name": name, "password": PASSWORD})
    assert r.status_code == 200, r.text
    client.headers["X-CSRF-Token"] = r.json()["csrf"]
    return client


def poll(servers, sender):
    r = httpx.get(base(servers) + "/webhooks/rest/poll", params={"sender": sender},
                  headers=auth(servers, sender), timeout=30)
    assert r.status_code == 200
    return r.json()


def handoff_of(client, sender):
    return next(h for h in client.get("/queue").json()["handoffs"] if h["conversation_id"] == sender)


def waiting_customer(servers, text="agent please", claim=True):
    """An agent logged in, and a new customer who asked for a person: (agent client, sender, hand-off id)."""
    agent = console(servers)
    sender = conversation()
    say(servers, sender, text)
    hid = handoff_of(agent, sender)["id"]
    if claim:
        assert agent.post(f"/handoffs/{hid}/claim").status_code == 200
    return agent, sender, hid


def test_without_an_agent_online_the_handoff_becomes_a_ticket_with_an_email(servers, store):
    with store.engine.begin() as conn:
        conn.execute(sa.delete(sessions))  # nobody logged in
    sender = conversation()
    say(servers, sender, "my parcel never arrived")
    reply = texts(say(servers, sender, "talk to a human"))
    assert "No one from our support team is available" in reply[0] and "email" in reply[0]
    h = store.active_for(sender)
    assert h is not None and h.ticket and h.state == "queued"  # stored, never dropped
    assert texts(say(servers, sender, "my email is jo.doe@example.com")) == [
        "Thanks! Our support team will reply to jo.doe@example.com."]
    assert store.get(h.id).customer_email == "jo.doe@example.com"
    # the bot is not paused for a ticket: it keeps answering
    assert "3 business days" in texts(say(servers, sender, "how long do refunds take?"))[0]


def test_a_live_customer_does_not_queue_behind_email_tickets(servers, store):
    """Issue 19: with two tickets waiting (nobody was online when those customers asked), a new live
    customer was told "you are number 3 in the queue" and showed as #3 in the console."""
    with store.engine.begin() as conn:
        conn.execute(sa.delete(sessions))  # nobody logged in: the next two become tickets
    tickets = [conversation(), conversation()]
    for sender in tickets:
        say(servers, sender, "talk to a human")
        assert store.active_for(sender).ticket
    agent = console(servers)  # now someone is online
    rows = agent.get("/queue").json()["handoffs"]
    queued_tickets = [r for r in rows if r["state"] == "queued" and r["ticket"]]
    live_ahead = [r for r in rows if r["state"] == "queued" and not r["ticket"]]
    assert len(queued_tickets) >= 2
    sender = conversation()
    replies = say(servers, sender, "I want to talk to a real person")
    expected = len(live_ahead) + 1
    assert f"you are number {expected} in the queue" in texts(replies)[0]
    status = next(r["custom"]["handoff"] for r in replies if r.get("custom"))
    assert (status["position"], status["live"]) == (expected, True)
    row = handoff_of(agent, sender)
    assert (row["position"], row["ticket"]) == (expected, False)
    # the tickets keep their own order among tickets
    positions = {r["conversation_id"]: r["position"] for r in agent.get("/queue").json()["handoffs"]}
    assert positions[tickets[1]] == positions[tickets[0]] + 1
    agent.post(f"/handoffs/{row['id']}/abandon")
    for t in tickets:
        agent.post(f"/handoffs/{handoff_of(agent, t)['id']}/abandon")


def test_full_journey_customer_agent_resolve_rating_and_back_to_the_bot(servers, store):
    agent = console(servers)
    sender = conversation()
    say(servers, sender, "hello")
    say(servers, sender, "where is my parcel?")
    replies = say(servers, sender, "I want to talk to a real person")
    assert texts(replies)[0].startswith("Connecting you to a person")
    assert "you are number" in texts(replies)[0]
    status = next(r["custom"]["handoff"] for r in replies if r.get("custom"))
    h = store.get(status["id"])
    assert h.state == "queued" and h.reason == "user_request" and not h.ticket
    assert h.packet.summary.first_question == "where is my parcel?"
    assert [line.text for line in h.packet.transcript][-1] == "I want to talk to a real person"
    assert any(e == "pause" for e, _ in tracker(servers, sender))

    # while a person handles it the bot is quiet, and the agent sees the customer's messages live
    hostile = "hello? <script>alert(1)</script><img src=x onerror=alert(2)>"
    assert say(servers, sender, hostile) == []
    row = handoff_of(agent, sender)
    assert row["first_question"] == "where is my parcel?" and row["reason"] == "user_request"
    assert agent.post(f"/handoffs/{h.id}/claim").status_code == 200
    detail = agent.get(f"/handoffs/{h.id}").json()
    assert detail["summary"]["first_question"] == "where is my parcel?"
    assert [t["role"] for t in detail["transcript"]][:2] == ["customer", "bot"]
    assert hostile in [m["text"] for m in detail["messages"] if m["role"] == "customer"]  # JSON, as text

    # agent -> customer: within a second, on a poll or the next request
    started = time.perf_counter()
    sent = agent.post(f"/handoffs/{h.id}/messages", json={"text": "Hi, Ana here. Checking now."})
    assert sent.status_code == 200
    got = poll(servers, sender)
    assert time.perf_counter() - started < 1.0
    assert [m["text"] for m in got] == ["ana has joined the conversation.", "Hi, Ana here. Checking now."]
    assert got[1]["custom"] == {"from": "agent", "agent": "ana"}
    assert poll(servers, sender) == []  # delivered once
    agent.post(f"/handoffs/{h.id}/messages", json={"text": "Found it: it ships tomorrow."})
    assert texts(say(servers, sender, "great, thanks")) == ["Found it: it ships tomorrow."]
    last = agent.get(f"/handoffs/{h.id}/messages").json()["messages"][-1]
    assert (last["role"], last["text"]) == ("customer", "great, thanks")
    agent_events = [d for t, d in tracker(servers, sender)
                    if t == "bot" and (d.get("metadata") or {}).get("agent")]
    assert [d["text"] for d in agent_events] == ["Hi, Ana here. Checking now.", "Found it: it ships tomorrow."]

    # resolve: the bot is back, asks for a rating, stores it, and answers FAQs again
    assert agent.post(f"/handoffs/{h.id}/resolve").status_code == 200
    back = [m["text"] for m in poll(servers, sender)]
    assert back[0] == "ana has marked your question as resolved."
    assert back[1].startswith("I'm back. How would you rate")
    assert any(e == "resume" for e, _ in tracker(servers, sender))
    assert texts(say(servers, sender, "4 - quick and friendly"))[0].startswith("Thank you for your feedback")
    done = store.get(h.id)
    assert (done.state, done.rating, done.rating_comment) == ("resolved", 4, "quick and friendly")
    assert [x["to_state"] for x in store.history(h.id)] == ["queued", "assigned", "resolved"]
    assert "3 business days" in texts(say(servers, sender, "how long do refunds take?"))[0]
    # double resolve and claims on a resolved hand-off are clear conflicts
    again = agent.post(f"/handoffs/{h.id}/resolve")
    assert again.status_code == 409 and "already resolved" in again.json()["error"]
    assert agent.post(f"/handoffs/{h.id}/claim").status_code == 409
    assert agent.post("/handoffs/nope/claim").status_code == 404
    # all along the webhook receiver was down: deliveries wait in the outbox with their errors
    def rows():
        return [r for r in Outbox(store.engine).webhook_rows() if r["idempotency_key"].startswith(h.id)]

    assert {r["idempotency_key"].split(":")[1] for r in rows()} == {"handoff.created", "handoff.resolved"}
    deadline = time.time() + 15
    while time.time() < deadline and not all(r["attempts"] for r in rows()):
        time.sleep(0.2)
    assert all(r["attempts"] >= 1 and "ConnectError" in r["last_error"] for r in rows())
    assert all(r["delivered_at"] is None for r in rows())


def test_hand_back_without_resolving(servers, store):
    agent, sender, hid = waiting_customer(servers)
    assert agent.post(f"/handoffs/{hid}/return").status_code == 200
    back = [m["text"] for m in poll(servers, sender)]
    assert back[-2:] == ["ana has left the conversation.", messages.BACK]
    assert store.get(hid).state == "returned_to_bot"
    assert "3 business days" in texts(say(servers, sender, "how long do refunds take?"))[0]


def test_a_customer_who_left_is_marked_abandoned_and_the_bot_resumes_quietly(servers, store):
    agent, sender, hid = waiting_customer(servers, claim=False)
    assert agent.post(f"/handoffs/{hid}/abandon").status_code == 200
    assert store.get(hid).state == "abandoned" and poll(servers, sender) == []
    assert "3 business days" in texts(say(servers, sender, "how long do refunds take?"))[0]


def test_two_agents_claiming_at_once_exactly_one_wins(servers, store):
    ana, bo = console(servers, "ana"), console(servers, "bo")
    sender = conversation()
    say(servers, sender, "can I speak to a real person")
    hid = handoff_of(ana, sender)["id"]
    barrier, results = threading.Barrier(2), {}

    def claim(name, client):
        barrier.wait()
        results[name] = client.post(f"/handoffs/{hid}/claim")

    threads = [threading.Thread(target=claim, args=a) for a in (("ana", ana), ("bo", bo))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r.status_code for r in results.values())
    assert codes == [200, 409]
    winner = store.get(hid).agent
    loser = next(r for n, r in results.items() if n != winner)
    assert f"already assigned by {winner}" in loser.json()["error"]
    other = bo if winner == "ana" else ana
    assert other.post(f"/handoffs/{hid}/messages", json={"text": "me too"}).status_code == 409
    (ana if winner == "ana" else bo).post(f"/handoffs/{hid}/resolve")


def test_repeated_misses_offer_a_person_and_yes_hands_off(servers, store):
    console(servers)  # someone online
    sender = conversation()
    say(servers, sender, "zebra quantum violin")
    second = texts(say(servers, sender, "zebra quantum violin"))
    assert second[-1] == "Shall I connect you with a person from our support team?"
    assert texts(say(servers, sender, "/affirm"))[0].startswith("Connecting you to a person")
    assert store.active_for(sender).reason == "low_confidence"


def test_an_unsure_request_for_a_person_is_confirmed_first(servers, store):
    sender = conversation()
    replies = texts(say(servers, sender, "purple elephant saxophone"))  # request_human at ~0.65
    assert replies == ["Shall I connect you with a person from our support team?"]
    assert store.active_for(sender) is None
    assert texts(say(servers, sender, "yes please"))[0].startswith("Connecting you to a person")
    assert store.active_for(sender).reason == "user_request"


def test_frustration_offers_a_person_and_no_keeps_the_bot(servers, store):
    sender = conversation()
    assert texts(say(servers, sender, "this is useless")) == [
        "Shall I connect you with a person from our support team?"]
    assert texts(say(servers, sender, "no"))[0].startswith("Okay, I'll keep trying")
    assert store.active_for(sender) is None
    assert texts(say(servers, sender, "yes")) == ["Great. What else would you like to know?"]


def test_console_needs_login_csrf_and_limits_guessing(servers, store):
    url = base(servers) + "/console"
    assert httpx.get(url + "/api/queue").status_code == 401
    page = httpx.get(url + "/")
    assert page.status_code == 200 and "script-src 'self'" in page.headers["content-security-policy"]
    js = httpx.get(url + "/static/console.js").text
    assert "textContent" in js and not any(s in js for s in ("innerHTML", "outerHTML", "insertAdjacentHTML",
                                                              "document.write"))
    r = httpx.post(url + "/api/login", json={"name": "ana", "password": PASSWORD})
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    no_csrf = httpx.Client(cookies=r.cookies)
    assert no_csrf.get(url + "/api/queue").status_code == 200
    assert no_csrf.post(url + "/api/handoffs/x/claim").status_code == 403
    codes = [httpx.post(url + "/api/login", json={"name": "bo", "password": "wrong guess!"}).status_code
             for _ in range(6)]
    assert codes == [401] * 5 + [429]
    assert httpx.post(url + "/api/login", json={"name": "bo", "password": PASSWORD}).status_code == 429
    assert httpx.post(url + "/api/login", content=b"not json").status_code == 400


def test_staff_routes_answer_no_other_origin_and_customer_channels_only_listed_ones(servers, store):
    """Issue 16, item 2: Rasa ran with --cors *, so a page on another origin read an agent's CSRF
    token, the queue and transcripts with their cookie, and posted as them."""
    agent = console(servers)
    evil = {"Origin": "http://evil.test"}
    for method, path in (("GET", "/me"), ("GET", "/queue"), ("POST", "/handoffs/x/messages")):
        r = agent.request(method, path, headers=evil)
        assert "access-control-allow-origin" not in r.headers, (path, r.headers)
        pre = httpx.options(base(servers) + "/console/api" + path, headers={
            **evil, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": "x-csrf-token"})
        assert not any(h.startswith("access-control-") for h in pre.headers), (path, pre.headers)
    rest = base(servers) + "/webhooks/rest/webhook"
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    shop = httpx.options(rest, headers={"Origin": "http://shop.test", **preflight})
    assert shop.headers.get("access-control-allow-origin") == "http://shop.test"
    assert "authorization" in shop.headers.get("access-control-allow-headers", "").lower()
    assert "access-control-allow-credentials" not in shop.headers  # a token header, never cookies
    assert "access-control-allow-origin" not in httpx.options(rest, headers={**evil, **preflight}).headers
    for origin, allowed in (("http://evil.test", False), ("http://shop.test", True)):
        client = socketio.Client(reconnection=False)
        try:
            client.connect(base(servers), headers={"Origin": origin}, transports=["polling"], wait_timeout=10)
            connected = True
        except socketio.exceptions.ConnectionError:
            connected = False
        finally:
            client.disconnect()
        assert connected is allowed, origin


def test_the_session_cookie_is_secure_behind_https_and_logout_clears_it(servers, store):
    url = base(servers) + "/console/api"
    login = {"name": "ana", "password": PASSWORD}
    proxied = httpx.post(url + "/login", json=login, headers={"X-Forwarded-Proto": "https"})
    assert "secure" in proxied.headers["set-cookie"].lower()  # 127.0.0.1 is a trusted proxy here
    plain = httpx.post(url + "/login", json=login)
    assert "secure" not in plain.headers["set-cookie"].lower()
    client = httpx.Client(base_url=url, cookies=plain.cookies, headers={"X-CSRF-Token": plain.json()["csrf"]})
    out = client.post("/logout").headers["set-cookie"].lower()
    assert "path=/console" in out and "max-age=0" in out  # was Path=/: the browser kept the cookie
    assert client.get("/me").status_code == 401


def test_the_console_is_for_agents_and_admins_not_editors(servers, store):
    url = base(servers) + "/console/api"
    staff = StaffStore(store.engine)
    staff.add_agent("eddie", hash_password(PASSWORD), "editor")
    refused = httpx.post(url + "/login", json={"name": "eddie", "password": PASSWORD})
    assert refused.status_code == 403 and "agent or admin" in refused.json()["error"]
    assert "set-cookie" not in refused.headers
    staff.add_agent("root", hash_password(PASSWORD), "admin")
    admin = console(servers, "root")
    assert admin.get("/me").json()["role"] == "admin" and admin.get("/queue").status_code == 200
    staff.set_role("root", "editor")  # a role taken away takes effect at the next request
    assert admin.get("/queue").status_code == 403


def test_agent_message_limits(servers, store):
    agent, sender, hid = waiting_customer(servers, "human please")
    assert agent.post(f"/handoffs/{hid}/messages", json={"text": "x" * 4001}).status_code == 413
    assert agent.post(f"/handoffs/{hid}/messages", json={"text": "  "}).status_code == 400
    bad_after = agent.get(f"/handoffs/{hid}/messages", params={"after": "abc"})  # was a 500 HTML page
    assert bad_after.status_code == 400 and "after" in bad_after.json()["error"]
    for path in (f"/handoffs/{hid}/messages", "/login"):  # a body that is not JSON: was Sanic's HTML page
        broken = agent.post(path, content=b"{not json", headers={"content-type": "application/json"})
        assert broken.status_code == 400 and "JSON" in broken.json()["error"], (path, broken.text)
    # a customer message at the length limit: kept for the agent, the bot stays quiet (only the
    # pending status arrives); one over it is refused before anything sees it (was stored whole)
    longest = "y" * servers.settings.max_message_chars
    assert texts(say(servers, sender, longest)) == ["ana has joined the conversation."]
    assert send(servers, sender, longest + "y").status_code == 413
    seen = [m["text"] for m in agent.get(f"/handoffs/{hid}/messages").json()["messages"]]
    assert longest in seen and longest + "y" not in seen
    assert agent.post(f"/handoffs/{hid}/resolve").status_code == 200


def test_console_is_served_with_assets(servers):
    assert Path(__file__)  # the page and its script come from the installed package
    page = httpx.get(base(servers) + "/console/").text
    assert "/console/static/console.js" in page
    assert httpx.get(base(servers) + "/console/static/evil.js").status_code == 404


class SocketCustomer:
    """A website customer on socket.io with session persistence, as the widget connects."""

    def __init__(self, servers, session_id=None, *, token=None, web_token=None, history=False, ack=True):
        """``session_id`` with its token (signed here unless given), or a new conversation
        (``session_id`` None); ``web_token``: a site's JWT for a logged-in customer. Pushes are
        acknowledged as the widget does (``ack``); without, it is as if they never arrived."""
        self.received = queue.Queue()
        self.errors = queue.Queue()
        self.history = queue.Queue()
        self.custom = []
        self.client = socketio.Client(reconnection=False)

        def received(data):
            self.received.put(data)
            if ack and isinstance(data.get("delivery_id"), int):
                self.client.emit("delivered", {"ids": [data["delivery_id"]]})

        self.client.on("bot_uttered", received)
        self.client.on("error", lambda data: self.errors.put(data))
        self.client.on("history", lambda data: self.history.put(data))
        confirmed = queue.Queue()
        self.client.on("session_confirm", lambda data: confirmed.put(data))
        self.client.connect(base(servers), socketio_path="/socket.io", wait_timeout=10,
                            auth={"token": web_token} if web_token else None)
        request = {"history": history}
        if session_id is not None:
            request.update(session_id=session_id, token=token or token_for(servers.settings, session_id))
        self.client.emit("session_request", request)
        self.confirmed = confirmed.get(timeout=10)
        self.session_id, self.token = self.confirmed["session_id"], self.confirmed["token"]

    def say(self, text):
        self.client.emit("user_uttered", {"message": text, "session_id": self.session_id})

    def next(self, timeout=10.0):
        """The next message with text; custom payloads (hand-off status) are kept in ``custom``."""
        deadline = time.monotonic() + timeout
        while True:
            message = self.received.get(timeout=max(0.0, deadline - time.monotonic()))
            if "text" in message:
                return message
            self.custom.append(message["custom"])

    def close(self):
        # A clean disconnect; in the background, as with the polling transport it then waits out the
        # server's long poll (~25 s). The server drops the customer from their room at once.
        threading.Thread(target=self.client.disconnect, daemon=True).start()
        time.sleep(1.0)


def test_socketio_customer_gets_replies_and_live_pushes_from_the_agent(servers, store):
    agent = console(servers)
    sender = conversation()
    customer = SocketCustomer(servers, sender)
    try:
        customer.say("hello")
        assert "Brightcart assistant" in customer.next()["text"]  # replies reach the persisted session
        customer.say("I want to talk to a real person")
        assert customer.next()["text"].startswith("Connecting you to a person")
        hid = handoff_of(agent, sender)["id"]
        agent.post(f"/handoffs/{hid}/claim")
        started = time.perf_counter()
        agent.post(f"/handoffs/{hid}/messages", json={"text": "Hi, Ana here."})
        pushed = [customer.next(timeout=1.0)["text"] for _ in range(2)]
        assert time.perf_counter() - started < 1.0
        assert pushed == ["ana has joined the conversation.", "Hi, Ana here."]
        assert customer.custom[0]["handoff"]["state"] == "queued"  # the widget's status payload
        acknowledged(store, sender)
        assert poll(servers, sender) == []  # pushed live and acknowledged, so not queued again for REST
        customer.say("thanks!")
        deadline = time.time() + 2
        while time.time() < deadline and "thanks!" not in [
                m["text"] for m in agent.get(f"/handoffs/{hid}/messages").json()["messages"]]:
            time.sleep(0.05)
        assert "thanks!" in [m["text"] for m in agent.get(f"/handoffs/{hid}/messages").json()["messages"]]
        # the customer drops off; what the agent sends meanwhile arrives when they reconnect
        customer.close()
        agent.post(f"/handoffs/{hid}/messages", json={"text": "Your refund is on its way."})
        agent.post(f"/handoffs/{hid}/resolve")
        customer = SocketCustomer(servers, sender)
        got = [customer.next()["text"] for _ in range(3)]
        assert got[:2] == ["Your refund is on its way.", "ana has marked your question as resolved."]
        assert got[2].startswith("I'm back. How would you rate")
    finally:
        customer.close()


def acknowledged(store, sender, seconds=5.0):
    """Waits until the customer's socket has acknowledged every push."""
    feed, deadline = FeedStore(store.engine), time.monotonic() + seconds
    while feed.feed_pending(sender) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert feed.feed_pending(sender) == []


def test_a_push_that_never_arrived_is_sent_again_on_reconnection_and_shown_once(servers, store):
    """A push emitted as the customer's connection drops (or to a node that died and still counts as
    holding their socket) never reaches them: they did not acknowledge it, so their reconnection gets
    it again, with the same delivery_id for the widget to show it once."""
    agent, sender, hid = waiting_customer(servers)
    lost = SocketCustomer(servers, sender, ack=False)
    try:
        assert lost.next(timeout=5)["text"] == "ana has joined the conversation."  # kept since the claim
        agent.post(f"/handoffs/{hid}/messages", json={"text": "Are you still there?"})
        pushed = lost.next(timeout=5)
        assert pushed["text"] == "Are you still there?" and isinstance(pushed["delivery_id"], int)
    finally:
        lost.close()
    customer = SocketCustomer(servers, sender)
    try:
        again = [customer.next(timeout=5) for _ in range(2)]
        assert [m["text"] for m in again] == ["ana has joined the conversation.", "Are you still there?"]
        assert again[1]["delivery_id"] == pushed["delivery_id"]
        acknowledged(store, sender)
        # another conversation's delivery ids are not this socket's to acknowledge; junk is refused
        other_agent, other, other_hid = waiting_customer(servers, claim=True)
        other_agent.post(f"/handoffs/{other_hid}/messages", json={"text": "for someone else"})
        rows = [row for row, _ in FeedStore(store.engine).feed_pending(other)]
        customer.client.emit("delivered", {"ids": rows})
        customer.client.emit("delivered", {"ids": "all"})
        assert customer.errors.get(timeout=5)["field"] == "ids"
        assert [p["text"] for _, p in FeedStore(store.engine).feed_pending(other)] == [
            "ana has joined the conversation.", "for someone else"]
    finally:
        customer.close()
    customer = SocketCustomer(servers, sender)  # acknowledged: nothing comes twice
    try:
        with pytest.raises(queue.Empty):
            customer.next(timeout=1.5)
    finally:
        customer.close()


def test_malformed_socketio_payloads_get_an_error_event_and_no_traceback(servers):
    """Issue 16, item 8 (socket.io): these raised unhandled exceptions in rasa.log and the client
    heard nothing."""
    log = Path(servers.log_dir) / "rasa.log"
    tracebacks = log.read_text(errors="replace").count("Traceback")
    customer = SocketCustomer(servers, conversation())
    errors: queue.Queue = queue.Queue()
    customer.client.on("error", lambda data: errors.put(data))
    try:
        for payload, field in [("just a string", "body"), (["a", "list"], "body"),
                               ({"message": "hi"}, "session_id"),
                               ({"message": 5, "session_id": customer.session_id}, "message"),
                               ({"message": "x" * (servers.settings.max_message_chars + 1),
                                 "session_id": customer.session_id}, "message"),  # item 7
                               ({"message": "hi", "session_id": customer.session_id, "metadata": "{no"},
                                "metadata"),
                               ({"message": "hi", "session_id": customer.session_id, "metadata": [1]},
                                "metadata")]:
            customer.client.emit("user_uttered", payload)
            assert errors.get(timeout=10)["field"] == field
        customer.client.emit("session_request", ["not", "an", "object"])
        assert errors.get(timeout=10)["field"] == "body"
        customer.say("hello")  # the connection still works
        assert "Brightcart assistant" in customer.next()["text"]
    finally:
        customer.close()
    assert log.read_text(errors="replace").count("Traceback") == tracebacks


def test_knowing_a_conversation_id_opens_nothing(servers, store):
    """Issue 16, item 1: a REST poll with someone else's sender read the agent's messages meant for
    them; a socket.io session_request with their session id joined their room (live and missed
    agent messages), and a user_uttered with their id wrote into their conversation."""
    agent, victim, hid = waiting_customer(servers, "I want a person")
    agent.post(f"/handoffs/{hid}/messages", json={"text": "Your new card PIN letter is on its way."})
    url = base(servers) + "/webhooks/rest/poll"
    stranger = conversation()
    for headers, status in (({}, 401), (auth(servers, stranger), 403)):
        r = httpx.get(url, params={"sender": victim}, headers=headers, timeout=30)
        assert r.status_code == status and r.json()["field"] == "token"
    intruder = SocketCustomer(servers)  # a conversation of its own, issued by the server
    try:
        for token in (None, "forged", intruder.token):
            intruder.client.emit("session_request", {"session_id": victim, "token": token})
            assert intruder.errors.get(timeout=10)["field"] == "token"
        intruder.client.emit("user_uttered", {"message": "cancel my order", "session_id": victim})
        assert intruder.errors.get(timeout=10)["field"] == "session_id"
        agent.post(f"/handoffs/{hid}/messages", json={"text": "Anything else?"})
        time.sleep(1.0)
        assert intruder.received.empty()  # nothing of the victim's, live or missed
    finally:
        intruder.close()
    assert [m["text"] for m in poll(servers, victim)] == [
        "ana has joined the conversation.", "Your new card PIN letter is on its way.", "Anything else?"]
    said = [m["text"] for m in agent.get(f"/handoffs/{hid}/messages").json()["messages"]]
    assert "cancel my order" not in said
    assert agent.post(f"/handoffs/{hid}/resolve").status_code == 200


def test_a_logged_in_customer_takes_their_conversation_to_another_device(servers, store):
    """Sites that log customers in pass a JWT (its sub names the customer): the same conversation
    and its history on every device; a JWT the server cannot verify is refused at connection."""
    import jwt

    from tests.e2e.conftest import JWT_KEY

    customer = "customer-" + conversation()
    web_token = jwt.encode({"sub": customer, "exp": int(time.time()) + 600}, JWT_KEY, algorithm="HS256")
    laptop = SocketCustomer(servers, web_token=web_token)
    try:
        laptop.say("how long does a refund take?")
        answer = laptop.next()["text"]
    finally:
        laptop.close()
    assert laptop.token is None  # only the JWT opens it: nothing to steal from the browser
    intruder = SocketCustomer(servers)
    try:  # its id and a token signed for it open nothing
        intruder.client.emit("session_request", {"session_id": laptop.session_id,
                                                 "token": token_for(servers.settings, laptop.session_id)})
        assert intruder.errors.get(timeout=10)["field"] == "token"
    finally:
        intruder.close()
    phone = SocketCustomer(servers, web_token=web_token, history=True)
    try:
        assert phone.session_id == laptop.session_id
        lines = phone.history.get(timeout=10)
        assert [(line["from"], line["text"]) for line in lines][-2:] == [
            ("customer", "how long does a refund take?"), ("bot", answer)]
        phone.say("thanks")
        assert phone.next()["text"]
    finally:
        phone.close()
    other = SocketCustomer(servers, web_token=jwt.encode({"sub": "someone-else", "exp": int(time.time()) + 600},
                                                         JWT_KEY, algorithm="HS256"))
    try:
        assert other.session_id != laptop.session_id
    finally:
        other.close()
    for bad in (jwt.encode({"sub": customer}, "not the shop's key", algorithm="HS256"),
                jwt.encode({"sub": customer, "exp": int(time.time()) - 60}, JWT_KEY, algorithm="HS256"),
                jwt.encode({"name": "no sub", "exp": int(time.time()) + 600}, JWT_KEY, algorithm="HS256"),
                jwt.encode({"sub": customer}, JWT_KEY, algorithm="HS256")):  # no exp: never expires
        client, refusals = socketio.Client(reconnection=False), []
        client.on("connect_error", refusals.append)
        with pytest.raises(socketio.exceptions.ConnectionError):
            client.connect(base(servers), auth={"token": bad}, wait_timeout=10)
        # what the widget shows: err.data.error, with the field to fix (docs/widget.md)
        assert refusals and refusals[0]["data"]["field"] == "token" and refusals[0]["data"]["error"], refusals


def test_a_vote_on_an_answer_needs_the_conversation_and_an_answer_from_that_entry(servers, store):
    from bot.inbox.store import NOT_HELPFUL, InboxStore

    inbox = InboxStore(store.engine)
    customer, intruder = SocketCustomer(servers), SocketCustomer(servers)
    confirmed = queue.Queue()
    customer.client.on("feedback_confirm", lambda data: confirmed.put(data))
    try:
        customer.say("how long does it take to get my refund?")
        answer = customer.next()
        while "faq" not in answer:  # a long answer comes in paragraphs: the last one names the entry
            answer = customer.next()
        entry = answer["faq"]["id"]
        vote = {"session_id": customer.session_id, "faq_id": entry, "helpful": False}
        intruder.client.emit("feedback", vote)  # another socket, the customer's conversation
        assert intruder.errors.get(timeout=10)["field"] == "session_id"
        customer.client.emit("feedback", {**vote, "faq_id": "never-answered"})
        assert customer.errors.get(timeout=10)["field"] == "faq_id"
        customer.client.emit("feedback", {**vote, "helpful": "no"})
        assert customer.errors.get(timeout=10)["field"] == "helpful"  # the field to fix, as over REST
        customer.client.emit("feedback", "not an object")
        assert customer.errors.get(timeout=10)["field"] == "body"
        customer.client.emit("feedback", vote)
        assert confirmed.get(timeout=10) == {"faq_id": entry, "helpful": False}
        [gap] = [q for q in inbox.questions() if q.conversation_id == customer.session_id]
        assert (gap.kind, gap.nearest_entry, gap.question) == (
            NOT_HELPFUL, entry, "how long does it take to get my refund?")
        customer.client.emit("feedback", {**vote, "helpful": True})  # changed their mind
        assert confirmed.get(timeout=10)["helpful"] is True
        assert [q for q in inbox.questions() if q.conversation_id == customer.session_id] == []
    finally:
        customer.close()
        intruder.close()


def test_an_agent_suggests_a_resolved_handoffs_reply_for_the_faq(servers, store):
    """Issue 17: 'Suggest for the FAQ' on a resolved hand-off sends the customer's question and the
    agent's reply to the editors' inbox as a proposed entry (masked), once."""
    from bot.inbox.store import PROPOSED, InboxStore

    agent, sender = console(servers), conversation()
    say(servers, sender, "can I return a gift card I bought last week")
    say(servers, sender, "I want to talk to a real person")
    hid = handoff_of(agent, sender)["id"]
    assert agent.post(f"/handoffs/{hid}/claim").status_code == 200
    assert agent.post(f"/handoffs/{hid}/suggest").status_code == 409  # not resolved yet
    agent.post(f"/handoffs/{hid}/messages", json={"text": "Gift cards can't be returned; mail ana@shop.test"})
    assert agent.post(f"/handoffs/{hid}/resolve").status_code == 200
    anonymous = httpx.post(base(servers) + f"/console/api/handoffs/{hid}/suggest")
    assert anonymous.status_code == 401
    no_csrf = httpx.Client(base_url=base(servers) + "/console/api", cookies=agent.cookies)
    assert no_csrf.post(f"/handoffs/{hid}/suggest").status_code == 403
    r = agent.post(f"/handoffs/{hid}/suggest")
    assert r.status_code == 200, r.text
    [proposed] = [q for q in InboxStore(store.engine).questions((PROPOSED,)) if q.conversation_id == sender]
    assert proposed.proposed_by == "ana"
    assert "gift card" in proposed.question
    assert proposed.proposed_answer == "Gift cards can't be returned; mail [email]"
    assert agent.post(f"/handoffs/{hid}/suggest").status_code == 409  # once
