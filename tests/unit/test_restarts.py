"""The supervisor's watcher: a server that exits is started again with back-off, the others keep
running, and it gives up only on a server that keeps exiting right after each start.
Fake processes and a fake clock; the real thing is tests/e2e/test_faults.py."""

import threading

import pytest

from bot.apps.restarts import GaveUp, RestartPolicy
from bot.apps.supervisor import Servers
from bot.settings import Settings


class FakeProc:
    pids = iter(range(1000, 10**6))

    def __init__(self, cmd):
        self.cmd, self.pid, self.returncode = cmd, next(self.pids), None

    def poll(self):
        return self.returncode

    def wait(self, timeout=None):
        return self.returncode


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


@pytest.fixture
def servers(tmp_path, monkeypatch):
    """Three fake servers started at t=100; ``spawned`` lists every start by name."""
    s = Servers(Settings(root=tmp_path), log_dir=tmp_path / "logs")
    s.clock = clock = Clock()
    spawned = []

    def popen(cmd, **kwargs):
        spawned.append(cmd[0])
        assert kwargs["stdout"].name.endswith(f"{cmd[0]}.log")
        return FakeProc(cmd)

    s.popen = popen
    monkeypatch.setattr("bot.apps.supervisor.os.killpg", lambda pid, sig: None)
    for name in ("actions", "worker", "rasa"):
        s._spawn(name, [name])
    spawned.clear()
    return s, clock, spawned


def crash(s, name, code=-9):
    s.procs[name].returncode = code


def at(s, clock, t):
    clock.now = t
    s.watch_once()


def test_a_crashed_server_comes_back_after_1_then_2_then_4_seconds_and_the_others_keep_running(
        servers, capsys):
    s, clock, spawned = servers
    others = {n: s.procs[n] for n in ("worker", "rasa")}
    crash(s, "actions")
    at(s, clock, 101)  # found exited: due at 102
    assert spawned == []
    at(s, clock, 101.9)
    assert spawned == []
    at(s, clock, 102)
    assert spawned == ["actions"]
    crash(s, "actions")
    at(s, clock, 103)
    at(s, clock, 104.9)
    assert spawned == ["actions"]
    at(s, clock, 105)  # 2 s later
    crash(s, "actions")
    at(s, clock, 106)
    at(s, clock, 109.9)
    assert spawned == ["actions"] * 2
    at(s, clock, 110)  # 4 s later
    assert spawned == ["actions"] * 3
    assert {n: s.procs[n] for n in others} == others  # never touched
    err = capsys.readouterr().err
    assert "the action server exited with code -9 after 1 s; restarting it in 1 s (crash 1 in a row" in err
    assert "restarting it in 4 s (crash 3 in a row" in err
    assert err.count("the action server restarted (pid") == 3
    log = (s.log_dir / "actions.log").read_text()
    assert "exited with code -9" in log and "restarting it in 2 s" in log and "restarted (pid" in log
    assert "exited" not in (s.log_dir / "rasa.log").read_text()


def test_the_delay_doubles_to_a_cap_and_resets_after_the_server_stayed_up(servers):
    s, clock, spawned = servers
    s.policy = s.restarts["rasa"].policy = RestartPolicy(first_s=1, cap_s=4, stable_s=60, max_crashes=10)
    delays = []
    for _ in range(5):
        crash(s, "rasa")
        found = clock.now + 0.5
        at(s, clock, found)
        delays.append(s.restarts["rasa"].due - found)
        at(s, clock, s.restarts["rasa"].due)
    assert delays == [1, 2, 4, 4, 4]
    at(s, clock, clock.now + 60)  # up for a minute: the next crash counts as the first again
    crash(s, "rasa")
    at(s, clock, clock.now + 1)
    assert s.restarts["rasa"].crashes == 1 and s.restarts["rasa"].due == clock.now + 1
    assert spawned == ["rasa"] * 5


def test_it_gives_up_on_a_server_that_exits_right_after_every_start(servers, capsys):
    s, clock, spawned = servers
    for _ in range(5):  # five restarts...
        crash(s, "worker", 3)
        at(s, clock, clock.now + 0.5)
        at(s, clock, s.restarts["worker"].due)
    assert spawned == ["worker"] * 5
    crash(s, "worker", 3)
    with pytest.raises(GaveUp, match=r"the background worker exited 6 times in a row.*last exit code 3.*"
                                     r"worker\.log"):
        at(s, clock, clock.now + 0.5)  # ...and the sixth crash in a row is the end
    assert "not restarting it again" in (s.log_dir / "worker.log").read_text()
    assert "not restarting it again" in capsys.readouterr().err


def test_stopping_is_never_mistaken_for_a_crash(servers):
    s, clock, spawned = servers
    s.stop()
    at(s, clock, 200)
    at(s, clock, 300)
    assert spawned == [] and s.procs == {}


def test_watch_loops_until_stopped(servers):
    s, clock, spawned = servers
    stop = threading.Event()
    crash(s, "rasa")
    thread = threading.Thread(target=s.watch, args=(stop, 0.01))
    thread.start()
    try:
        for _ in range(500):
            if spawned:
                break
            clock.now += 0.5
            threading.Event().wait(0.01)
    finally:
        stop.set()
        thread.join(5)
    assert spawned and set(spawned) == {"rasa"}  # found and restarted, possibly after more looks
    assert not thread.is_alive()


def test_a_policy_that_cannot_work_is_refused():
    with pytest.raises(ValueError, match="first_s <= cap_s"):
        RestartPolicy(first_s=10, cap_s=1)


def test_supportbot_run_restarts_servers_and_exits_1_only_when_it_gives_up(servers, monkeypatch, capsys):
    """Before, `supportbot run` stopped everything and exited as soon as one server stopped."""
    from bot.apps import supervisor

    s, clock, spawned = servers
    s.policy = RestartPolicy(first_s=0.01, cap_s=0.01, stable_s=60, max_crashes=2)
    s.clock = supervisor.time.monotonic
    for record in s.restarts.values():
        record.policy, record.started = s.policy, s.clock()
    monkeypatch.setattr(supervisor.signal, "signal", lambda *args: None)  # pytest keeps its SIGTERM
    monkeypatch.setattr(supervisor, "ensure_index", lambda settings, log_dir: None)
    monkeypatch.setattr(supervisor, "train_if_needed", lambda settings, log_file: None)
    monkeypatch.setattr(supervisor, "Servers", lambda settings: s)
    monkeypatch.setattr(s, "start", lambda: s)
    monkeypatch.setattr(s, "watch", lambda: Servers.watch(s, interval=0.01))
    original = s.popen

    def popen(cmd, **kwargs):  # the action server dies at once, every time
        proc = original(cmd, **kwargs)
        proc.returncode = 1 if cmd[0] == "actions" else None
        return proc

    s.popen = popen
    crash(s, "actions", 1)
    assert supervisor.run(s.settings) == 1
    err = capsys.readouterr().err
    assert err.count("the action server restarted") == 2
    assert "error: the action server exited 3 times in a row" in err and "stopping the bot" in err
    assert spawned == ["actions", "actions"] and s.procs == {}  # then everything was stopped
