"""The emails an order sends its customer: receipt, cancelled, shipped, refunded, and a payment that
could not complete its order. Each is a row in the mail outbox (services.platform.mail), written in the caller's
transaction."""
from __future__ import annotations

from flask import current_app

from ...models import Order
from ..platform import mail
from ..platform.money import money


def receipt_text(order: Order) -> str:
    rows = []
    for line in order.lines:
        what = "Buy" if line.mode == "buy" else f"Rent {line.rental_days} days"
        rows.append(f"  {line.quantity} x {line.title} ({what})  {money(line.line_cents)}")
    totals = [f"  Subtotal  {money(order.subtotal_cents)}"]
    if order.member_discount_cents:
        totals.append(f"  Member discount  -{money(order.member_discount_cents)}")
    if order.discount_cents - order.member_discount_cents:
        totals.append(f"  Discount  -{money(order.discount_cents - order.member_discount_cents)}")
    totals += [f"  Shipping  {money(order.shipping_cents)}"]
    if order.tax_cents:
        totals.append(f"  Tax       {money(order.tax_cents)}")
    totals.append(f"  Total     {money(order.total_cents)}")
    if order.wallet_cents and order.wallet_cents < order.total_cents:
        totals.append(f"  From your wallet  {money(order.wallet_cents)}; by card  {money(order.card_cents)}")
    address = "\n  ".join(order.shipping_lines())
    return "\n".join(rows) + "\n\n" + "\n".join(totals) + f"\n\nShipping to:\n  {address}\n"


def send_receipt(order: Order) -> None:
    shop = current_app.config["SHOP_NAME"]
    mail.send(order.email, f"{shop} receipt for order {order.number}",
              f"Thank you for your order!\n\nOrder {order.number}, paid {order.paid_at:%Y-%m-%d %H:%M} UTC\n\n"
              f"{receipt_text(order)}\nWe will email you when it ships.\n\n— {shop}")


def _refund_parts(wallet_cents: int, card_cents: int, rest_to: str) -> str:
    shop = current_app.config["SHOP_NAME"]
    parts = []
    if wallet_cents:
        parts.append(f"{money(wallet_cents)} to your {shop} wallet (available now)")
    if card_cents:
        parts.append(f"{money(card_cents)} to {rest_to}")
    return " and ".join(parts)


def send_cancelled(order: Order, refunded: bool, wallet_cents: int = 0, card_cents: int = 0,
                   rest_to: str = "your card") -> None:
    shop = current_app.config["SHOP_NAME"]
    parts = _refund_parts(wallet_cents, card_cents, rest_to) if refunded else ""
    refund = f"We are refunding {parts}.\n\n" if parts else ""
    mail.send(order.email, f"Order {order.number} is cancelled",
              f"Your order {order.number} is cancelled.\n\n{refund}{receipt_text(order)}\n— {shop}")


def send_shipped(order: Order, tracking: str | None = None) -> None:
    shop = current_app.config["SHOP_NAME"]
    track = f"Tracking: {tracking}\n\n" if tracking else ""
    mail.send(order.email, f"Order {order.number} is on its way",
              f"Good news: order {order.number} has shipped.\n\n{track}{receipt_text(order)}\n— {shop}")


def send_refunded(order: Order, wallet_cents: int, card_cents: int, rest_to: str) -> None:
    shop = current_app.config["SHOP_NAME"]
    parts = _refund_parts(wallet_cents, card_cents, rest_to)
    mail.send(order.email, f"Order {order.number} is refunded",
              f"We are refunding your order {order.number}" + (f": {parts}" if parts else "") + ".\n\n"
              f"{receipt_text(order)}\n— {shop}")


def send_payment_returned(order: Order, amount_cents: int, why: str) -> None:
    """A payment arrived that could not complete the order (it came after the order had ended and the books
    were gone, or it did not match the total): the customer is told it is being refunded, and why."""
    shop = current_app.config["SHOP_NAME"]
    mail.send(order.email, f"Your payment for order {order.number} is being refunded",
              f"We received {money(amount_cents)} for order {order.number}, but {why}, so we could not complete "
              f"the order. We are refunding the full {money(amount_cents)} to your card; banks usually show it "
              f"within 5 to 10 days. Nothing else is owed.\n\n{receipt_text(order)}\n— {shop}")
