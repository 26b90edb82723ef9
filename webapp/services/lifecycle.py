"""What the rest of the shop says when an account is deleted: one list, in one place.

Orders stay (their personal fields are anonymised); money in the wallet, books still out on
rental and orders not yet shipped block deletion until they are settled. Open holds are cancelled
(a copy set aside goes to the next reader) and a paid plan simply ends.
"""
from __future__ import annotations

from ..models import User


def deletion_blockers(user: User) -> list[str]:
    from . import orders, wallet

    return orders.deletion_blockers(user) + wallet.deletion_blockers(user)


def before_delete(user: User) -> None:
    from . import holds, orders

    holds.cancel_all(user, "Account deleted.")
    orders.anonymise_orders(user)
    _end_plan(user)


def _end_plan(user: User) -> None:
    from ..extensions import db
    from ..models import Subscription

    sub = db.session.get(Subscription, user.id)
    if sub is not None:
        sub.tier, sub.next_tier, sub.current_period_end = "free", None, None
