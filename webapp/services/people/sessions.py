"""Signed-in sessions, on the server. Signing in makes a row (services never trust a cookie alone); the
cookie and the remember-me cookie carry a random token whose SHA-256 names it. A session ends when the
customer signs out (that device, every other one, or everywhere), changes or resets their password, is
deactivated, or staff end it; and by itself after SESSION_IDLE_DAYS without a visit or SESSION_MAX_DAYS in
all. A copied cookie is worth nothing once its row has ended.

`last_seen_at` (and the address) is refreshed at most every TOUCH_EVERY, so browsing does not write on
every request."""
from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import ColumnElement, delete, or_, select, update

from ...extensions import db
from ...models import UserSession, utcnow
from ..platform import dml

TOUCH_EVERY = timedelta(minutes=5)
PRUNE_AFTER = timedelta(days=90)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _limits() -> tuple[timedelta, timedelta]:
    config = current_app.config
    return timedelta(days=config["SESSION_MAX_DAYS"]), timedelta(days=config["SESSION_IDLE_DAYS"])


def start(user_id: int, version: int, *, ip: str | None, user_agent: str | None, remember: bool,
          kind: str = "web", client_name: str | None = None) -> str:
    """A new session for this device; returns the token for the cookie (never stored as such). `version` is the
    user's session_version as read when the password (or second factor) was checked: if every session was
    ended since, the new one is dead on arrival (`is_current_version`)."""
    return open_row(user_id, version, ip=ip, user_agent=user_agent, remember=remember, kind=kind,
                    client_name=client_name)[0]


def open_row(user_id: int, version: int, *, ip: str | None, user_agent: str | None, remember: bool,
             kind: str = "web", client_name: str | None = None) -> tuple[str, UserSession]:
    """`start`, also returning the new row (an API token family is named by its id)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    row = UserSession(token_hash=_hash(token), user_id=user_id, created_at=now, last_seen_at=now, ip=ip,
                      user_agent=(user_agent or "")[:300] or None, remember=remember, session_version=version,
                      kind=kind, client_name=client_name)
    db.session.add(row)
    db.session.flush()
    return token, row


def carry_over(user_id: int, token: str, version: int) -> None:
    """The one session kept when the others end ("sign out all other devices") moves to the new version."""
    db.session.execute(update(UserSession).where(UserSession.user_id == user_id, UserSession.token_hash == _hash(token),
                                                 UserSession.revoked_at.is_(None))
                       .values(session_version=version).execution_options(synchronize_session=False))


def _live(now: datetime) -> tuple[ColumnElement[bool], ...]:
    """SQL: not ended, not past its lifetime, not idle too long."""
    longest, idle = _limits()
    return (UserSession.revoked_at.is_(None), UserSession.created_at > now - longest,
            UserSession.last_seen_at > now - idle)


def find(user_id: int, token: str, now: datetime | None = None) -> UserSession | None:
    """The live session this token names for this user, or None."""
    if not token or len(token) > 100:
        return None
    return db.session.scalar(select(UserSession).where(UserSession.token_hash == _hash(token),
                                                       UserSession.user_id == user_id, UserSession.kind == "web",
                                                       *_live(now or utcnow())))


def find_by_id(session_id: int, user_id: int, now: datetime | None = None) -> UserSession | None:
    """The live session with this id for this user, or None (an API token family: services.people.api_tokens)."""
    return db.session.scalar(select(UserSession).where(UserSession.id == session_id, UserSession.user_id == user_id,
                                                       *_live(now or utcnow())))


def touch_due(row: UserSession, now: datetime | None = None) -> bool:
    return row.last_seen_at < (now or utcnow()) - TOUCH_EVERY


def touch(session_id: int, ip: str | None, now: datetime | None = None) -> None:
    db.session.execute(update(UserSession).where(UserSession.id == session_id, UserSession.revoked_at.is_(None))
                       .values(last_seen_at=now or utcnow(), ip=ip).execution_options(synchronize_session=False))


def end(user_id: int, *, token: str | None = None, session_id: int | None = None, reason: str) -> bool:
    """End one session (by the cookie's token, or by its id from the device list). True if it was live."""
    where = [UserSession.user_id == user_id, UserSession.revoked_at.is_(None)]
    if token is not None:
        where.append(UserSession.token_hash == _hash(token))
    elif session_id is not None:
        where.append(UserSession.id == session_id)
    else:
        raise ValueError("name the session to end")
    return bool(dml.changed(update(UserSession).where(*where).values(revoked_at=utcnow(), revoked_reason=reason)
                            .execution_options(synchronize_session=False)))


def end_all(user_id: int, *, reason: str, keep_token: str | None = None, kind: str | None = None) -> int:
    """End every session of the user (but the one `keep_token` names, if given; only those of `kind` if given:
    "api" ends the API tokens and leaves the browsers signed in). Returns how many ended."""
    stmt = update(UserSession).where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
    if kind is not None:
        stmt = stmt.where(UserSession.kind == kind)
    if keep_token:
        stmt = stmt.where(UserSession.token_hash != _hash(keep_token))
    return dml.changed(stmt.values(revoked_at=utcnow(), revoked_reason=reason)
                       .execution_options(synchronize_session=False))


def active(user_id: int, now: datetime | None = None) -> list[UserSession]:
    """The user's live sessions, most recently used first (the device list)."""
    return list(db.session.scalars(select(UserSession).where(UserSession.user_id == user_id, *_live(now or utcnow()))
                                   .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc()).limit(100)))


def is_current(row: UserSession, token: str | None) -> bool:
    return bool(token) and token is not None and row.token_hash == _hash(token)


_BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("FxiOS/", "Firefox"),
             ("CriOS/", "Chrome"), ("Chrome/", "Chrome"), ("Chromium/", "Chromium"), ("Safari/", "Safari"),
             ("folio-cli/", "folio-cli"), ("curl/", "curl"), ("python-requests", "a script"))
_SYSTEMS = (("iPhone", "iPhone"), ("iPad", "iPad"), ("Android", "Android"), ("Windows", "Windows"),
            ("Mac OS X", "macOS"), ("CrOS", "ChromeOS"), ("Linux", "Linux"))


def device(user_agent: str | None) -> str:
    """"Firefox on Windows": enough for a person to recognise a device in the list."""
    text = user_agent or ""
    browser = next((name for marker, name in _BROWSERS if marker in text), None)
    system = next((name for marker, name in _SYSTEMS if re.search(re.escape(marker), text)), None)
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or "Unknown device"


def prune(now: datetime | None = None) -> int:
    """Forget sessions that ended (or lapsed) more than PRUNE_AFTER ago (a daily job)."""
    now = now or utcnow()
    longest, idle = _limits()
    cutoff = now - PRUNE_AFTER
    gone = dml.changed(delete(UserSession).where(or_(
        UserSession.revoked_at < cutoff, UserSession.last_seen_at < cutoff - idle,
        UserSession.created_at < cutoff - longest)).execution_options(synchronize_session=False))
    db.session.commit()
    return gone
