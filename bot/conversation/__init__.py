"""The conversation's own logic, independent of Rasa: the FAQ turn, and every hand-off trigger
with the reason it records."""

__all__ = ["faq_turn", "triggers"]
