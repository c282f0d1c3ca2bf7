"""A killed parent leaves no server behind: every server from bot/cluster/local.py, and every server the
supervisor (``supportbot run``, ``make cluster``, the tests' ``Servers``) starts, gets a parent-death
signal (bot/apps/parent_death.py), so its port is free again for the next run. Each case starts one
server in a small parent process, kills that with SIGKILL (no handler, no atexit, no fixture teardown
runs) and waits for the port to close and the server process to be gone."""

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
from bot.cluster.local import Nginx, Postgres, RedisServer
kind, port = sys.argv[1], int(sys.argv[2])
if kind == "redis":
    RedisServer(port).__enter__()
elif kind == "postgres":
    Postgres(port).__enter__()
elif kind == "nginx":
    Nginx(port, [port + 1000], Path(sys.argv[3])).__enter__()
else:  # a server started by the supervisor's own code path, unchanged (a cheap one: http.server)
    from bot.apps.supervisor import Servers
    from bot.cluster.local import wait_for_port
    from bot.settings import Settings
    proc = Servers(Settings(root=Path.cwd()), log_dir=Path(sys.argv[3]))._spawn(
        "http", [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)])
    assert wait_for_port(port, 30, proc)
    print(proc.pid, flush=True)
print("started", flush=True)
time.sleep(600)
"""


def listening(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def alive(pid):
    """The process exists and is not a zombie (an orphan is reaped by init once it exits)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("kind", list(PORTS))
def test_a_server_started_by_a_process_killed_with_sigkill_frees_its_port(kind, tmp_path, root):
    port = PORTS[kind]
    assert not listening(port), f"port {port} is taken before the test: a server left by an earlier run?"
    parent = subprocess.Popen([sys.executable, "-c", PARENT, kind, str(port), str(tmp_path)],
                              cwd=root, stdout=subprocess.PIPE, text=True)
    child = None
    try:
        line = parent.stdout.readline().strip()
        if kind == "supervised":
            child, line = int(line), parent.stdout.readline().strip()
        assert line == "started"
        assert listening(port)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)
        # PostgreSQL's immediate shutdown and nginx's fast one can take a moment on a loaded machine;
        # the supervisor's servers get SIGTERM, which stops them at once
        deadline = time.monotonic() + (5 if child is not None else 30)
        while (listening(port) or (child is not None and alive(child))) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not listening(port), f"the {kind} server outlived the process that started it"
        assert child is None or not alive(child), "the supervisor's server outlived it"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if child is not None and alive(child):  # the old code's orphan: not left for the next run
            os.kill(child, signal.SIGKILL)
