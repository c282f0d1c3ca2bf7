"""A killed pytest leaves no server behind: every server the tests start (bot/cluster/local.py, and the
supervisor's through tests/conftest.py) gets a parent-death signal, so its port is free again for the
next run. Each case starts one server in a small parent process, kills that with SIGKILL (no handler,
no atexit, no fixture teardown runs) and waits for the port to close."""

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from tests.e2e.conftest import E2E_PORT

# From SUPPORTBOT_E2E_PORT (P): Redis P+120, PostgreSQL P+121, nginx P+122, a supervised server P+123
PORTS = {"redis": E2E_PORT + 120, "postgres": E2E_PORT + 121, "nginx": E2E_PORT + 122,
         "supervised": E2E_PORT + 123}

PARENT = """
import sys, time
from pathlib import Path
import pytest
from bot.cluster.local import Nginx, Postgres, RedisServer
kind, port = sys.argv[1], int(sys.argv[2])
if kind == "redis":
    RedisServer(port).__enter__()
elif kind == "postgres":
    Postgres(port).__enter__()
elif kind == "nginx":
    Nginx(port, [port + 1000], Path(sys.argv[3])).__enter__()
else:  # a server the supervisor spawns, as tests/conftest.py sets it up (a cheap one: http.server)
    from bot.apps.supervisor import Servers
    from bot.cluster.local import wait_for_port
    from bot.settings import Settings
    from tests.conftest import servers_die_with_pytest
    servers_die_with_pytest(pytest.MonkeyPatch())
    proc = Servers(Settings(root=Path.cwd()), log_dir=Path(sys.argv[3]))._spawn(
        "http", [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)])
    assert wait_for_port(port, 30, proc)
print("started", flush=True)
time.sleep(600)
"""


def listening(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.parametrize("kind", list(PORTS))
def test_a_server_started_by_a_process_killed_with_sigkill_frees_its_port(kind, tmp_path, root):
    port = PORTS[kind]
    assert not listening(port), f"port {port} is taken before the test: a server left by an earlier run?"
    parent = subprocess.Popen([sys.executable, "-c", PARENT, kind, str(port), str(tmp_path)],
                              cwd=root, stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout.readline().strip() == "started"
        assert listening(port)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 30
        while listening(port) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not listening(port), f"the {kind} server outlived the process that started it"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
