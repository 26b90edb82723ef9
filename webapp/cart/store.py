"""Where the current shopper's cart lives: the session for visitors, the database once signed in."""
from __future__ import annotations

from flask import session
from flask_login import current_user

from ..extensions import db
from ..services import cart

SESSION_KEY = "cart"
CODE_KEY = "discount_code"


def load() -> list[cart.CartItem]:
    if current_user.is_authenticated:
        return cart.load_user_items(current_user.id)
    return cart.from_session(session.get(SESSION_KEY))


def save(items: list[cart.CartItem]) -> None:
    if current_user.is_authenticated:
        cart.save_user_items(current_user.id, items)
        db.session.commit()
    else:
        session[SESSION_KEY] = cart.to_session(items)


def code() -> str | None:
    return session.get(CODE_KEY)


def set_code(value: str | None) -> None:
    if value:
        session[CODE_KEY] = value
    else:
        session.pop(CODE_KEY, None)


def count() -> int:
    if current_user.is_authenticated:
        from sqlalchemy import func, select

        from ..models import CartLine

        return db.session.scalar(select(func.coalesce(func.sum(CartLine.quantity), 0))
                                 .where(CartLine.user_id == current_user.id)) or 0
    return sum(i.quantity for i in cart.from_session(session.get(SESSION_KEY)))


def merge_visitor_cart(user) -> None:
    """At sign-in: fold the visitor's session cart into the shopper's saved cart."""
    visitor = cart.from_session(session.pop(SESSION_KEY, None))
    if not visitor:
        return
    items = cart.load_user_items(user.id)
    cart.merge(items, visitor)
    cart.save_user_items(user.id, items)
    db.session.commit()


def clear(book_keys=None) -> None:
    """Empty the cart (or drop the given (book_id, mode) lines) after a paid order."""
    items = load()
    items = [] if book_keys is None else [i for i in items if i.key not in book_keys]
    save(items)
