"""Stopping ``make cluster`` (and the tests' clusters): every node's servers are sent SIGTERM before
any is waited for, so the stop takes the slowest server's time (a Rasa server can take seconds to
close its connections), not the sum over the nodes. Fake processes; the real cluster is tests/cluster/."""

from bot.apps.cluster import Cluster
from bot.apps.supervisor import Servers
from bot.settings import Settings


class FakeProc:
    def __init__(self, pid, events):
        self.pid, self.events, self.returncode = pid, events, None

    def poll(self):
        return self.returncode

    def wait(self, timeout=None):
        self.events.append(("wait", self.pid))
        self.returncode = 0
        return 0


def test_a_cluster_sends_sigterm_to_every_server_before_waiting_for_any(tmp_path, monkeypatch):
    events = []
    monkeypatch.setattr("bot.apps.supervisor.os.killpg", lambda pid, sig: events.append(("term", pid)))
    settings = Settings(root=tmp_path)
    cluster = Cluster(settings, 2, folder=tmp_path)
    pids = iter(range(100, 200))
    for group, names in ((cluster.actions, ["actions"]), (cluster.nodes, ["worker", "rasa"])):
        for _ in range(2):
            s = Servers(settings, log_dir=tmp_path)
            s.popen = lambda cmd, **kwargs: FakeProc(next(pids), events)
            for name in names:
                s._spawn(name, [name])
            cluster._stack.callback(s.stop)  # as Cluster._start registers them
            group.append(s)
    cluster.__exit__(None, None, None)
    kinds = [kind for kind, _ in events]
    assert kinds == ["term"] * 6 + ["wait"] * 6, events
    assert {pid for _, pid in events} == set(range(100, 106))  # each once: no second SIGTERM
