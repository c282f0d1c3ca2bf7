"""Hand-off states and the transitions allowed between them."""

from __future__ import annotations

QUEUED = "queued"
ASSIGNED = "assigned"
RESOLVED = "resolved"
RETURNED_TO_BOT = "returned_to_bot"
ABANDONED = "abandoned"

ACTIVE = (QUEUED, ASSIGNED)
FINAL = (RESOLVED, RETURNED_TO_BOT, ABANDONED)

# to-state -> the states it may be entered from
ALLOWED_FROM: dict[str, tuple[str, ...]] = {
    ASSIGNED: (QUEUED,),
    RESOLVED: (QUEUED, ASSIGNED),  # a queued ticket can be resolved by replying by email
    RETURNED_TO_BOT: (QUEUED, ASSIGNED),
    ABANDONED: (QUEUED, ASSIGNED),
}


class HandoffError(Exception):
    """Base for hand-off errors; the message says what happened and what to do."""


class HandoffNotFound(HandoffError):
    pass


class InvalidTransition(HandoffError):
    def __init__(self, handoff_id: str, state: str, wanted: str, agent: str | None = None):
        self.state = state
        who = f" by {agent}" if agent and state == ASSIGNED else ""
        super().__init__(f"hand-off {handoff_id} is already {state}{who}; it cannot become {wanted}")


class AlreadyRated(HandoffError):
    def __init__(self, handoff_id: str, rating: int | None):
        self.rating = rating
        super().__init__(f"hand-off {handoff_id} is already rated ({rating}); a hand-off is rated once")
