"""Signing in and out: one place for session rotation, the server-side session record, and "who is pending
2FA". The request side of services.people.sessions: the user loader checks the session record on every request."""
from __future__ import annotations

import time

from flask import Flask, g, session
from flask_login import current_user, login_user, logout_user

from ..cart_store import merge_visitor_cart
from ..clients import client_ip, user_agent
from ..extensions import db, login_manager
from ..guest_access import claim_for
from ..models import User
from ..services.people import sessions
from ..services.platform import txn

PENDING_KEY = "pending_2fa"
PENDING_TTL = 300  # seconds to type the second factor
# What an anonymous visitor keeps when signing in: the cart, what they typed at checkout, the guest orders
# they may open.
KEEP_ACROSS_LOGIN = ("cart", "discount_code", "checkout_draft", "guest_orders")


def current_token() -> str | None:
    """The token of the session this request is signed in with (None for visitors)."""
    return getattr(current_user, "login_token", None) if current_user.is_authenticated else None


def rotate_session() -> None:
    """Start a fresh session (no fixation), carrying over only what the shopper needs."""
    kept = {k: session[k] for k in KEEP_ACROSS_LOGIN if k in session}
    session.clear()
    session.update(kept)


def _login(user: User, remember: bool, version: int | None = None) -> None:
    """A new session record for this device (at the session version read when the password was checked), and
    the cookies that name it: a browser-session cookie, or with "keep me signed in" a lasting one and the
    remember-me cookie. Commits."""
    version = user.session_version if version is None else version
    # (login_token: a per-request attribute, not a column: models/users.py)
    user.login_token = sessions.start(
        user.id, version, ip=client_ip(), user_agent=user_agent(), remember=remember)
    db.session.commit()
    login_user(user, remember=remember)
    session.permanent = remember


def sign_in(user: User, remember: bool = False, *, version: int | None = None) -> None:
    """Sign this browser in. `version`: the user's session_version as read when the password or second factor
    was checked (the view reads it before anything commits), so a sign-in in flight while every session was
    ended does not survive it."""
    rotate_session()
    _login(user, remember, version)
    merge_visitor_cart(user)
    claim_for(user)  # guest orders placed with this (verified) email join the account


def refresh_login(user: User) -> None:
    """Keep this device signed in after every session of the user was ended (a password change): a new
    session record, without remember-me (the old remember cookie named the ended one)."""
    _login(user, remember=False)


def sign_out() -> None:
    """End this device's session on the server, then forget the cookies."""
    token = current_token()
    if token:
        sessions.end(current_user.id, token=token, reason="signed_out")
        db.session.commit()
    logout_user()
    session.clear()


def set_pending(user: User, remember: bool, version: int) -> None:
    """The password was right; the second factor is next (within PENDING_TTL), for this session version."""
    rotate_session()
    session[PENDING_KEY] = {"uid": user.id, "v": version, "remember": remember, "t": int(time.time())}


def pending() -> dict | None:
    data = session.get(PENDING_KEY)
    if not data or time.time() - data.get("t", 0) > PENDING_TTL:
        session.pop(PENDING_KEY, None)
        return None
    return data


def clear_pending() -> None:
    session.pop(PENDING_KEY, None)


REGISTERING_KEY = "registering"
REGISTERING_TTL = 3600


def start_registration(code_id: int, email: str) -> None:
    """After the register form: which emailed code this browser may confirm (services.people.registration.sign_up), no
    one signed in. Only the code's id is kept here: whether it is a real code or a decoy is on the server."""
    rotate_session()
    session[REGISTERING_KEY] = {"code": code_id, "email": email, "t": int(time.time())}


def registration() -> dict | None:
    data = session.get(REGISTERING_KEY)
    if not data or time.time() - data.get("t", 0) > REGISTERING_TTL:
        session.pop(REGISTERING_KEY, None)
        return None
    return data


def registration_code_sent(code_id: int) -> None:
    session[REGISTERING_KEY] = dict(session[REGISTERING_KEY], code=code_id)


def load_user(login_id: str) -> User | None:
    """Flask-Login's loader, for the session cookie and the remember cookie alike: "<user id>:<token>" signs
    the request in only while that session record is live and the account active."""
    user_id, _, token = (login_id or "").partition(":")
    if not user_id.isdigit() or len(user_id) > 18 or not token:
        return None
    record = sessions.find(int(user_id), token)
    if record is None:
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.is_active or record.session_version != user.session_version:
        return None  # a sign-in that was still in flight when every session was ended
    user.login_token = token  # per request, not a column (see _login)
    if sessions.touch_due(record):
        g.folio_touch_session = record.id
    return user


def _uncommitted_writes() -> bool:
    """Whether the view left writes uncommitted (an error page after a rollback would not; a bug might): then
    the last-seen time waits for another request rather than commit them."""
    return txn.has_writes(db.session)


def install(app: Flask) -> None:
    login_manager.user_loader(load_user)

    @app.after_request
    def _touch_session(response):
        """Note when a session was last used (at most every few minutes): after the view, in its own commit."""
        session_id = g.pop("folio_touch_session", None)
        if session_id is not None and not _uncommitted_writes():
            try:
                sessions.touch(session_id, client_ip())
                db.session.commit()
            except Exception:  # never fail a response for a last-seen time
                db.session.rollback()
        return response
