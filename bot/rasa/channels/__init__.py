"""Rasa input channels (``credentials.yml``): REST and socket.io for customers, the staff console,
and the widget's static files."""

__all__ = ["rest", "socketio", "console", "widget"]
