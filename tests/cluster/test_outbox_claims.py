"""Each webhook is delivered once when the background workers of two nodes drain one PostgreSQL outbox."""

import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import sqlalchemy as sa

from bot.events.outbox import Outbox
from bot.events.webhooks import WebhookSender


class SlowReceiver:
    """Counts deliveries per Idempotency-Key; each takes a while, as a real receiver's would."""

    def __init__(self):
        self.keys: Counter[str] = Counter()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(0.01)
                receiver.keys[self.headers["Idempotency-Key"]] += 1
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


def test_each_webhook_is_delivered_once_with_senders_on_two_nodes(database):
    receiver = SlowReceiver()
    nodes = [sa.create_engine(database, future=True) for _ in range(2)]  # each node its own pool
    Outbox(nodes[0])  # creates the table
    senders = [WebhookSender(Outbox(engine), "secret") for engine in nodes]
    stop, n = threading.Event(), 60
    workers = [threading.Thread(target=s.run, args=(stop, 0.01)) for s in senders]
    for w in workers:
        w.start()
    try:
        for i in range(n):  # hand-offs opened on either node while both workers run
            Outbox(nodes[i % 2]).enqueue_webhook(f"handoff-{i}", receiver.url, {"n": i})
        deadline = time.monotonic() + 30
        while sum(receiver.keys.values()) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # a duplicate would arrive now
    finally:
        stop.set()
        for w in workers:
            w.join(10)
        receiver.server.shutdown()
    assert set(receiver.keys) == {f"handoff-{i}" for i in range(n)}
    assert [k for k, c in receiver.keys.items() if c > 1] == []
    rows = Outbox(nodes[0]).webhook_rows()
    assert all(r["delivered_at"] is not None and r["attempts"] == 1 for r in rows)
    for engine in nodes:
        engine.dispose()
