"""Money: one place that prices lines and computes totals, for the cart, checkout, receipts and the API.

All amounts are integer cents. Discounts apply to goods: first the member discount on purchases
(the plan's percentage plus the frequent-reader percentage, together capped at MEMBER_DISCOUNT_CAP_PCT;
rentals are already member-priced by their length limits), then a discount code on what is left.
Shipping is flat and free above a threshold (after discounts); an order of rentals only pays the smaller
RENTAL_SHIPPING_CENTS instead (a loan is cheap: full postage would cost more than the book's rent), and an order
collected in store pays none. Tax is a configurable rate on goods after discounts, rounded half up to the cent.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select

from ...extensions import db
from ...models import PAID_STATUSES, Book, DiscountCode, DiscountRedemption, LineMode, Order, OrderStatus, User, utcnow
from ...models.orders import DeliveryMethod
from ..circulation import subscriptions
from ..platform.money import money


def unit_cents(book: Book, mode: str, days: int = 7) -> int:
    """What one copy costs: the price to buy it, or the weekly rental price pro rata for the days."""
    if mode == LineMode.BUY:
        return book.price_cents
    return _round_div(book.rental_week_cents * max(1, days), 7)


def rental_day_cents(book: Book) -> int:
    """A day's rent ("rent from $0.29 a day"): loans are chosen in days, so the price is worded per day, and it
    is what a one-day loan costs (unit_cents)."""
    return unit_cents(book, LineMode.RENT, 1)


def _round_div(numerator: int, denominator: int) -> int:
    return (numerator + denominator // 2) // denominator


@dataclass
class Quote:
    subtotal_cents: int
    discount_cents: int = 0  # member + code
    member_discount_cents: int = 0
    member_discount_pct: int = 0
    member_discount_label: str = ""
    shipping_cents: int = 0
    tax_cents: int = 0
    discount: DiscountCode | None = None
    discount_error: str | None = None
    notes: list[str] = field(default_factory=list)
    delivery_method: str = DeliveryMethod.POST
    rentals_only: bool = False  # shipping is then RENTAL_SHIPPING_CENTS

    @property
    def total_cents(self) -> int:
        return self.subtotal_cents - self.discount_cents + self.shipping_cents + self.tax_cents

    @property
    def free_shipping_gap_cents(self) -> int:
        """How much more to spend for free shipping (0 when already free, nothing to ship, or rentals only)."""
        if not self.shipping_cents or self.rentals_only:
            return 0
        threshold: int = current_app.config["FREE_SHIPPING_THRESHOLD_CENTS"]
        return max(0, threshold - (self.subtotal_cents - self.discount_cents))


def quote(line_totals: list[int], *, user: User | None = None, code: str | None = None,
          purchase_cents: int | None = None, delivery_method: str = DeliveryMethod.POST) -> Quote:
    """Totals for lines costing `line_totals`; `purchase_cents` is the part bought (not rented), all of
    it when not given (so 0 means rentals only)."""
    config = current_app.config
    subtotal = sum(line_totals)
    result = Quote(subtotal_cents=subtotal, delivery_method=DeliveryMethod(delivery_method),
                   rentals_only=bool(subtotal) and purchase_cents == 0)
    pct, label = member_discount_pct(user)
    if pct:
        bought = subtotal if purchase_cents is None else purchase_cents
        result.member_discount_pct, result.member_discount_label = pct, label
        result.member_discount_cents = min(subtotal, _round_div(bought * pct, 100))
    result.discount_cents = result.member_discount_cents
    if code:
        rest = subtotal - result.member_discount_cents
        discount, error = check_discount(code, rest, user)
        result.discount, result.discount_error = discount, error
        if discount is not None:
            result.discount_cents += discount_amount(discount, rest)
    goods = subtotal - result.discount_cents
    result.shipping_cents = shipping_cents(subtotal, goods, rentals_only=result.rentals_only,
                                           delivery_method=result.delivery_method)
    result.tax_cents = _round_div(goods * config["TAX_RATE_BPS"], 10_000)
    return result


def shipping_cents(subtotal: int, goods: int, *, rentals_only: bool, delivery_method: str) -> int:
    """Nothing to ship or collected in store: free. Rentals only: RENTAL_SHIPPING_CENTS. Otherwise flat, and free
    from FREE_SHIPPING_THRESHOLD_CENTS of goods (after discounts)."""
    config = current_app.config
    if not subtotal or delivery_method == DeliveryMethod.COLLECT:
        return 0
    if rentals_only:
        return int(config["RENTAL_SHIPPING_CENTS"])
    return int(config["SHIPPING_FLAT_CENTS"]) if goods < config["FREE_SHIPPING_THRESHOLD_CENTS"] else 0


def member_discount_pct(user: User | None) -> tuple[int, str]:
    """(percent off purchases, what it is made of) for this customer: plan + frequent reader, capped."""
    if user is None or not getattr(user, "is_authenticated", False):
        return 0, ""
    config = current_app.config
    plan = subscriptions.tier_of(user)
    parts, pct = [], 0
    if plan.discount_pct:
        parts.append(f"{plan.label} {plan.discount_pct}%")
        pct += plan.discount_pct
    if config["FREQUENT_READER_PCT"] and is_frequent_reader(user.id):
        parts.append(f"frequent reader {config['FREQUENT_READER_PCT']}%")
        pct += config["FREQUENT_READER_PCT"]
    capped = min(pct, config["MEMBER_DISCOUNT_CAP_PCT"])
    label = " + ".join(parts) + (f", capped at {capped}%" if capped < pct else "")
    return capped, label


def is_frequent_reader(user_id: int) -> bool:
    """FREQUENT_READER_ORDERS paid orders within the last FREQUENT_READER_DAYS days."""
    config = current_app.config
    since = utcnow() - timedelta(days=config["FREQUENT_READER_DAYS"])
    paid = db.session.scalar(select(func.count()).select_from(Order).where(
        Order.user_id == user_id, Order.status.in_(PAID_STATUSES), Order.paid_at >= since)) or 0
    return paid >= int(config["FREQUENT_READER_ORDERS"])


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
                   Order.status.not_in((OrderStatus.EXPIRED, OrderStatus.CANCELLED)))
        ) or 0
        if used >= discount.max_uses_per_user:
            return None, f"You have already used “{code}”."
    return discount, None
