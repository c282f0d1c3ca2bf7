"""Personal data at rest: what is masked on its way into storage (``at_rest``), and how long it
is kept and how it is erased (``retention``: ``supportbot purge`` and ``supportbot forget``).

Finding personal data in text is ``bot.handoff.redact``'s job; this package decides where it applies.
"""

__all__ = ["at_rest", "retention"]
