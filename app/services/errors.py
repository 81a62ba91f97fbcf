"""Errors that services raise for callers to turn into clear answers (views map them to HTTP)."""

from __future__ import annotations


class InputError(ValueError):
    """Something the caller sent is wrong: `field` names it, `status` is 400 (malformed) or 422 (refused)."""

    def __init__(self, field: str, message: str, status: int = 422, error: str = "invalid_input", **extra):
        super().__init__(message)
        self.field = field
        self.message = message
        self.status = status
        self.error = error
        self.extra = extra

    def as_dict(self) -> dict:
        """JSON-ready body."""
        return {"error": self.error, "field": self.field, "message": self.message, **self.extra}


class Conflict(RuntimeError):
    """The request clashes with the current state (a stale version, a reused key...): HTTP 409."""

    def __init__(self, error: str, message: str, **extra):
        super().__init__(message)
        self.error = error
        self.message = message
        self.extra = extra

    def as_dict(self) -> dict:
        """JSON-ready body."""
        return {"error": self.error, "message": self.message, **self.extra}


class NotFound(LookupError):
    """No such record: HTTP 404."""

    def __init__(self, what: str, key) -> None:
        super().__init__(f"no {what} {key!r}")
        self.message = f"no {what} {key!r}"

    def as_dict(self) -> dict:
        """JSON-ready body."""
        return {"error": "not_found", "message": self.message}
