"""Errors of the services layer, each mapped to one HTTP status by :func:`http_status`.

All derive from :class:`twin.errors.TwinError`, so the CLI prints them as one line with
exit code 2 and the API answers a 4xx with the message as ``detail``.
"""

from __future__ import annotations

from twin.errors import NotFoundError, TwinError

__all__ = [
    "Conflict", "Forbidden", "InvalidInput", "NotAuthenticated", "ServiceError",
    "TooManyAttempts", "UnknownEntity", "http_status",
]


class ServiceError(TwinError):
    """Base class of the services' user-facing errors."""


class InvalidInput(ServiceError):
    """A request or file value is invalid (HTTP 422)."""


class Conflict(ServiceError):
    """The request conflicts with the stored state, e.g. an invalid transition (HTTP 409)."""


class Forbidden(ServiceError):
    """The caller's role or ownership does not allow this (HTTP 403)."""


class NotAuthenticated(ServiceError):
    """Missing, expired or bad credentials (HTTP 401)."""


class UnknownEntity(ServiceError, NotFoundError):
    """A stored record with this id does not exist (HTTP 404)."""


class TooManyAttempts(ServiceError):
    """Too many failed logins (HTTP 429); ``retry_after_s`` says when to try again."""

    def __init__(self, message: str, retry_after_s: int = 60) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


def http_status(exc: TwinError) -> int:
    """Return the HTTP status for a project error (422 for an unknown kind of error)."""
    for cls, status in ((NotAuthenticated, 401), (Forbidden, 403), (NotFoundError, 404),
                        (Conflict, 409), (TooManyAttempts, 429), (InvalidInput, 422)):
        if isinstance(exc, cls):
            return status
    return 422
