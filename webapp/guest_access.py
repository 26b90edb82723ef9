"""What a browser may see of orders placed without an account, and claiming them for an account.

A guest has no account to own an order, so access is this browser's session: the order it just placed (checkout)
or found with its number and email (the order lookup), those orders only, until the session ends. Claiming
(services.commerce.guests.claim) runs wherever an account's email is proved: sign-in and registration (once
the code is confirmed), and a verified or changed email address."""
from __future__ import annotations

from flask import abort, flash, has_request_context, session
from flask_login import current_user

from .clients import client_ip
from .extensions import db, login_manager
from .models import Order, User
from .services.commerce import guests, orders

SESSION_KEY = "guest_orders"
_KEPT = 20  # the newest orders a browser may open; older ones need the lookup again


def allow(order: Order) -> None:
    """This browser may open this guest order (its success page, order page and receipt)."""
    numbers = [n for n in session.get(SESSION_KEY, []) if n != order.number]
    session[SESSION_KEY] = [*numbers, order.number][-_KEPT:]


def may_see(order: Order | None) -> bool:
    """A guest order this browser placed or looked up (and nobody has claimed since: then it is its owner's)."""
    return (order is not None and order.guest and order.user_id is None
            and order.number in session.get(SESSION_KEY, []))


def order_or_404(number: str) -> Order:
    """The signed-in customer's order, or a guest order this browser may see; a 404 for anyone else's (no hint
    it exists). A visitor without access is asked to sign in. For pages that show an order; acting on one
    (cancelling) is for its owner only."""
    order = orders.by_number(number)
    if current_user.is_authenticated and order is not None and order.user_id == current_user.id:
        return order
    if may_see(order):
        assert order is not None
        return order
    if not current_user.is_authenticated:
        abort(login_manager.unauthorized())  # a redirect to sign in
    abort(404)


def claim_for(user: User) -> int:
    """Claim the guest orders placed with the user's (verified) email; say so. Commits when any were claimed."""
    in_request = has_request_context()  # also called by code run outside a request (jobs, tests of the actions)
    claimed = guests.claim(user, ip=client_ip() if in_request else None)
    if claimed:
        db.session.commit()
    if claimed and in_request:
        flash(f"We added {claimed} order{'s' if claimed != 1 else ''} you placed without an account to your "
              "orders.", "success")
    return claimed
