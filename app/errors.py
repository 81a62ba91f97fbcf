"""One family of errors: a `DomainError` carries the HTTP status, a machine-readable error code, the
field at fault and a message. Domain code raises them; nothing catches them to re-shape them; the one
place that turns them into answers is app/errorhandlers.py. No Flask here.
"""

from __future__ import annotations


class DomainError(Exception):
    """A refusal with an HTTP status, a machine-readable error code, the field at fault and a message."""

    status = 400
    error = "invalid_input"

    def __init__(self, message: str, field: str | None = None, *, status: int | None = None,
                 error: str | None = None, **extra: object) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if status is not None:
            self.status = status
        if error is not None:
            self.error = error
        self.extra = extra

    def as_dict(self) -> dict:
        """JSON-ready body."""
        body: dict = {"error": self.error}
        if self.field is not None:
            body["field"] = self.field
        return {**body, "message": self.message, **self.extra}


class InputError(DomainError):
    """Something the caller sent is wrong: `field` names it; 400 when malformed, 422 when refused."""

    status = 422

    def __init__(self, field: str, message: str, status: int = 422, error: str = "invalid_input",
                 **extra: object) -> None:
        super().__init__(message, field, status=status, error=error, **extra)


class NotFound(DomainError):
    """No such record: 404."""

    status = 404
    error = "not_found"

    def __init__(self, what: str, key: object) -> None:
        super().__init__(f"no {what} {key!r}")


class Conflict(DomainError):
    """The request clashes with the current state (a stale version, a reused key...): 409."""

    status = 409

    def __init__(self, error: str, message: str, **extra: object) -> None:
        super().__init__(message, error=error, **extra)


class Forbidden(DomainError):
    """The caller's role or scope does not allow this: 403."""

    status = 403
    error = "forbidden"


class Unauthorized(DomainError):
    """The caller is not signed in: 401."""

    status = 401
    error = "unauthorized"
