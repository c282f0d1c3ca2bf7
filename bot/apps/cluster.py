"""``make cluster``: the multi-node topology on loopback: PostgreSQL (tracker store, hand-offs, editor
versions), Redis (conversation locks, socket.io rooms across nodes, the login limiter), nginx in
front of N nodes each with a Rasa server and a background worker (the editor runs once, on the first
node), and N action servers behind nginx too: every Rasa node's action endpoint is nginx's action
port, so a Rasa node never depends on one action server. Everything it starts lives under
``.run/cluster/`` and stops with it.
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
from bot.apps.supervisor import Servers, StartError, ensure_index, stop_all
from bot.apps.training import TrainError, train_if_needed
from bot.cluster.local import Nginx, Postgres, RedisServer
from bot.kb.shared import publish_serving
from bot.settings import Settings


def node_settings(base: Settings, i: int, postgres_url: str, redis_url: str, rasa_port: int,
                  action_port: int) -> Settings:
    """Node ``i``'s settings: the shared stores, its own ports (Rasa, action server) counted from those."""
    return dataclasses.replace(base, tracker_url=postgres_url, handoff_url=postgres_url, redis_url=redis_url,
                               rasa_port=rasa_port + i, action_port=action_port + i)


class Cluster:
    """``with Cluster(settings, nodes=2) as url:`` starts the whole topology; ``url`` is nginx's.
    ``nodes`` are the Rasa nodes' servers, ``actions`` the action servers' (one each)."""

    def __init__(self, settings: Settings, nodes: int = 2, *, lb_port: int | None = None,
                 rasa_port: int | None = None, action_port: int | None = None,
                 action_lb_port: int | None = None, folder: Path | None = None):
        if nodes < 1:
            raise ValueError("a cluster needs at least one node")
        self.settings, self.count = settings, nodes
        self.lb_port = lb_port or settings.rasa_port
        self.action_lb_port = action_lb_port or settings.action_port  # where the Rasa nodes call actions
        self.rasa_port = rasa_port or settings.rasa_port + 100  # nodes' ports: 5105, 5106, ...
        self.action_port = action_port or settings.action_port + 100  # 5155, 5156, ...
        self.postgres_url = self.redis_url = ""
        self.postgres: Postgres | None = None  # the shared servers, while running: the fault tests
        self.redis: RedisServer | None = None  # stop() and start() them
        self.folder = folder or settings.root / ".run" / "cluster"
        self.nodes: list[Servers] = []
        self.actions: list[Servers] = []
        self._stack = contextlib.ExitStack()

    def _start(self) -> str:
        self.postgres, self.redis = Postgres(), RedisServer()
        self.postgres_url = postgres_url = self._stack.enter_context(self.postgres)
        self.redis_url = redis_url = self._stack.enter_context(self.redis)
        # the start-up build ran before PostgreSQL did: publish it, so every action server serves it
        # (built once here; each node follows the pointer)
        publish_serving(node_settings(self.settings, 0, postgres_url, redis_url, self.rasa_port,
                                      self.action_port))
        for i in range(self.count):
            actions = Servers(node_settings(self.settings, i, postgres_url, redis_url, self.rasa_port,
                                            self.action_port), log_dir=self.folder / f"actions{i + 1}")
            self._stack.callback(actions.stop)
            self.actions.append(actions)
            actions.start_actions()
        url = self._stack.enter_context(Nginx(
            self.lb_port, [self.rasa_port + i for i in range(self.count)], self.folder / "nginx",
            actions=(self.action_lb_port, [a.settings.action_port for a in self.actions])))
        for i in range(self.count):
            settings = dataclasses.replace(node_settings(self.settings, i, postgres_url, redis_url,
                                                         self.rasa_port, self.action_port),
                                           action_port=self.action_lb_port)
            node = Servers(settings, log_dir=self.folder / f"node{i + 1}")
            self._stack.callback(node.stop)
            self.nodes.append(node)
            node.start_worker()
            if i == 0:
                node.start_editor()
            node.start_rasa()
        return url

    def __enter__(self) -> str:
        try:
            return self._start()
        except BaseException:
            self._stack.close()
            raise

    def __exit__(self, *exc: object) -> None:
        stop_all([*self.nodes, *self.actions])  # side by side; then nginx, Redis and PostgreSQL
        self._stack.close()
        self.nodes.clear()
        self.actions.clear()

    def watch(self, stop: threading.Event) -> None:
        while not stop.wait(0.5):
            for node in [*self.actions, *self.nodes]:
                node.watch_once()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.apps.cluster", description=__doc__)
    parser.add_argument("--nodes", type=int, default=2,
                        help="Rasa servers, and as many action servers (default 2)")
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
            actions = ", ".join(a.action_url for a in cluster.actions)
            print(f"""
The cluster is running: {args.nodes} Rasa nodes and {args.nodes} action servers behind nginx, PostgreSQL
and Redis on loopback.
  chat (demo shop): {url}/widget/demo
  REST:             POST {url}/webhooks/rest/webhook   (conversations: POST {url}/webhooks/rest/conversations)
  agent console:    {url}/console/   (accounts: SUPPORTBOT_HANDOFF_URL={cluster.postgres_url}
                    .venv/bin/supportbot staff add NAME --role agent)
  FAQ editor:       http://{settings.host}:{settings.editor_port}/editor/
  the nodes:        {nodes}
  action servers:   {actions}, behind http://{settings.host}:{cluster.action_lb_port}
  logs:             {cluster.folder}/node*/, actions*/, nginx/
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
