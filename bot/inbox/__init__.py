"""The unanswered-question inbox: what customers asked that the FAQ did not answer, collected as
it happens (issue 17; the editor page and grouping build on it)."""

__all__ = ["store", "collect", "groups", "actions"]
