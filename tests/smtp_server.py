"""A real SMTP server on loopback for tests (aiosmtpd, a test dependency): it keeps every message it
accepts, can refuse recipients, and can offer STARTTLS or implicit TLS with a throw-away certificate
and require a login."""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
import time
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for localhost (and its key), e.g. to trust through SSL_CERT_FILE."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


class Mailbox:
    """``refuse``: a reply code such as ``"550 5.1.1 no such user"`` for every recipient;
    ``login``: the (user, password) the server requires."""

    def __init__(self, port: int | None = None, *, refuse: str | None = None, tls: str = "none",
                 cert: tuple[Path, Path] | None = None, login: tuple[str, str] | None = None):
        self.port = port or free_port()
        self.refuse, self.login = refuse, login
        self.messages: list[tuple[str, list[str], EmailMessage]] = []  # (MAIL FROM, RCPT TOs, message)
        self.arrived = threading.Event()
        kwargs: dict = {}
        if cert is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(str(cert[0]), str(cert[1]))
            kwargs["ssl_context" if tls == "tls" else "tls_context"] = context
            kwargs["require_starttls"] = tls == "starttls"
        if login is not None:
            kwargs.update(authenticator=self._authenticate, auth_required=True,
                          auth_require_tls=tls == "starttls")  # aiosmtpd sees no TLS in implicit TLS
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, **kwargs)

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = self.login is not None and (auth_data.login.decode(), auth_data.password.decode()) == self.login
        return AuthResult(success=ok)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse:
            return self.refuse
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.content, policy=SMTP_POLICY)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        self.arrived.set()
        return "250 Message accepted for delivery"

    def start(self) -> Mailbox:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def wait(self, count: int = 1, timeout: float = 15.0) -> list[tuple[str, list[str], EmailMessage]]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.messages) >= count, f"{len(self.messages)} message(s) arrived, wanted {count}"
        return self.messages
