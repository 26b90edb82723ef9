"""Orders placed without an account (guest checkout): who may buy as a guest, finding a guest order by its
number and email (the order lookup), and claiming a guest's orders once they make an account and prove the
address. The checkout itself is services.commerce.checkout (one path for guests and customers).

A guest's email address is proved by the payment (the receipt goes there); an account's by its one-time code.
So a guest order joins an account only when that account's email is verified and equals the order's, in one
conditional UPDATE (guest orders nobody has claimed yet), however often it runs."""
from __future__ import annotations

from sqlalchemy import select, update

from ...extensions import db
from ...models import DiscountCode, LineMode, Order, User
from ..platform import audit, dml
from . import cart

RENTALS_NEED_AN_ACCOUNT = ("Renting needs an account, so we can keep track of your loans and their return dates. "
                           "Sign in or create an account to check out: your cart stays as it is.")


def rentals_in(items: list[cart.CartItem]) -> bool:
    """A guest buys; rentals need an account (loans, due dates and fees are kept on it)."""
    return any(item.mode == LineMode.RENT for item in items)


def code_problem(discount: DiscountCode | None) -> str | None:
    """A code limited per customer cannot be counted for someone without an account."""
    if discount is not None and discount.max_uses_per_user is not None:
        return f"“{discount.code}” is for customers with an account: sign in to use it."
    return None


def normalise_number(number: str | None) -> str:
    """An order number as typed ("fo-abcd efgh-ijkl", spaces, any case) in its stored form FO-XXXX-XXXX-XXXX."""
    raw = "".join(ch for ch in (number or "").upper() if ch.isalnum())
    if raw.startswith("FO"):
        raw = raw[2:]
    if len(raw) != 12:
        return ""
    return f"FO-{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def find(number: str | None, email: str | None) -> Order | None:
    """The guest order with this number whose email is `email` (any letter case), or None: a wrong number and
    a wrong email answer the same, so the lookup tells nobody which one was wrong."""
    wanted = normalise_number(number)
    address = (email or "").strip().lower()[:254]
    if not wanted or not address:
        return None
    return db.session.scalar(select(Order).where(Order.number == wanted, Order.guest.is_(True),
                                                 Order.email == address))  # stored lower-case (checkout)


def claim(user: User, *, ip: str | None = None) -> int:
    """Give `user` every unclaimed guest order placed with their email address, once that address is verified
    (never before: anyone can type an address at checkout). One conditional UPDATE, so two sign-ins at once
    claim each order once. Returns how many orders were claimed; the caller commits."""
    if user.email_verified_at is None or not user.email or user.deleted_at is not None:
        return 0
    email = user.email.lower()  # guest orders store it lower-case (checkout): equality uses ix_orders_guest_email
    numbers = list(db.session.scalars(select(Order.number).where(
        Order.guest.is_(True), Order.user_id.is_(None), Order.email == email)))
    if not numbers:
        return 0
    claimed = dml.changed(
        update(Order).where(Order.number.in_(numbers), Order.guest.is_(True), Order.user_id.is_(None),
                            Order.email == email)
        .values(user_id=user.id).execution_options(synchronize_session=False))
    if claimed:
        audit.record("order.claimed", actor_id=user.id, object_type="user", object_id=user.id, ip=ip,
                     after={"orders": sorted(numbers), "count": claimed})
    return claimed
