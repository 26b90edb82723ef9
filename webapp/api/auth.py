"""Who is calling the API: the bearer access token on each request (services.people.api_tokens checks its token
family in the database every time), and the role and ownership rules of the API's routes.

Cookies never sign an API request in: the API takes no CSRF token, so a browser's session must not count here."""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, Protocol, TypeVar, cast

from flask import g, request
from flask_smorest import Blueprint

from ..extensions import db
from ..models import User, UserSession
from ..services.people import api_tokens, sessions
from ..services.people.api_tokens import TokenError
from .errors import ApiError, not_found

F = TypeVar("F", bound=Callable[..., Any])
SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}]


def bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def _unauthorized(code: str, message: str) -> ApiError:
    error = "invalid_token" if code != "unauthorized" else "invalid_request"
    return ApiError(401, code, message, headers={"WWW-Authenticate": f'Bearer realm="folio", error="{error}"'})


def _load() -> User | None:
    """The caller for this request (once per request), or None without a token; ApiError for a bad token."""
    if "api_user" in g:
        return cast(User | None, g.api_user)
    raw = bearer()
    g.api_user, g.api_session = None, None
    if raw is None:
        if request.headers.get("Authorization"):
            raise _unauthorized("invalid_token", "Send the access token as 'Authorization: Bearer <token>'.")
        return None
    try:
        user, row = api_tokens.authenticate(raw)
    except TokenError as exc:
        raise _unauthorized(exc.code, str(exc)) from None
    g.api_user, g.api_session = user, row
    if sessions.touch_due(row):
        g.folio_touch_session = row.id  # webapp.auth.session notes it after the response, at most every few minutes
    return user


def current_user() -> User:
    """The signed-in caller (only inside a route under `token_required`)."""
    return cast(User, g.api_user)


class _Owned(Protocol):
    user_id: Any


Row = TypeVar("Row", bound=_Owned)


def own(model: type[Row], row_id: int, what: str) -> Row:
    """The caller's row of `model` by id; 404 for anyone else's, exactly as for one that does not exist (never
    reveal it exists). `what` names it in the message ("That hold")."""
    row = db.session.get(model, row_id)
    if row is None or row.user_id != current_user().id:
        not_found(what)
    return row


def current_session() -> UserSession:
    return cast(UserSession, g.api_session)


def optional_user() -> User | None:
    """The caller if the request carries a valid token (public routes that show more to someone signed in)."""
    return _load()


def token_required(role: str | None = None) -> Callable[[F], F]:
    """A route for signed-in callers (`role`: "admin" or "author" as well). Documents the bearer scheme."""
    def decorator(func: F) -> F:
        @wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = _load()
            if user is None:
                raise _unauthorized("unauthorized", "Sign in first: send 'Authorization: Bearer <access token>'.")
            if role == "admin" and not user.is_admin:
                raise ApiError(403, "forbidden", "Only staff may do that.")
            if role == "admin" and not user.has_2fa:  # as the admin panel: staff work needs the second factor
                raise ApiError(403, "two_factor_required", "Turn on two-factor sign-in (on the website, under "
                                                            "Account > Security) before using the staff API.")
            if role == "author" and user.role not in ("author", "admin"):
                raise ApiError(403, "forbidden", "Only authors have this.")
            return func(*args, **kwargs)
        # Names of flask-smorest's responses (Error body), which the document then lists under components.
        responses = {"401": "UNAUTHORIZED"}
        if role:
            responses["403"] = "FORBIDDEN"
        return cast(F, Blueprint.doc(security=SECURITY, responses=responses)(wrapper))
    return decorator
