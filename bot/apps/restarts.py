"""When the supervisor starts a crashed server again, and when it gives up.

The rule (``RestartPolicy``): a server that exits is started again after 1 s, then 2, 4, 8, 16 s
for each further crash in a row (at most ``cap_s``). A server that stayed up ``stable_s`` (60 s)
before it exited starts the count afresh: a crash now and then is always repaired. The supervisor
gives up only when a server exits ``max_crashes + 1`` (6) times in a row, each time within
``stable_s`` of being started: that server cannot run (a broken configuration, a port taken by
another program) and restarting it is hiding the problem. Then ``supportbot run`` stops every
server and exits with code 1, naming the server and its log.
"""

from __future__ import annotations

from dataclasses import dataclass


class GaveUp(RuntimeError):
    """A server kept exiting soon after each start; the message names it."""


@dataclass(frozen=True)
class RestartPolicy:
    first_s: float = 1.0
    cap_s: float = 30.0
    stable_s: float = 60.0
    max_crashes: int = 5  # restarts in a row; one more crash and the supervisor gives up

    def __post_init__(self) -> None:
        if not (0 < self.first_s <= self.cap_s) or self.stable_s <= 0 or self.max_crashes < 0:
            raise ValueError(f"a restart policy needs 0 < first_s <= cap_s, stable_s > 0 and "
                             f"max_crashes >= 0, not {self}")

    def delay(self, crashes: int) -> float:
        """Seconds to wait before the restart after the ``crashes``-th crash in a row (1, 2, ...)."""
        return min(self.cap_s, self.first_s * 2 ** (crashes - 1))


@dataclass
class Restarts:
    """One server's record: when it was started, its crashes in a row, when it is due again."""

    policy: RestartPolicy
    started: float
    crashes: int = 0
    due: float | None = None  # set while the server is down and waiting for its restart

    def exited(self, now: float, what: str) -> float:
        """The server was found exited at ``now``: the seconds until its restart (raises GaveUp)."""
        stayed_up = now - self.started >= self.policy.stable_s
        self.crashes = 1 if stayed_up else self.crashes + 1
        if self.crashes > self.policy.max_crashes:
            raise GaveUp(f"{what} exited {self.crashes} times in a row, each time within "
                         f"{self.policy.stable_s:.0f} s of starting; not restarting it again")
        delay = self.policy.delay(self.crashes)
        self.due = now + delay
        return delay

    def restarted(self, now: float) -> None:
        self.started, self.due = now, None
