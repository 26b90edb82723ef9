"""What the rest of the shop says when an account is deleted: one list, in one place.

Orders stay (their personal fields are anonymised); money in the wallet, books still out on
rental and orders not yet shipped block deletion until they are settled.
"""
from __future__ import annotations

from ..models import User


def deletion_blockers(user: User) -> list[str]:
    from . import orders, wallet

    return orders.deletion_blockers(user) + wallet.deletion_blockers(user)


def before_delete(user: User) -> None:
    from . import orders

    orders.anonymise_orders(user)
