"""Throw-away servers on loopback from Debian's packages, for ``make cluster`` and the tests:
PostgreSQL (``postgresql``), Redis (``redis-server``) and nginx, the load balancer (``nginx``).
Each is a context manager that starts it in its own temporary folder and stops and removes it after;
PostgreSQL and Redis also ``stop()``, ``start()`` and ``restart()`` on the same port and folder (the
fault tests);
``scripts/system-deps.sh`` installs the packages. Every server here is started with a parent-death
signal (``bot.apps.parent_death``): when the process that started it dies, even by SIGKILL, the
server is told to stop, so a killed ``pytest`` or ``make cluster`` leaves no server on its ports."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from bot.apps.parent_death import popen_dying_with_parent


class PostgresUnavailable(RuntimeError):
    pass


class RedisUnavailable(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, seconds: float, proc: subprocess.Popen | None = None) -> bool:
    deadline = time.time() + seconds
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return True
        if proc is not None and proc.poll() is not None:
            return False
        time.sleep(0.05)
    return False


def stop(proc: subprocess.Popen | None) -> None:
    """Terminate a server we started, killing it after 10 s."""
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _bin(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))), None)
    if not found:
        raise PostgresUnavailable(f"{name} not found: install PostgreSQL (apt-get install -y postgresql)")
    return found


class Postgres:
    """``with Postgres() as url:`` gives a superuser URL; the server stops afterwards."""

    def __init__(self, port: int | None = None) -> None:
        # Its own folder under /tmp: pytest's are private to root, and the server runs as postgres.
        self.work = Path(tempfile.mkdtemp(prefix="supportbot-pg-"))
        self.dir = self.work / "pgdata"
        self.port = port or free_port()
        # PostgreSQL refuses to run as root; use the postgres account the package creates.
        self.prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.proc: subprocess.Popen | None = None

    def _run(self, *cmd: str) -> None:
        subprocess.run([*self.prefix, *cmd], check=True, capture_output=True, text=True, timeout=120)

    def __enter__(self) -> str:
        if self.prefix:
            shutil.chown(self.work, "postgres")
        self._run(_bin("initdb"), "-D", str(self.dir), "-A", "trust", "-U", "supportbot", "--no-sync")
        return self.start()

    @property
    def url(self) -> str:
        return f"postgresql://supportbot@127.0.0.1:{self.port}/postgres"

    def start(self) -> str:
        """Start the server on its port and data folder (again, after :meth:`stop`); its URL.

        The postmaster is our child, not pg_ctl's (which would leave it behind when we die): if we die
        it gets SIGQUIT, PostgreSQL's immediate shutdown, and its backends follow it."""
        user = {"user": "postgres", "group": "postgres", "extra_groups": []} if self.prefix else {}
        with open(self.work / "pg.log", "ab") as log:
            self.proc = popen_dying_with_parent(
                [_bin("postgres"), "-D", str(self.dir), "-h", "127.0.0.1", "-p", str(self.port),
                 "-k", str(self.dir), "-F"], death_signal=signal.SIGQUIT, stdout=log,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, **user)
        if wait_for_port(self.port, 30, self.proc) and self._ready():
            return self.url
        raise PostgresUnavailable("PostgreSQL did not start; see " + str(self.work / "pg.log"))

    def stop(self, mode: str = "fast") -> None:
        """Stop the server, keeping its data: ``fast`` ends every session (as a restart by an operator
        does), ``immediate`` is a crash (recovery from the write-ahead log on the next start)."""
        subprocess.run([*self.prefix, _bin("pg_ctl"), "-D", str(self.dir), "-m", mode, "stop"],
                       capture_output=True, timeout=60)
        stop(self.proc)  # reaps it (pg_ctl has stopped it), or stops one pg_ctl could not
        self.proc = None

    def _ready(self, seconds: float = 30) -> bool:
        """The port opens before recovery ends: wait until the server takes connections."""
        deadline, isready = time.time() + seconds, _bin("pg_isready")
        while subprocess.run([isready, "-q", "-h", "127.0.0.1", "-p", str(self.port)], timeout=10).returncode:
            if time.time() > deadline or (self.proc is not None and self.proc.poll() is not None):
                return False
            time.sleep(0.05)
        return True

    def restart(self) -> str:
        self.stop()
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        shutil.rmtree(self.work, ignore_errors=True)


class RedisServer:
    """``with RedisServer() as url:`` gives ``redis://127.0.0.1:<port>/0``; the server stops afterwards."""

    def __init__(self, port: int | None = None) -> None:
        self.work = Path(tempfile.mkdtemp(prefix="supportbot-redis-"))
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def __enter__(self) -> str:
        return self.start()

    def start(self) -> str:
        """Start the server on its port (again, after :meth:`stop`: empty, as nothing is persisted)."""
        binary = shutil.which("redis-server")
        if not binary:
            raise RedisUnavailable("redis-server not found: install it (apt-get install -y redis-server)")
        # no persistence, loopback only: a test's Redis holds nothing worth keeping
        self.proc = popen_dying_with_parent(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.work), "--logfile", str(self.work / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if wait_for_port(self.port, 20, self.proc):
            return self.url
        self.__exit__()
        raise RedisUnavailable(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        """Stop the server (SIGTERM: it closes every client's connection), keeping its folder."""
        stop(self.proc)

    def restart(self) -> str:
        self.stop()
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        shutil.rmtree(self.work, ignore_errors=True)


NGINX_CONF = """\
daemon off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/body; proxy_temp_path {dir}/proxy; fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi; scgi_temp_path {dir}/scgi;
    client_max_body_size 2m;
    # socket.io's long-polling sends each socket's requests to the node that holds it: sticky by address
    upstream sticky {{ ip_hash; {servers} }}
    # everything else (REST turns, the console, the widget's files) goes to any node
    upstream any {{ {servers} }}
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    server {{
        listen 127.0.0.1:{port};
        proxy_http_version 1.1;
        proxy_set_header Host $http_host;  # with its port: the apps compare it to Origin
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        # WebSocket upgrades; here, not in the locations: a location's own proxy_set_header would drop
        # every one set at this level (Host, X-Forwarded-*)
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection $connection_upgrade;
        proxy_read_timeout 120s;
        # customers' sockets, and agents' consoles (the staff namespace, under the console's cookie path)
        location /socket.io/ {{
            proxy_pass http://sticky;
            proxy_buffering off;
        }}
        location /console/socket.io/ {{
            proxy_pass http://sticky;
            proxy_buffering off;
        }}
        location / {{ proxy_pass http://any; }}
    }}{actions}
}}
"""

# The action servers behind their own port, for the Rasa nodes' action endpoint (and the editor's
# and console's calls). A server that is down is skipped: a refused or timed-out connection goes to
# the next one (proxy_next_upstream; a request already sent is never resent, so no action runs twice).
# One conversation's requests go to one server, by their X-Conversation-Key (bot/rasa/routing.py: the
# FAQ action finds what the prefetch encoded); requests without it are spread by request id.
ACTIONS_CONF = """
    map $http_x_conversation_key $action_key {{ "" $request_id; default $http_x_conversation_key; }}
    log_format actions '$time_iso8601 $request_method $uri $status key=$http_x_conversation_key '
                       'upstream=$upstream_addr';
    upstream actions {{ hash $action_key consistent; {servers} }}
    server {{
        listen 127.0.0.1:{port};
        access_log {dir}/actions.log actions;
        proxy_http_version 1.1;
        proxy_set_header Host $http_host;
        proxy_connect_timeout 1s;
        proxy_next_upstream error timeout http_502 http_503;
        proxy_next_upstream_tries 3;
        proxy_read_timeout 60s;
        location / {{ proxy_pass http://actions; }}
    }}"""


def _servers(ports: list[int]) -> str:
    return " ".join(f"server 127.0.0.1:{p} max_fails=1 fail_timeout=2s;" for p in ports)


class Nginx:
    """``with Nginx(port, [node ports], folder) as url:`` the load balancer in front of the Rasa nodes,
    its configuration written to ``folder/nginx.conf``; ``actions=(port, [action server ports])``
    puts the action servers behind it too, on that port."""

    def __init__(self, port: int, upstreams: list[int], folder: Path,
                 actions: tuple[int, list[int]] | None = None) -> None:
        self.port, self.upstreams, self.dir, self.actions = port, upstreams, folder, actions
        self.proc: subprocess.Popen | None = None

    def config(self) -> str:
        actions = ACTIONS_CONF.format(servers=_servers(self.actions[1]), port=self.actions[0], dir=self.dir) \
            if self.actions else ""
        return NGINX_CONF.format(dir=self.dir, servers=_servers(self.upstreams), port=self.port,
                                 actions=actions)

    def __enter__(self) -> str:
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        if not Path(binary).exists():
            raise RuntimeError("nginx not found: install it (apt-get install -y nginx)")
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "nginx.conf").write_text(self.config())
        # if we die, the master gets SIGTERM (nginx's fast shutdown) and stops its workers
        self.proc = popen_dying_with_parent([binary, "-p", str(self.dir), "-c", str(self.dir / "nginx.conf"),
                                      "-e", str(self.dir / "error.log")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if not wait_for_port(self.port, 10, self.proc):
            _, err = self.proc.communicate(timeout=5) if self.proc.poll() is not None else (None, b"")
            self.__exit__()
            raise RuntimeError(f"nginx did not start on port {self.port}: {err.decode(errors='replace')}")
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        stop(self.proc)
