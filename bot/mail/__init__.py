"""E-mail to customers: agents' replies to tickets. ``address`` checks addresses and header text,
``compose`` writes the message (the reply and the conversation so far, masked), ``outbox`` keeps it
until it is sent (table ``email_outbox``), ``smtp`` sends it from the background worker."""

__all__ = ["address", "compose", "outbox", "smtp"]
