"""Signing in and out: one place for session rotation and "who is pending 2FA"."""
from __future__ import annotations

import time

from flask import request, session
from flask_login import login_user, logout_user

from ..models import User

PENDING_KEY = "pending_2fa"
PENDING_TTL = 300  # seconds to type the second factor
KEEP_ACROSS_LOGIN = ("cart", "discount_code")  # what an anonymous visitor keeps when signing in


def client_ip() -> str | None:
    return request.remote_addr


def user_agent() -> str:
    return request.headers.get("User-Agent", "")[:300]


def rotate_session() -> None:
    """Start a fresh session (no fixation), carrying over only what the shopper needs."""
    kept = {k: session[k] for k in KEEP_ACROSS_LOGIN if k in session}
    session.clear()
    session.update(kept)


def sign_in(user: User, remember: bool = False) -> None:
    from ..cart.store import merge_visitor_cart

    rotate_session()
    login_user(user, remember=remember)
    session.permanent = True
    merge_visitor_cart(user)


def refresh_login(user: User) -> None:
    """Keep the current session signed in after session_version changed (password change)."""
    login_user(user, remember=False)


def sign_out() -> None:
    logout_user()
    session.clear()


def set_pending(user: User, remember: bool) -> None:
    rotate_session()
    session[PENDING_KEY] = {"uid": user.id, "v": user.session_version, "remember": remember, "t": int(time.time())}


def pending() -> dict | None:
    data = session.get(PENDING_KEY)
    if not data or time.time() - data.get("t", 0) > PENDING_TTL:
        session.pop(PENDING_KEY, None)
        return None
    return data


def clear_pending() -> None:
    session.pop(PENDING_KEY, None)
