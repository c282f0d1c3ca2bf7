"""The console's live updates (issue 19): who may join the agents' socket.io room, what they hear,
and that what the relay stores during a hand-off is also announced to them."""

import asyncio
from datetime import timedelta

import pytest

from bot.handoff.packet import Reason
from bot.handoff.service import HandoffService
from bot.handoff.store import HandoffStore
from bot.settings import Settings, SettingsError
from bot.staff.accounts import ADMIN, AGENT, EDITOR
from bot.staff.auth import COOKIE
from bot.web.console_live import CustomerTyping, Refused, authorize
from bot.web.live_events import AGENTS, NAMESPACE, AgentEvents
from tests.handoff_events import EVENTS

HOST = "support.example:5005"


@pytest.fixture
def service(tmp_path):
    return HandoffService(HandoffStore.from_url(f"sqlite:///{tmp_path / 'h.db'}"), Settings(root=tmp_path))


def session(service, name, role=AGENT):
    service.staff.add_agent(name, "x", role)
    token, _ = service.staff.create_session(name, timedelta(hours=1))
    return token


def environ(token=None, origin=None, cookie=None):
    env = {"HTTP_HOST": HOST}
    if token is not None:
        env["HTTP_COOKIE"] = f"other=1; {COOKIE}={token}"
    if cookie is not None:
        env["HTTP_COOKIE"] = cookie
    if origin is not None:
        env["HTTP_ORIGIN"] = origin
    return env


class Recorder:
    """Stands in for socketio.AsyncServer: records what is emitted, to whom."""

    def __init__(self):
        self.emitted = []

    async def emit(self, event, payload, room=None, namespace=None):
        self.emitted.append((event, payload, room, namespace))


def attached():
    events, server = AgentEvents(), Recorder()
    events.attach(server)
    return events, server


def test_an_agent_or_admin_with_a_live_session_from_the_consoles_own_page_may_connect(service):
    ana, root = session(service, "ana"), session(service, "root", ADMIN)
    assert authorize(environ(ana, origin=f"http://{HOST}"), service.staff).name == "ana"
    assert authorize(environ(root, origin=f"https://{HOST}"), service.staff).role == ADMIN
    assert authorize(environ(ana), service.staff).name == "ana"  # no Origin: not a cross-site page


@pytest.mark.parametrize("make,field,words", [
    (lambda s: environ(), "session", "log in"),
    (lambda s: environ("not-a-session"), "session", "expired"),
    (lambda s: environ(cookie='bad"cookie; ;;='), "session", "log in"),
    (lambda s: environ(session(s, "ed", EDITOR)), "role", "ed is editor"),
    (lambda s: environ(session(s, "ana"), origin="http://shop.test"), "origin", "http://shop.test"),
    (lambda s: environ(session(s, "ana"), origin=f"http://{HOST}.evil.test"), "origin", "may not connect"),
])
def test_anyone_else_is_refused_saying_what_to_fix(service, make, field, words):
    with pytest.raises(Refused) as refused:
        authorize(make(service), service.staff)
    assert refused.value.field == field and words in str(refused.value)


def test_an_ended_session_no_longer_connects(service):
    token = session(service, "ana")
    service.staff.end_session(token)
    with pytest.raises(Refused, match="ended or expired"):
        authorize(environ(token), service.staff)


def test_the_relay_announces_a_new_handoff_and_each_message_to_the_agents_room_only(service):
    from bot.rasa.relay import HandoffRelay

    async def turn():
        events, server = attached()
        h = service.open("c1", EVENTS, {}, Reason.user_request).handoff
        later = h.created_at.timestamp() + 1
        relay = HandoffRelay(service, events)
        relay.publish_many([  # the hand-off turn: the action's message carries its status
            {"event": "bot", "sender_id": "c1", "text": "You are number 1", "timestamp": later,
             "data": {"custom": {"handoff": {"id": h.id, "state": "queued", "position": 1, "live": True}}}}])
        relay.publish({"event": "user", "sender_id": "c1", "text": "my card is 4111 1111 1111 1111",
                       "timestamp": later})
        relay.publish({"event": "user", "sender_id": "nobody-waiting", "text": "hi", "timestamp": later})
        await asyncio.sleep(0)  # the emits the (synchronous) broker scheduled
        return h, server.emitted

    h, emitted = asyncio.run(turn())
    assert [(e, room, ns) for e, _, room, ns in emitted] == [("handoff", AGENTS, NAMESPACE),
                                                            ("message", AGENTS, NAMESPACE),
                                                            ("message", AGENTS, NAMESPACE)]
    opened, bot_line, customer_line = (payload for _, payload, _, _ in emitted)
    assert opened["kind"] == "opened" and opened["handoff"]["id"] == h.id
    assert opened["handoff"]["state"] == "queued" and opened["handoff"]["position"] == 1
    assert bot_line["message"]["role"] == "bot" and bot_line["handoff_id"] == h.id
    stored = service.store.messages(h.id)[-1]
    assert customer_line == {"handoff_id": h.id, "conversation_id": "c1",
                             "message": {"id": stored.id, "role": "customer", "author": None,
                                         "at": stored.at.isoformat(), "text": stored.text}}


def test_what_agents_hear_is_masked_as_the_console_shows_it(tmp_path):
    from bot.web.console import handoff_update
    from bot.web.console_live import announce_message

    s = Settings(root=tmp_path, agents_see_personal_data=False)
    service = HandoffService(HandoffStore.from_url(f"sqlite:///{tmp_path / 'h.db'}"), s)

    async def run():
        events, server = attached()
        h = service.open("c1", EVENTS, {}, Reason.user_request).handoff
        m = service.store.add_message(h.id, "customer", "write to ana@example.com")
        announce_message(service, h, m, events)
        await asyncio.sleep(0)
        claimed = service.claim(h.id, "ana")
        return server.emitted[0][1], handoff_update(service, claimed)

    said, claimed = asyncio.run(run())
    assert "ana@example.com" not in said["message"]["text"] and "write to" in said["message"]["text"]
    assert claimed["kind"] == "claimed" and claimed["handoff"]["agent"] == "ana"
    assert claimed["handoff"]["position"] == 0 and claimed["handoff"]["state"] == "assigned"


def test_emitting_from_another_thread_reaches_the_servers_loop():
    async def run():
        events, server = attached()
        events.loop_seen()
        await asyncio.get_running_loop().run_in_executor(None, events.emit_soon, "typing", {"x": 1})
        for _ in range(100):
            if server.emitted:
                break
            await asyncio.sleep(0.01)
        return server.emitted

    assert asyncio.run(run()) == [("typing", {"x": 1}, AGENTS, NAMESPACE)]


def test_without_a_socketio_server_nothing_is_emitted_and_nothing_breaks():
    events = AgentEvents()
    events.emit_soon("handoff", {})  # the action server's process: no loop, no server
    asyncio.run(events.emit("handoff", {}))


def test_typing_reaches_agents_only_during_a_handoff_and_at_most_every_two_seconds(service):
    now = [100.0]

    async def run():
        events, server = attached()
        typing = CustomerTyping(events, lambda: service, clock=lambda: now[0])
        said = [await typing.customer("c1")]  # no hand-off yet: nobody to tell
        now[0] += 5
        h = service.open("c1", EVENTS, {}, Reason.user_request).handoff
        said.append(await typing.customer("c1"))
        now[0] += 1.5
        said.append(await typing.customer("c1"))  # too soon
        now[0] += 1
        said.append(await typing.customer("c1"))
        return h, said, server.emitted

    h, said, emitted = asyncio.run(run())
    assert said == [False, True, False, True]
    assert emitted == [("typing", {"handoff_id": h.id, "conversation_id": "c1"}, AGENTS, NAMESPACE)] * 2


def test_the_wait_warning_setting_is_read_and_checked():
    assert Settings.from_env({"SUPPORTBOT_WAIT_WARNING_SECONDS": "45"}).wait_warning_seconds == 45
    assert Settings.from_env({}).wait_warning_seconds == 120
    with pytest.raises(SettingsError, match="SUPPORTBOT_WAIT_WARNING_SECONDS"):
        Settings.from_env({"SUPPORTBOT_WAIT_WARNING_SECONDS": "0"})


def test_sockets_whose_session_ended_or_role_changed_are_disconnected_the_others_stay_online(service):
    from bot.staff.accounts import accounts
    from bot.web.console_live import sweep

    ana, bo, cy = session(service, "ana"), session(service, "bo"), session(service, "cy")

    class Server:
        def __init__(self):
            self.sessions = {"s1": {"token": ana}, "s2": {"token": bo}, "s3": {"token": cy}, "s4": {}}
            self.manager = self
            self.gone = []

        def get_participants(self, namespace, room):
            assert (namespace, room) == (NAMESPACE, AGENTS)
            return ((sid, "eio-" + sid) for sid in list(self.sessions))

        async def get_session(self, sid, namespace=None):
            return self.sessions[sid]

        async def disconnect(self, sid, namespace=None):
            self.gone.append((sid, namespace))

    server = Server()
    service.staff.end_session(bo)  # logged out in another tab
    with service.staff.engine.begin() as conn:  # an admin made cy an editor
        conn.execute(accounts.update().where(accounts.c.name == "cy").values(role=EDITOR))
    assert asyncio.run(sweep(server, service.staff)) == 3
    assert server.gone == [("s2", NAMESPACE), ("s3", NAMESPACE), ("s4", NAMESPACE)]
    assert "ana" in service.staff.agents_online(timedelta(seconds=5))
