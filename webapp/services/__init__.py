"""Domain services: plain Python over the DB session. No Flask request objects here.

The packages are layered (see the import contracts in pyproject.toml): a package imports only the ones below it,
so a lower package that has news for a higher one (stock freed copies; a book was archived; a payment page
turned out paid while it was being closed) offers a listener registry, and `connect()` below wires the higher
module's handler into it. This module is the one place that knows both sides, which is why it may import them.

Importing this package also imports every module that registers outbox handlers (commerce.payments,
commerce.test_gateway) and background-task runners (catalog.book_import, insight.runners), so any process
that uses a service knows every kind of message and task, without platform naming the modules above it.
"""
from __future__ import annotations

from .catalog import back_in_stock, book_import, editing  # noqa: F401  (book_import registers its runner)
from .circulation import holds
from .commerce import payment_events, payments, test_gateway  # noqa: F401  (test_gateway registers a handler)
from .insight import runners  # noqa: F401  (registers the report runners)
from .inventory import stock
from .platform import catalog_changes  # noqa: F401  (bumps the cache versions after every catalog change)


def connect() -> None:
    """Wire the listeners, once per process (create_app calls it; registering again changes nothing):

    - copies of a book become available -> its holds queue takes them first (holds.allocate), then whoever
      asked to be told is emailed if copies are still available (back_in_stock.notify);
    - a book is archived -> its holds queue closes and the customers are told (holds.close_for_book);
    - a payment page the outbox was closing had been paid -> the payment is applied like a webhook's
      (payment_events.apply_provider_state).
    """
    stock.on_copies_freed(holds.allocate)
    stock.on_copies_freed(back_in_stock.notify)  # after the holds queue: readers in the queue come first
    editing.on_archived(holds.close_for_book)
    payments.settle_paid_with(payment_events.apply_provider_state)
