"""Hand-offs to people: the packet (transcript, summary, reason), its states and store, the service
with the rules of who may do what, opening hours' use, what the customer is told, and redaction."""

__all__ = ["packet", "service", "states", "store", "messages", "redact"]
