"""Domain services: plain Python over the DB session. No Flask request objects here.

The packages are layered (see the import contracts in pyproject.toml): a package imports only the ones below it,
so a lower package that has news for a higher one (stock freed copies; a book was archived; a payment page
turned out paid while it was being closed) offers a listener registry, and `connect()` below wires the higher
module's handler into it. This module is the one place that knows both sides, which is why it may import them.
"""
from __future__ import annotations

from .catalog import editing
from .circulation import holds
from .commerce import payment_events, payments
from .inventory import stock


def connect() -> None:
    """Wire the listeners, once per process (create_app calls it; registering again changes nothing):

    - copies of a book become available -> its holds queue takes them first (holds.allocate);
    - a book is archived -> its holds queue closes and the customers are told (holds.close_for_book);
    - a payment page the outbox was closing had been paid -> the payment is applied like a webhook's
      (payment_events.apply_provider_state).
    """
    stock.on_copies_freed(holds.allocate)
    editing.on_archived(holds.close_for_book)
    payments.settle_paid_with(payment_events.apply_provider_state)
