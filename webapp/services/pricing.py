"""Money: one place that prices lines and computes totals, for the cart, checkout, receipts and the API.

All amounts are integer cents. Discounts apply to goods; shipping is flat and free above a
threshold (after discounts); tax is a configurable rate on goods after discounts, rounded
half up to the cent.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import func, select

from ..extensions import db
from ..models import Book, DiscountCode, DiscountRedemption, Order, User, utcnow
from .money import money


def unit_cents(book: Book, mode: str, weeks: int = 1) -> int:
    """What one copy costs: the price to buy it, or the weekly rental price times the weeks."""
    return book.price_cents if mode == "buy" else book.rental_week_cents * max(1, weeks)


def _round_div(numerator: int, denominator: int) -> int:
    return (numerator + denominator // 2) // denominator


@dataclass
class Quote:
    subtotal_cents: int
    discount_cents: int = 0
    shipping_cents: int = 0
    tax_cents: int = 0
    discount: DiscountCode | None = None
    discount_error: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def total_cents(self) -> int:
        return self.subtotal_cents - self.discount_cents + self.shipping_cents + self.tax_cents

    @property
    def free_shipping_gap_cents(self) -> int:
        """How much more to spend for free shipping (0 when already free or nothing to ship)."""
        if not self.shipping_cents:
            return 0
        return max(0, current_app.config["FREE_SHIPPING_THRESHOLD_CENTS"] - (self.subtotal_cents - self.discount_cents))


def quote(line_totals: list[int], *, user: User | None = None, code: str | None = None) -> Quote:
    config = current_app.config
    subtotal = sum(line_totals)
    result = Quote(subtotal_cents=subtotal)
    if code:
        discount, error = check_discount(code, subtotal, user)
        result.discount, result.discount_error = discount, error
        if discount is not None:
            result.discount_cents = discount_amount(discount, subtotal)
    goods = subtotal - result.discount_cents
    if subtotal and goods < config["FREE_SHIPPING_THRESHOLD_CENTS"]:
        result.shipping_cents = config["SHIPPING_FLAT_CENTS"]
    result.tax_cents = _round_div(goods * config["TAX_RATE_BPS"], 10_000)
    return result


def discount_amount(discount: DiscountCode, subtotal: int) -> int:
    if discount.kind == "percent":
        return min(subtotal, _round_div(subtotal * discount.value, 100))
    return min(subtotal, discount.value)


def normalise_code(code: str) -> str:
    return (code or "").strip().upper()[:40]


def check_discount(code: str, subtotal: int, user: User | None) -> tuple[DiscountCode | None, str | None]:
    """The code if it applies now to this subtotal and shopper, else (None, a message for the shopper)."""
    code = normalise_code(code)
    if not code:
        return None, None
    discount = db.session.scalar(select(DiscountCode).where(DiscountCode.code == code))
    now = utcnow()
    if discount is None or not discount.active:
        return None, f"“{code}” is not a valid discount code."
    if discount.starts_at and discount.starts_at > now:
        return None, f"“{code}” is not valid yet."
    if discount.ends_at and discount.ends_at < now:
        return None, f"“{code}” has expired."
    if subtotal < discount.min_subtotal_cents:
        return None, f"“{code}” needs a subtotal of at least {money(discount.min_subtotal_cents)}."
    if discount.max_uses is not None and discount.uses_count >= discount.max_uses:
        return None, f"“{code}” has been used up."
    if discount.max_uses_per_user is not None and user is not None:
        used = db.session.scalar(
            select(func.count()).select_from(DiscountRedemption)
            .join(Order, Order.id == DiscountRedemption.order_id)
            .where(DiscountRedemption.discount_code_id == discount.id, DiscountRedemption.user_id == user.id,
                   Order.status.not_in(("expired", "cancelled")))
        )
        if used >= discount.max_uses_per_user:
            return None, f"You have already used “{code}”."
    return discount, None
