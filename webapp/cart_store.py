"""Where the current shopper's cart lives: the session for visitors, the database once signed in.

Outside the cart blueprint because the whole site needs it: the header counts the cart on every page, signing
in merges a visitor's cart, and checkout empties it.

Two ways in: `load()` to read (show, count, check out) and `change()` to change. A signed-in shopper may
have several tabs posting at once, so `change()` locks their row before loading and saves only what
changed: each change applies once, on top of the one before. Visitor carts live in the cookie session,
where the last response wins as before."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from flask import session
from flask_login import current_user
from sqlalchemy import func, select

from .extensions import db
from .models import CartLine, User
from .services.commerce import cart

SESSION_KEY = "cart"
CODE_KEY = "discount_code"


def load() -> list[cart.CartItem]:
    """The cart for reading: no lock, and changes to the list are not saved (use `change()`)."""
    if current_user.is_authenticated:
        return cart.load_user_items(current_user.id)
    return cart.from_session(session.get(SESSION_KEY))


@contextmanager
def change() -> Iterator[list[cart.CartItem]]:
    """The cart for a change: yields the list to change in place and saves it when the block ends. An
    exception (e.g. cart.CartError) saves nothing and, once signed in, rolls back (releasing the lock)."""
    if current_user.is_authenticated:
        with user_cart(current_user.id) as items:
            yield items
    else:
        items = cart.from_session(session.get(SESSION_KEY))
        yield items
        session[SESSION_KEY] = cart.to_session(items)


@contextmanager
def user_cart(user_id: int) -> Iterator[list[cart.CartItem]]:
    """A signed-in customer's saved cart for a change, by id (the website's shopper here, the JSON API's caller
    in webapp.api.cart): their row locked first, only the difference saved, committed when the block ends;
    an exception rolls back (releasing the lock) and saves nothing."""
    before = cart.load_user_items(user_id, lock=True)  # row lock on the user, held until commit
    items = [replace(i) for i in before]
    try:
        yield items
    except BaseException:
        db.session.rollback()
        raise
    cart.save_user_items(user_id, items, before=before)
    db.session.commit()


def code() -> str | None:
    return session.get(CODE_KEY)


def set_code(value: str | None) -> None:
    if value:
        session[CODE_KEY] = value
    else:
        session.pop(CODE_KEY, None)


def count() -> int:
    """How many copies the cart holds (the header's badge): one query, no cart loaded."""
    if current_user.is_authenticated:
        return db.session.scalar(select(func.coalesce(func.sum(CartLine.quantity), 0))
                                 .where(CartLine.user_id == current_user.id)) or 0
    return sum(i.quantity for i in cart.from_session(session.get(SESSION_KEY)))


def merge_visitor_cart(user: User) -> None:
    """At sign-in: fold the visitor's session cart into the shopper's saved cart."""
    visitor = cart.from_session(session.pop(SESSION_KEY, None))
    if not visitor:
        return
    with user_cart(user.id) as items:
        cart.merge(items, visitor, user)


def clear(book_keys: set[tuple[int, str]] | None = None) -> None:
    """Empty the cart (or drop the given (book_id, mode) lines) after a paid order."""
    with change() as items:
        items[:] = [] if book_keys is None else [i for i in items if i.key not in book_keys]
