"""The webhook adapter against a real local HTTP receiver, including the receiver going down."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bot.events.outbox import Outbox
from bot.events.webhooks import WebhookSender, signature
from bot.handoff.packet import Reason
from bot.handoff.service import HandoffService
from bot.handoff.store import HandoffStore
from bot.settings import Settings
from tests.handoff_events import EVENTS

SECRET = "test-secret-123"


class Receiver:
    """Records every request; answers ``status`` (500 to simulate a broken receiver)."""

    def __init__(self):
        self.requests: list[dict] = []
        self.status = 200
        self.port = None
        self.server = None

    def start(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"headers": dict(self.headers), "body": body,
                                          "status": receiver.status})
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args):
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port or 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/hook"


@pytest.fixture
def receiver():
    r = Receiver().start()
    yield r
    r.stop()


def service(tmp_path, url):
    settings = Settings(root=tmp_path, handoff_webhooks=url, handoff_webhook_secret=SECRET)
    return HandoffService(HandoffStore.from_url(f"sqlite:///{tmp_path / 'h.db'}"), settings)


def test_delivers_a_signed_redacted_packet_once(tmp_path, receiver):
    svc = service(tmp_path, receiver.url)
    opened = svc.open("conv-1", EVENTS, {}, Reason.user_request)
    sender = WebhookSender(svc.outbox, SECRET, base_delay=0.05)
    assert sender.deliver_due() == 1
    assert sender.deliver_due() == 0  # acknowledged: never sent again
    (req,) = receiver.requests
    h = req["headers"]
    assert h["X-Supportbot-Signature"] == signature(SECRET, h["X-Supportbot-Timestamp"], req["body"])
    assert h["Idempotency-Key"] == f"{opened.handoff.id}:handoff.created"
    body = json.loads(req["body"])
    assert body["event"] == "handoff.created" and body["packet"]["conversation_id"] == "conv-1"
    text = json.dumps(body)
    assert "jo@example.com" not in text and "[email]" in text  # redacted before leaving


def test_retries_with_back_off_through_errors_and_a_receiver_restart(tmp_path, receiver):
    svc = service(tmp_path, receiver.url)
    svc.open("conv-1", EVENTS, {}, Reason.user_request)
    receiver.status = 500
    sender = WebhookSender(svc.outbox, SECRET, base_delay=0.05)
    assert sender.deliver_due() == 0
    row = svc.outbox.webhook_rows()[0]
    assert row["attempts"] == 1 and row["last_error"] == "HTTP 500" and row["delivered_at"] is None
    receiver.stop()  # the receiver is down entirely
    time.sleep(0.1)
    assert sender.deliver_due() == 0
    assert "ConnectError" in svc.outbox.webhook_rows()[0]["last_error"]
    # the bot process restarts too: a new sender on the same database picks the delivery up
    receiver.status = 200
    receiver.start()
    restarted = WebhookSender(Outbox(HandoffStore.from_url(f"sqlite:///{tmp_path / 'h.db'}").engine), SECRET)
    deadline = time.time() + 5
    while time.time() < deadline and not restarted.deliver_due():
        time.sleep(0.05)
    keys = [r["headers"]["Idempotency-Key"] for r in receiver.requests]
    assert len(keys) == 2 and len(set(keys)) == 1  # the 500 and the success, same key
    assert svc.outbox.webhook_rows()[0]["delivered_at"] is not None
    assert restarted.deliver_due() == 0


def test_background_worker_delivers_without_being_asked(tmp_path, receiver):
    svc = service(tmp_path, receiver.url)
    thread, stop = WebhookSender(svc.outbox, SECRET).start(interval=0.05)
    try:
        svc.open("conv-9", EVENTS, {}, Reason.frustration)
        deadline = time.time() + 5
        while time.time() < deadline and not receiver.requests:
            time.sleep(0.05)
        assert json.loads(receiver.requests[0]["body"])["packet"]["reason"] == "frustration"
    finally:
        stop.set()
        thread.join(timeout=5)
