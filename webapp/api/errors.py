"""Errors the API raises on purpose, and the service refusals it turns into them.

Every error under /api answers {"error": {"code", "message", "fields"}} (webapp.errors.api_error: one shape for
these, for validation errors, 404s, 429s and 500s alike). `code` is stable, for programs; `message` is for people;
`fields` maps a field name to its messages ("" for the request as a whole)."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

from werkzeug.exceptions import HTTPException

from ..services.platform.errors import RuleError
from ..services.platform.states import IllegalMove


class ApiError(HTTPException):
    """An API error with its stable code; raised from views, answered by webapp.errors."""

    def __init__(self, status: int, code: str, message: str, fields: dict[str, list[str]] | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(description=message)
        self.code = status
        self.error_code = code
        self.fields = fields or {}
        self.data = {"headers": headers or {}}


def fail(status: int, code: str, message: str, fields: dict[str, list[str]] | None = None) -> NoReturn:
    raise ApiError(status, code, message, fields)


def not_found(what: str = "That") -> NoReturn:
    """404 for what does not exist and for what is not the caller's alike (never reveal it exists)."""
    fail(404, "not_found", f"{what} was not found.")


def _message(exc: Exception) -> tuple[str, dict[str, list[str]]]:
    if isinstance(exc, RuleError):
        fields = {name: list(msgs) for name, msgs in exc.errors.items()}
        return str(exc) or "That was refused.", fields
    return str(exc) or "That was refused.", {}


@contextmanager
def refusals(*conflicts: type[Exception], status: int = 409, code: str = "conflict",
             invalid: tuple[type[Exception], ...] = (RuleError,)) -> Iterator[None]:
    """Turn a service's refusal into an API error: the exceptions in `conflicts` (and IllegalMove: the state
    moved on) answer `status`/`code` (409 conflict by default), those in `invalid` (RuleError: bad values)
    422 validation_failed with their fields. Anything else is a bug and stays a 500."""
    moved_on: tuple[type[Exception], ...] = (IllegalMove, *conflicts)
    try:
        yield
    except invalid as exc:  # noqa: B030 (a tuple of exception classes)
        message, fields = _message(exc)
        raise ApiError(422, "validation_failed", message, fields) from exc
    except moved_on as exc:  # noqa: B030
        message, fields = _message(exc)
        raise ApiError(status, code, message, fields) from exc
