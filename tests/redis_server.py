"""Start a throw-away Redis server on loopback for tests (Debian's redis-server package)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


class RedisUnavailable(RuntimeError):
    pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """``with RedisServer() as url:`` gives ``redis://127.0.0.1:<port>/0``; the server stops afterwards."""

    def __init__(self, port: int | None = None) -> None:
        self.work = Path(tempfile.mkdtemp(prefix="supportbot-redis-"))
        self.port = port or _free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def __enter__(self) -> str:
        binary = shutil.which("redis-server")
        if not binary:
            raise RedisUnavailable("redis-server not found: install it (apt-get install -y redis-server)")
        # no persistence, loopback only: a test's Redis holds nothing worth keeping
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.work), "--logfile", str(self.work / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 20
        while time.time() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self.url
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.__exit__()
        raise RedisUnavailable(f"redis-server did not start on port {self.port}")

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.work, ignore_errors=True)
