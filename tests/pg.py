"""Start a throw-away PostgreSQL server on loopback for tests (Debian's postgresql package)."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Iterator


class PostgresUnavailable(RuntimeError):
    pass


def _bin(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))), None)
    if not found:
        raise PostgresUnavailable(f"{name} not found: install PostgreSQL (apt-get install -y postgresql)")
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Postgres:
    """``with Postgres(tmp) as url:`` gives a superuser URL; the server stops afterwards."""

    def __init__(self) -> None:
        # Its own folder under /tmp: pytest's are private to root, and the server runs as postgres.
        self.work = Path(tempfile.mkdtemp(prefix="supportbot-pg-"))
        self.dir = self.work / "pgdata"
        self.port = _free_port()
        # PostgreSQL refuses to run as root; use the postgres account the package creates.
        self.prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, *cmd: str) -> None:
        subprocess.run([*self.prefix, *cmd], check=True, capture_output=True, text=True, timeout=120)

    def __enter__(self) -> str:
        initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
        if self.prefix:
            shutil.chown(self.work, "postgres")
        self._run(initdb, "-D", str(self.dir), "-A", "trust", "-U", "supportbot", "--no-sync")
        self._run(pg_ctl, "-D", str(self.dir), "-l", str(self.dir.parent / "pg.log"), "-w", "-o",
                  f"-h 127.0.0.1 -p {self.port} -k {self.dir} -F", "start")
        deadline = time.time() + 30
        while time.time() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return f"postgresql://supportbot@127.0.0.1:{self.port}/postgres"
            time.sleep(0.2)
        raise PostgresUnavailable("PostgreSQL did not start; see " + str(self.dir.parent / "pg.log"))

    def __exit__(self, *exc: object) -> None:
        subprocess.run([*self.prefix, _bin("pg_ctl"), "-D", str(self.dir), "-m", "fast", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(self.work, ignore_errors=True)


@contextlib.contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A new, empty database on the server at ``server_url``; its URL, dropped afterwards."""
    import sqlalchemy as sa

    name = "t_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT", future=True)
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    try:
        yield server_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE {name} WITH (FORCE)"))
        admin.dispose()
