"""An order's timeline in two voices: staff read what happened to "the customer", the customer reads what
happened to them ("You cancelled this order.", "$12.00 was returned to your wallet.").

The note stored on each OrderEvent is the staff wording. WORDINGS is the one table of both: each kind has the
staff text (the format string its writer uses, through `staff_note`, or by the same words) and the customer's,
with the same {fields}. The customer's page and the JSON API read a note back through `customer_note`, which
recognises the staff text and answers the customer's; a note no kind matches (older rows, demo history) is
shown as written.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from ...models import OrderEvent


@dataclass(frozen=True)
class Wording:
    staff: str
    customer: str


WORDINGS: dict[str, Wording] = {
    # checkout and payment
    "checkout_started": Wording("Checkout started; stock reserved for {minutes} minutes.",
                                "You started checking out: we kept the books for you for {minutes} minutes."),
    "paid": Wording("Payment received.", "We received your payment. Thank you!"),
    "paid_outside": Wording("Payment received outside the checkout: {reference}", "We received your payment."),
    "paid_late": Wording("Payment received after the order had {ended}; the books were still here, so the order "
                         "is complete.",
                         "Your payment arrived after the order had {ended}; the books were still here, so your "
                         "order is complete."),
    "paid_late_refused": Wording("{amount} was paid after the order had {ended} and {problem}: the payment is being "
                                 "refunded.",
                                 "Your payment of {amount} arrived after the order had {ended} and {problem}, so we "
                                 "are refunding it."),
    "mismatch_cancelled": Wording("The payment did not match the order ({problem}): the order was cancelled and the "
                                  "payment is being refunded.",
                                  "Your payment did not match the order, so we cancelled the order and are "
                                  "refunding the payment in full."),
    "mismatch_refunded": Wording("A payment did not match the order ({problem}): it is being refunded.",
                                 "A payment did not match this order, so we are refunding it in full."),
    "expired": Wording("The payment session expired; stock released.",
                       "The payment was not completed in time, so the order was closed. Nothing was charged."),
    "not_completed": Wording("Checkout not completed; stock released.",
                             "The checkout was not completed, so the order was closed. Nothing was charged."),
    "replaced": Wording("Replaced by a newer checkout.", "You started a newer checkout, which replaced this one."),
    "payment_page_failed": Wording("The payment page could not be opened.",
                                   "The payment page could not be opened, so the order was closed. Nothing was "
                                   "charged."),
    "payment_cancelled": Wording("Payment cancelled by the customer.", "You cancelled the payment."),
    # cancelling and refunds
    "cancelled_by_customer": Wording("Cancelled by the customer.", "You cancelled this order."),
    "cancelled_by_staff": Wording("Cancelled by staff: {reason}", "We cancelled this order. The reason: {reason}"),
    "cancelled_refunded_by_staff": Wording("Cancelled and refunded by staff: {reason}",
                                           "We cancelled and refunded this order. The reason: {reason}"),
    "account_deleted": Wording("Account deleted.", "The order was closed when the account was deleted."),
    "refunded_by_staff": Wording("Refund by staff: {reason}", "We refunded this order. The reason: {reason}"),
    "refund_to_wallet": Wording("{amount} refunded to the customer's wallet.", "{amount} was returned to your wallet."),
    "refund_outside": Wording("{amount} refunded outside the shop (recorded by staff).",
                              "{amount} was refunded to you the way you paid."),
    "refund_to_card": Wording("Refund of {amount} to the card requested from the payment provider.",
                              "We are refunding {amount} to your card; banks usually show it within 5 to 10 days."),
    "refund_confirmed": Wording("Refund of {amount} confirmed by the payment provider.",
                                "The refund of {amount} to your card is confirmed."),
    "refunded_at_provider": Wording("{amount} was refunded to the card at the payment provider: the order is called "
                                    "off and its books are back on the shelf.",
                                    "{amount} was refunded to your card, so the order is called off."),
    # delivery
    "shipped": Wording("Shipped.", "Your order is on its way."),
    "shipped_tracking": Wording("Shipped. Tracking: {tracking}", "Your order is on its way. Tracking: {tracking}"),
    "delivered": Wording("Delivered.", "Your order was delivered."),
    "delivered_loans": Wording("Delivered. {loans} started.",
                               "Your order was delivered: your rental's loan period starts now."),
    "collected": Wording("Collected in store.", "You collected your order in the shop."),
    "collected_loans": Wording("Collected in store. {loans} started.",
                               "You collected your order in the shop: your rental's loan period starts now."),
}


def staff_note(kind: str, **values: object) -> str:
    """The note to store for an event of `kind` (the staff wording)."""
    return WORDINGS[kind].staff.format(**values)


def _pattern(staff: str) -> re.Pattern[str]:
    """The staff format string as a regular expression: the literal text, each {field} any text."""
    parts = re.split(r"\{(\w+)\}", staff)
    regex = "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+?)" for i, part in enumerate(parts))
    return re.compile(regex, re.DOTALL)


_PATTERNS = [(kind, _pattern(wording.staff)) for kind, wording in WORDINGS.items()]


def customer_note(note: str | None) -> str | None:
    """The customer's wording of a stored (staff) note; a note of no known kind as it is."""
    if not note:
        return note
    for kind, pattern in _PATTERNS:
        match = pattern.fullmatch(note)
        if match:
            return WORDINGS[kind].customer.format(**match.groupdict())
    return note


@dataclass(frozen=True)
class CustomerEvent:
    """A timeline entry as the customer sees it."""

    status: str
    status_words: str
    note: str | None
    created_at: datetime


def for_customer(events: list[OrderEvent]) -> list[CustomerEvent]:
    return [CustomerEvent(status=e.status, status_words=e.status_words, note=customer_note(e.note),
                          created_at=e.created_at) for e in events]
