"""Tokens of the JSON API: a short-lived access token (a JWT, ACCESS_TTL) and a rotating refresh token.

A sign-in through the API starts a *token family*: a row of user_sessions of kind "api", so it is listed with the
browsers on the security page and ends the same ways (sign out that device, every device, a password change,
staff ending sessions, deactivation). Every access token names its family, and every request checks the family
is still live in the database: a revoked token is refused on the next request, not when it expires.

Refresh tokens are random, stored only as SHA-256, and used once: `refresh` marks the one presented and hands
out the next. A used refresh token presented again means two parties hold it (a stolen copy, or a client that
kept an old one): the whole family ends at once (OAuth 2.0 Security BCP, refresh token rotation).

No Flask request in here: the API's blueprints pass the address and the client's description."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from flask import current_app
from sqlalchemy import select, update

from ...extensions import db
from ...models import ApiRefreshToken, User, UserSession, utcnow
from . import sessions

ACCESS_TTL = timedelta(minutes=15)
ISSUER = "folio"
AUDIENCE = "folio-api"
ALGORITHM = "HS256"
REFRESH_PREFIX = "frt_"


class TokenError(Exception):
    """A token the API refuses. `code` is the stable error code the API answers with."""

    def __init__(self, code: str, message: str):
        self.code = code
        super().__init__(message)


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str
    expires_in: int  # seconds the access token lives
    session_id: int  # the family: what the device list and "revoke" name


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _signing_key() -> bytes:
    """A key of its own for access tokens, derived from SECRET_KEY (changing SECRET_KEY ends every access token;
    refresh tokens, kept by hash in the database, still work and give new ones)."""
    return hmac.new(current_app.config["SECRET_KEY"].encode(), b"folio-api-access-token", hashlib.sha256).digest()


def _access_token(user_id: int, session_id: int, now: datetime) -> str:
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": str(user_id), "sid": session_id, "typ": "access",
              "iat": int(now.timestamp()), "exp": int((now + ACCESS_TTL).timestamp()),
              "jti": secrets.token_urlsafe(12)}
    return jwt.encode(claims, _signing_key(), algorithm=ALGORITHM)


def _new_refresh(session_id: int, now: datetime) -> str:
    token = REFRESH_PREFIX + secrets.token_urlsafe(32)
    db.session.add(ApiRefreshToken(token_hash=_hash(token), session_id=session_id, created_at=now))
    db.session.flush()
    return token


def issue(user: User, version: int, *, ip: str | None, user_agent: str | None, client_name: str | None) -> Tokens:
    """A new token family for a user whose password (and second factor) were just checked. `version` is the
    user's session_version read at that check (as for a browser sign-in: services.people.sessions.start).
    The caller commits."""
    now = utcnow()
    # The row's own token is never handed out: an API family is named by its id, in the access tokens.
    _, row = sessions.open_row(user.id, version, ip=ip, user_agent=user_agent, remember=False, kind="api",
                               client_name=(client_name or "").strip()[:60] or None)
    return Tokens(_access_token(user.id, row.id, now), _new_refresh(row.id, now), int(ACCESS_TTL.total_seconds()),
                  row.id)


def _live_family(session_id: int, user_id: int) -> tuple[UserSession, User] | None:
    row = sessions.find_by_id(session_id, user_id)
    if row is None or row.kind != "api":
        return None
    user = db.session.get(User, user_id)
    if user is None or not user.is_active or row.session_version != user.session_version:
        return None
    return row, user


def refresh(raw: str, *, ip: str | None) -> Tokens:
    """The next access and refresh tokens for a refresh token, which is used up. A used one presented again
    ends its family (committed here, so the refusal sticks whatever the caller does next) and is refused."""
    raw = (raw or "").strip()
    if not raw.startswith(REFRESH_PREFIX) or len(raw) > 100:
        raise TokenError("invalid_token", "That refresh token is not valid.")
    now = utcnow()
    won = db.session.execute(update(ApiRefreshToken).where(ApiRefreshToken.token_hash == _hash(raw),
                                                           ApiRefreshToken.used_at.is_(None))
                             .values(used_at=now).returning(ApiRefreshToken.session_id)
                             .execution_options(synchronize_session=False)).scalar_one_or_none()
    if won is None:
        family = db.session.scalar(select(ApiRefreshToken.session_id).where(ApiRefreshToken.token_hash == _hash(raw)))
        if family is None:
            raise TokenError("invalid_token", "That refresh token is not valid.")
        owner = db.session.scalar(select(UserSession.user_id).where(UserSession.id == family))
        if owner is not None:
            sessions.end(owner, session_id=family, reason="refresh_token_reused")
        db.session.commit()
        raise TokenError("token_reused", "That refresh token was already used, so every token it belongs to "
                                         "has been revoked. Please sign in again.")
    row = db.session.get(UserSession, won)
    found = _live_family(won, row.user_id) if row is not None else None
    if found is None:
        db.session.rollback()
        raise TokenError("token_revoked", "This sign-in has ended. Please sign in again.")
    family_row, user = found
    sessions.touch(family_row.id, ip, now)
    return Tokens(_access_token(user.id, family_row.id, now), _new_refresh(family_row.id, now),
                  int(ACCESS_TTL.total_seconds()), family_row.id)


def claims_of(raw: str) -> dict[str, Any]:
    """The verified claims of an access token; TokenError if it is not one of ours, or expired."""
    try:
        claims = jwt.decode(raw, _signing_key(), algorithms=[ALGORITHM], audience=AUDIENCE, issuer=ISSUER,
                            options={"require": ["exp", "iat", "sub", "sid", "typ"]})
    except jwt.ExpiredSignatureError:
        raise TokenError("token_expired", "The access token has expired; use the refresh token.") from None
    except jwt.PyJWTError:
        raise TokenError("invalid_token", "The access token is not valid.") from None
    if claims.get("typ") != "access" or not str(claims.get("sub", "")).isdigit() \
            or not isinstance(claims.get("sid"), int):
        raise TokenError("invalid_token", "The access token is not valid.")
    return claims


def authenticate(raw: str) -> tuple[User, UserSession]:
    """The user and token family an access token names, checked against the database on every request: a
    family ended a moment ago (sign-out, reuse, staff, a password change, deactivation) is refused now."""
    claims = claims_of(raw)
    found = _live_family(claims["sid"], int(claims["sub"]))
    if found is None:
        raise TokenError("token_revoked", "This sign-in has ended. Please sign in again.")
    row, user = found
    return user, row


def revoke(user_id: int, session_id: int, reason: str = "signed_out") -> bool:
    """End one token family (the API's logout). The caller commits."""
    return sessions.end(user_id, session_id=session_id, reason=reason)


def revoke_all(user_id: int, reason: str) -> int:
    """End every API token family of the user; browsers stay signed in. The caller commits."""
    return sessions.end_all(user_id, reason=reason, kind="api")
