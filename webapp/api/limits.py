"""Rate limits of the API: per client address and per token family, answered with 429 and Retry-After
(webapp.errors). The limits are settings (API_RATE_LIMIT_PER_ADDRESS, API_RATE_LIMIT_PER_TOKEN); sign-in has
its own, stricter one on the token route (webapp.api.tokens)."""
from __future__ import annotations

from flask import current_app
from flask_smorest import Blueprint

from ..clients import client_key
from ..extensions import limiter
from ..services.people import api_tokens
from ..services.people.api_tokens import TokenError
from .auth import bearer


def token_key() -> str:
    """The token family the request's access token names (signature checked, not yet the database: a forged
    token never gets here, an ended family is refused by the route itself)."""
    raw = bearer()
    try:
        return f"api:family:{api_tokens.claims_of(raw)['sid']}" if raw else ""
    except TokenError:
        return ""


def _no_token() -> bool:
    return token_key() == ""


def address_key() -> str:
    return f"api:address:{client_key()}"


_APPLIED: set[str] = set()


def apply(blp: Blueprint) -> None:
    """Both limits on every route of an API blueprint, once: the limiter and the blueprints live as long as the
    process, so a second app built in it (the tests' fault apps) would otherwise count every request twice."""
    if blp.name in _APPLIED:
        return
    _APPLIED.add(blp.name)
    limiter.limit(lambda: current_app.config["API_RATE_LIMIT_PER_ADDRESS"], key_func=address_key)(blp)
    limiter.limit(lambda: current_app.config["API_RATE_LIMIT_PER_TOKEN"], key_func=token_key,
                  exempt_when=_no_token)(blp)
