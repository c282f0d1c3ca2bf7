"""The content editor's loop (the ``/editor/`` page, served by ``supportbot editor``): changes to
FAQ entries, written back into ``data/faq`` with comments and key order kept, each publish a
version with its author and diff, rebuilt and hot-swapped by a background builder."""

__all__ = ["changes"]
