"""The processes: the supervisor (``supportbot run``), the action server, the background worker,
and Rasa training (a child process of the supervisor)."""

__all__ = ["supervisor", "action_server", "worker", "training"]
