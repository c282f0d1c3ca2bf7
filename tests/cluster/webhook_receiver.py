"""A webhook receiver on loopback for the cluster tests: records every delivery attempt (its
``Idempotency-Key``, JSON body and the status it answered), refusing with 503 while ``accepting`` is off."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class WebhookReceiver:
    def __init__(self, port: int):
        self.accepting = True
        self.attempts: list[tuple[str, dict, int]] = []  # (idempotency key, body, status answered)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                status = 200 if receiver.accepting else 503
                receiver.attempts.append((self.headers.get("Idempotency-Key", ""), body, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{port}/hooks"

    def accepted(self, key: str) -> int:
        return sum(1 for k, _, status in self.attempts if k == key and status == 200)

    def refused(self, key: str) -> int:
        return sum(1 for k, _, status in self.attempts if k == key and status != 200)

    def __enter__(self) -> WebhookReceiver:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
