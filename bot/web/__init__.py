"""Staff pages' APIs (the agent console) and the static files of every page and of the chat widget."""

__all__ = ["console", "assets"]
