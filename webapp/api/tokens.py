"""API: signing in for tokens, refreshing them, signing out (this sign-in or everywhere) and the caller's list of
signed-in devices and API tokens. The rules live in services.people (api_tokens, sessions, accounts, twofactor)."""
from __future__ import annotations

import math
import time
from typing import Any

import marshmallow as ma
from flask import current_app, g, request
from flask_smorest import Blueprint
from limits import parse

from ..clients import client_ip, client_key, user_agent
from ..extensions import db, limiter
from ..services.people import accounts, api_tokens, sessions, twofactor
from ..services.people.api_tokens import TokenError
from .auth import current_session, current_user, token_required
from .errors import ApiError, not_found
from .schemas import ApiSchema, Text

blp = Blueprint("api_auth", __name__, url_prefix="/api/v1/auth",
                description="Sign in for an access token (15 minutes) and a refresh token (used once); sign out.")


class SignInSchema(ApiSchema):
    login = Text(254, 1, required=True, metadata={"description": "Username or email address."})
    password = Text(1000, 1, required=True)
    totp = Text(40, metadata={"description": "The authenticator code (or a recovery code) when two-factor "
                                             "sign-in is on."})
    client_name = Text(60, metadata={"description": "How this client is listed among your devices.",
                                     "example": "folio-cli"})


class RefreshSchema(ApiSchema):
    refresh_token = Text(200, 1, required=True)


class TokensSchema(ma.Schema):
    access_token = ma.fields.String(required=True)
    refresh_token = ma.fields.String(required=True)
    token_type = ma.fields.String(required=True, metadata={"example": "Bearer"})
    expires_in = ma.fields.Integer(required=True, metadata={"description": "Seconds the access token lives."})
    session_id = ma.fields.Integer(required=True, metadata={"description": "This sign-in, as listed in /auth/sessions."})


class SessionSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    kind = ma.fields.String(required=True, metadata={"description": "'web' (a browser) or 'api' (a token)."})
    device = ma.fields.String(required=True)
    client_name = ma.fields.String(allow_none=True, required=True)
    ip = ma.fields.String(allow_none=True, required=True)
    created_at = ma.fields.DateTime(required=True)
    last_seen_at = ma.fields.DateTime(required=True)
    current = ma.fields.Boolean(required=True, metadata={"description": "The sign-in this request uses."})


def _tokens(t: api_tokens.Tokens) -> dict[str, Any]:
    return {"access_token": t.access_token, "refresh_token": t.refresh_token, "token_type": "Bearer",
            "expires_in": t.expires_in, "session_id": t.session_id}


def _login_value() -> str:
    body = request.get_json(silent=True)
    login = body.get("login") if isinstance(body, dict) else None
    return login.strip().lower()[:254] if isinstance(login, str) else ""


def _account_key() -> str:
    """The same bucket as the website's sign-in form (webapp.auth.routes): guesses through the API and the form
    count together, per account and address."""
    if "folio_api_login_key" not in g:
        found = accounts.find_by_login(_login_value())
        g.folio_api_login_key = f"login:{f'user:{found.id}' if found else f'name:{_login_value()}'}:{client_key()}"
    return str(g.folio_api_login_key)


# Second-factor codes tried per account, wherever they come from (as the website's 2FA step: webapp.auth.routes):
# the sign-in limits above count per address, so someone holding the password could otherwise try codes from as
# many addresses as they have. Only requests with the right password count, so strangers cannot spend them.
TOTP_TRIES = parse("5 per 5 minutes")


def _totp_try_refused(user_id: int) -> ApiError | None:
    """Count a code try for this account: None while within TOTP_TRIES, else the 429 to answer."""
    key = f"user:{user_id}"
    if not limiter.enabled:
        return None
    try:
        if limiter.limiter.hit(TOTP_TRIES, "api-totp", key):
            return None
        reset_at, _ = limiter.limiter.get_window_stats(TOTP_TRIES, "api-totp", key)
    except Exception:  # the store cannot be reached: as the other limits (RATELIMIT_SWALLOW_ERRORS), let it by
        current_app.logger.warning("API second-factor limit not checked: the rate limit store failed", exc_info=True)
        return None
    seconds = max(1, math.ceil(reset_at - time.time()))
    return ApiError(429, "rate_limited", "Too many codes tried for this account.", headers={"Retry-After": str(seconds)})


def _refused(code: str, message: str, fields: dict[str, list[str]] | None = None) -> ApiError:
    return ApiError(401, code, message, fields, headers={"WWW-Authenticate": 'Bearer realm="folio"'})


@blp.post("/token")
@limiter.limit(lambda: current_app.config["API_SIGN_IN_LIMIT"], key_func=client_key,
               scope="api-sign-in")
@limiter.limit("10 per 15 minutes", key_func=_account_key, scope="login-attempts")
@blp.arguments(SignInSchema)
@blp.response(200, TokensSchema)
@blp.alt_response(401, description="Wrong login or password, or the second factor is missing or wrong "
                                   "(code totp_required / invalid_totp).")
def sign_in(data: dict[str, Any]) -> dict[str, Any]:
    """Sign in: username or email and password (and `totp` when two-factor sign-in is on) for tokens."""
    user = accounts.authenticate(data["login"], data["password"])
    if user is None:
        found = accounts.find_by_login(data["login"])
        if found is not None:
            accounts.record_login(found, success=False, method="api", ip=client_ip(), user_agent=user_agent())
            db.session.commit()
        raise _refused("invalid_credentials", "That username/email and password do not match an active account.")
    checked_version = user.session_version
    if user.has_2fa:
        if not data.get("totp"):
            db.session.commit()  # a password rehash, if any
            raise _refused("totp_required", "This account has two-factor sign-in: send the authenticator code "
                                            "as `totp`.", {"totp": ["Enter the code from your authenticator app."]})
        refused = _totp_try_refused(user.id)
        if refused is not None:
            db.session.commit()  # a password rehash, if any
            raise refused
        method = twofactor.verify(user, data["totp"])
        if not method:
            accounts.record_login(user, success=False, method="api_totp", ip=client_ip(), user_agent=user_agent())
            db.session.commit()
            raise _refused("invalid_totp", "That code is not right (or was already used).",
                           {"totp": ["That code is not right (or was already used)."]})
    accounts.record_login(user, success=True, method="api", ip=client_ip(), user_agent=user_agent())
    tokens = api_tokens.issue(user, checked_version, ip=client_ip(), user_agent=user_agent(),
                              client_name=data.get("client_name"))
    db.session.commit()
    return _tokens(tokens)


@blp.post("/refresh")
@limiter.limit(lambda: current_app.config["API_SIGN_IN_LIMIT"], key_func=client_key,
               scope="api-refresh")
@blp.arguments(RefreshSchema)
@blp.response(200, TokensSchema)
@blp.alt_response(401, description="Unknown, revoked or already used (the family is then revoked: token_reused).")
def refresh(data: dict[str, Any]) -> dict[str, Any]:
    """A new access token and the next refresh token; the one sent is used up."""
    try:
        tokens = api_tokens.refresh(data["refresh_token"], ip=client_ip())
    except TokenError as exc:
        raise _refused(exc.code, str(exc)) from None
    db.session.commit()
    return _tokens(tokens)


@blp.post("/logout")
@token_required()
@blp.response(204)
def logout() -> None:
    """End this sign-in: its access and refresh tokens are refused from the next request."""
    api_tokens.revoke(current_user().id, current_session().id)
    db.session.commit()


@blp.post("/logout-everywhere")
@token_required()
@blp.response(204)
def logout_everywhere() -> None:
    """End every sign-in of the account: all API tokens and every browser."""
    accounts.end_sessions(current_user(), reason="signed_out_everywhere")
    db.session.commit()


@blp.get("/sessions")
@token_required()
@blp.response(200, SessionSchema(many=True))
def list_sessions() -> list[dict[str, Any]]:
    """Where the account is signed in: browsers and API tokens, most recently used first."""
    here = current_session().id
    return [{"id": s.id, "kind": s.kind, "device": sessions.device(s.user_agent), "client_name": s.client_name,
             "ip": s.ip, "created_at": s.created_at, "last_seen_at": s.last_seen_at, "current": s.id == here}
            for s in sessions.active(current_user().id)]


@blp.delete("/sessions/<int:session_id>")
@token_required()
@blp.response(204)
def end_session(session_id: int) -> None:
    """End one of your sign-ins (a browser or a token) by its id."""
    if not sessions.end(current_user().id, session_id=session_id, reason="signed_out_from_another_device"):
        not_found("That sign-in")
    db.session.commit()
