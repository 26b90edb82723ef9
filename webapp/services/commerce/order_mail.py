"""The emails an order sends its customer: receipt, cancelled, shipped, refunded, and a payment that
could not complete its order. The wording lives in templates/email/order_*.txt (the lines and totals in
email/_order.txt); each is a row in the mail outbox (services.platform.mail), written in the caller's
transaction, so an email goes only if what it tells happened."""
from __future__ import annotations

from ...models import Order
from ..platform import mail


def send_receipt(order: Order) -> None:
    mail.send_template(order.email, "order_receipt", order=order)


def send_cancelled(order: Order, refunded: bool, wallet_cents: int = 0, card_cents: int = 0,
                   rest_to: str = "your card") -> None:
    """`rest_to` says where the card part goes ("your card", or "you the way you paid" for a manual payment)."""
    mail.send_template(order.email, "order_cancelled", order=order, refunded=refunded, wallet_cents=wallet_cents,
                       card_cents=card_cents, rest_to=rest_to)


def send_shipped(order: Order, tracking: str | None = None) -> None:
    mail.send_template(order.email, "order_shipped", order=order, tracking=tracking)


def send_refunded(order: Order, wallet_cents: int, card_cents: int, rest_to: str) -> None:
    mail.send_template(order.email, "order_refunded", order=order, wallet_cents=wallet_cents, card_cents=card_cents,
                       rest_to=rest_to)


def send_payment_returned(order: Order, amount_cents: int, why: str) -> None:
    """A payment arrived that could not complete the order (it came after the order had ended and the books
    were gone, or it did not match the total): the customer is told it is being refunded, and why."""
    mail.send_template(order.email, "order_payment_returned", order=order, amount_cents=amount_cents, why=why)
