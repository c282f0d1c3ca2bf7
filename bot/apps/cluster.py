"""``make cluster``: the multi-node topology on loopback: PostgreSQL (tracker store, hand-offs, editor
versions), Redis (conversation locks, socket.io rooms across nodes, the login limiter), nginx in
front, and N nodes each with a Rasa server, an action server and a background worker (the editor runs
once, on the first node). Everything it starts lives under ``.run/cluster/`` and stops with it.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import signal
import sys
import threading
from pathlib import Path

from bot.apps.restarts import GaveUp
from bot.apps.supervisor import Servers, StartError, ensure_index
from bot.apps.training import TrainError, train_if_needed
from bot.cluster.local import Nginx, Postgres, RedisServer
from bot.settings import Settings


def node_settings(base: Settings, i: int, postgres_url: str, redis_url: str, rasa_port: int,
                  action_port: int) -> Settings:
    """Node ``i``'s settings: the shared stores, its own ports (Rasa, action server) counted from those."""
    return dataclasses.replace(base, tracker_url=postgres_url, handoff_url=postgres_url, redis_url=redis_url,
                               rasa_port=rasa_port + i, action_port=action_port + i)


class Cluster:
    """``with Cluster(settings, nodes=2) as url:`` starts the whole topology; ``url`` is nginx's."""

    def __init__(self, settings: Settings, nodes: int = 2, *, lb_port: int | None = None,
                 rasa_port: int | None = None, action_port: int | None = None, folder: Path | None = None):
        if nodes < 1:
            raise ValueError("a cluster needs at least one node")
        self.settings, self.count = settings, nodes
        self.lb_port = lb_port or settings.rasa_port
        self.rasa_port = rasa_port or settings.rasa_port + 100  # nodes' ports: 5105, 5106, ...
        self.action_port = action_port or settings.action_port + 100  # 5155, 5156, ...
        self.postgres_url = self.redis_url = ""
        self.postgres: Postgres | None = None  # the shared servers, while running: the fault tests
        self.redis: RedisServer | None = None  # stop() and start() them
        self.folder = folder or settings.root / ".run" / "cluster"
        self.nodes: list[Servers] = []
        self._stack = contextlib.ExitStack()

    def _start(self) -> str:
        self.postgres, self.redis = Postgres(), RedisServer()
        self.postgres_url = postgres_url = self._stack.enter_context(self.postgres)
        self.redis_url = redis_url = self._stack.enter_context(self.redis)
        for i in range(self.count):
            node = Servers(node_settings(self.settings, i, postgres_url, redis_url, self.rasa_port,
                                         self.action_port),
                           log_dir=self.folder / f"node{i + 1}")
            self._stack.callback(node.stop)
            self.nodes.append(node)
            node.start_actions()
            node.start_worker()
            if i == 0:
                node.start_editor()
            node.start_rasa()
        return self._stack.enter_context(Nginx(self.lb_port, [n.settings.rasa_port for n in self.nodes],
                                               self.folder / "nginx"))

    def __enter__(self) -> str:
        try:
            return self._start()
        except BaseException:
            self._stack.close()
            raise

    def __exit__(self, *exc: object) -> None:
        self._stack.close()
        self.nodes.clear()

    def watch(self, stop: threading.Event) -> None:
        while not stop.wait(0.5):
            for node in self.nodes:
                node.watch_once()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.apps.cluster", description=__doc__)
    parser.add_argument("--nodes", type=int, default=2, help="Rasa + action server pairs (default 2)")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    signal.signal(signal.SIGTERM, _interrupt)
    cluster = Cluster(settings, args.nodes)
    print(f"supportbot cluster: preparing (logs in {cluster.folder}/)", flush=True)
    try:
        ensure_index(settings, log_dir=cluster.folder)
        train_if_needed(settings, log_file=cluster.folder / "train.log")
        with cluster as url:
            nodes = ", ".join(f"http://{n.settings.host}:{n.settings.rasa_port}" for n in cluster.nodes)
            print(f"""
The cluster is running: {args.nodes} nodes behind nginx, PostgreSQL and Redis on loopback.
  chat (demo shop): {url}/widget/demo
  REST:             POST {url}/webhooks/rest/webhook   (conversations: POST {url}/webhooks/rest/conversations)
  agent console:    {url}/console/   (accounts: SUPPORTBOT_HANDOFF_URL={cluster.postgres_url}
                    .venv/bin/supportbot staff add NAME --role agent)
  FAQ editor:       http://{settings.host}:{settings.editor_port}/editor/
  the nodes:        {nodes}
  logs:             {cluster.folder}/node*/, nginx/
Press Ctrl-C to stop.""", flush=True)
            cluster.watch(threading.Event())
    except (StartError, TrainError, RuntimeError) as exc:
        print(f"error: {exc}; see {cluster.folder}/", file=sys.stderr)
        return 1
    except GaveUp as exc:
        print(f"error: {exc}; stopping the cluster", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
