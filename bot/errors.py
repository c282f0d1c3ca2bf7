"""The one kind of error that input a person or client can fix raises: ``field`` names what to fix,
the message says how, ``status`` is the HTTP status a route answers it with."""

from __future__ import annotations


class FieldError(ValueError):
    status = 400  # a subclass sets its usual status; a raise may name another

    def __init__(self, field: str, message: str, status: int | None = None):
        super().__init__(message)
        self.field = field
        if status is not None:
            self.status = status
