"""Checkout: from a cart to a reserved order and its payment page, exactly once whatever the clicks.

1. Reserve (one transaction, committed): serialised per customer by a row lock on the user, so two tabs, a
   double click or five parallel submits find each other. The form's one-time token finds the order a
   resubmit already made; a pending order for the same cart (lines, code, address, wallet choice) is
   resumed, any other pending order is superseded (cancelled, its page closed through the outbox), so a
   customer has one pending checkout at a time. Then the order is created, its stock reserved (all lines
   or none), its code use counted (total and per customer, under the same lock) and the wallet part taken.
2. Open the payment page at the provider, outside any transaction (no lock across the network call). The
   provider's idempotency key is the order number, so a resumed checkout gets the same page.
3. Attach the page to the order (one conditional UPDATE) and commit.

A crash between the steps leaves a pending order that the reconciliation job settles with the provider.
"""
from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ...extensions import db
from ...models import Address, DiscountCode, LineMode, Order, OrderLine, OrderStatus, User, utcnow
from ...models.orders import DELIVERY_METHODS, DeliveryMethod
from ..circulation import holds, rentals, wallet
from ..inventory import stock
from ..people import accounts
from ..platform import audit, dml, locks
from . import cart, fulfilment, guests, payment_events, payments
from .order_state import event, stock_lines, transition

_NUMBER_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
# A pending order without a page is being opened by a twin request only this soon after it was made; later it
# is superseded. A pending order is resumed only with at least this much of its reservation left.
_OPENING = timedelta(minutes=1)
_MIN_LEFT = timedelta(minutes=1)
# A wallet payment of the same cart this recent was a twin submit (another tab, no token), not a new purchase.
_TWIN_WINDOW = timedelta(minutes=1)


# Where the customer goes after the provider's page, for an order: built by the blueprint (links are not
# the service's business).
OrderURL = Callable[[Order], str]


class CheckoutError(ValueError):
    pass


@dataclass
class ShippingAddress:
    full_name: str
    line1: str
    city: str
    postcode: str
    country: str
    line2: str | None = None
    region: str | None = None
    phone: str | None = None

    @classmethod
    def of(cls, saved: Address) -> ShippingAddress:
        """Ship to one of the customer's saved addresses (the caller checks it is theirs)."""
        return cls(saved.full_name, saved.line1, saved.city, saved.postcode, saved.country, saved.line2,
                   saved.region, saved.phone)


def new_number() -> str:
    """Non-guessable, easy to read aloud: FO-XXXX-XXXX-XXXX (32^12, 60 bits)."""
    raw = "".join(secrets.choice(_NUMBER_ALPHABET) for _ in range(12))
    return f"FO-{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def new_token() -> str:
    """The one-time token a checkout form carries, so that submitting it twice makes one order."""
    return secrets.token_urlsafe(24)


def shop_address() -> ShippingAddress:
    """Where a collect-in-store order is collected (config SHOP_ADDRESS): stored as its ship-to address, so
    receipts and staff pages show where to collect it."""
    shop = current_app.config["SHOP_ADDRESS"]
    return ShippingAddress(shop["full_name"], shop["line1"], shop["city"], shop["postcode"], shop["country"],
                           shop.get("line2"), shop.get("region"), shop.get("phone"))


def delivery_address(method: str, address: ShippingAddress | None) -> ShippingAddress:
    """The order's ship-to address: the customer's for post (required), the shop's for collect in store."""
    if method not in DELIVERY_METHODS:
        raise CheckoutError("Choose delivery by post or collection in store.")
    if method == DeliveryMethod.COLLECT:
        return shop_address()
    if address is None:
        raise CheckoutError("Choose where to send your order.")
    return address


def checkout_key(items: list[cart.CartItem], code: str | None, address: ShippingAddress, use_wallet: bool,
                 delivery_method: str = DeliveryMethod.POST) -> str:
    """What makes two checkouts the same checkout."""
    lines = sorted((i.book_id, i.mode, i.quantity, i.days if i.mode == LineMode.RENT else 0) for i in items)
    parts: list[object] = [lines, (code or "").strip().upper(), asdict(address), bool(use_wallet)]
    if delivery_method != DeliveryMethod.POST:  # a posted order's key is as before
        parts.append(str(delivery_method))
    raw = json.dumps(parts, sort_keys=True)
    return hashlib.sha256(raw.encode()).hexdigest()


def start_checkout(user: User | None, items: list[cart.CartItem], address: ShippingAddress | None, *,
                   code: str | None, success_url: OrderURL, cancel_url: OrderURL, use_wallet: bool = False,
                   token: str | None = None, delivery_method: str = DeliveryMethod.POST,
                   guest_email: str | None = None, guest_previous: str | None = None) -> tuple[Order, str]:
    """Reserve and open the payment page. Returns (order, URL to send the customer to: the payment page, or
    the success page when the wallet paid it all or it was paid already). `delivery_method` "collect": no
    shipping charge, and `address` is not needed (the order records the shop's, shop_address).

    `user` None is a guest checkout (services.commerce.guests): the same path, buying only, the receipt to
    `guest_email`; no wallet, no plan discount, no code limited per customer. `guest_previous`: the number of
    the order this browser last started, so a guest, like a customer, has one checkout at a time.

    Commits (the reservation before the provider call). Raises CheckoutError or SoldOut before anything is
    written (the caller rolls back); PaymentError if the provider could not open the page (the order is then
    cancelled and its stock released)."""
    address = delivery_address(delivery_method, address)
    if user is None:
        order, url = _reserve_guest(items, address, email=guest_email, code=code, success_url=success_url,
                                    token=token, delivery_method=delivery_method, previous=guest_previous)
    else:
        order, url = _reserve(user, items, address, code=code, success_url=success_url, use_wallet=use_wallet,
                              token=token, delivery_method=delivery_method)
    db.session.commit()
    if url is not None:
        return order, url
    return order, _open_payment_page(order, success_url, cancel_url)


def _reserve(user: User, items: list[cart.CartItem], address: ShippingAddress, *, code: str | None,
             success_url: OrderURL, use_wallet: bool, token: str | None,
             delivery_method: str = DeliveryMethod.POST) -> tuple[Order, str | None]:
    if not user.is_verified:
        raise CheckoutError("Please confirm your email address before checking out.")
    if not items:
        raise CheckoutError("Your cart is empty.")
    locks.customer(user.id)  # one checkout at a time per customer, until this transaction ends
    key = checkout_key(items, code, address, use_wallet, delivery_method)
    prior = order_for_token(user, token)
    if prior is not None:
        if prior.status == OrderStatus.PENDING_PAYMENT or prior.paid_at is not None:
            return prior, destination(prior, success_url)
        token = None  # that checkout ended unpaid: this submit starts a new one
    just_paid = db.session.scalar(select(Order).where(
        Order.user_id == user.id, Order.checkout_key == key, Order.payment_provider == "wallet",
        Order.paid_at > utcnow() - _TWIN_WINDOW).order_by(Order.paid_at.desc()).limit(1))
    if just_paid is not None:
        return just_paid, success_url(just_paid)
    pending = db.session.scalar(select(Order)
                                .where(Order.user_id == user.id, Order.status == OrderStatus.PENDING_PAYMENT)
                                .order_by(Order.created_at.desc()).limit(1))
    if pending is not None:
        opening = pending.payment_url is None and pending.created_at > utcnow() - _OPENING
        time_left = pending.reservation_expires_at is not None and pending.reservation_expires_at > utcnow() + _MIN_LEFT
        if pending.checkout_key == key and (pending.payment_url or opening) and time_left:
            return pending, pending.payment_url
        _supersede(pending, user)
    return _create(user, items, address, code=code, key=key, token=token, use_wallet=use_wallet,
                   success_url=success_url, delivery_method=delivery_method)


def _reserve_guest(items: list[cart.CartItem], address: ShippingAddress, *, email: str | None, code: str | None,
                   success_url: OrderURL, token: str | None, delivery_method: str,
                   previous: str | None = None) -> tuple[Order, str | None]:
    """A guest has no row to lock: the form's token (unique among guest orders, uq_orders_guest_idempotency_key)
    is what makes a double submit one order; _create settles a submit racing its twin. `previous`, the order
    this browser started last: still pending, it is the answer for the same cart (a second tab's form) or is
    replaced (its copies go back), as a customer's is in _reserve."""
    if not items:
        raise CheckoutError("Your cart is empty.")
    if guests.rentals_in(items):
        raise CheckoutError(guests.RENTALS_NEED_AN_ACCOUNT)
    try:
        email = accounts.normalize_email(email or "")
    except accounts.AccountError as exc:
        raise CheckoutError(f"Please check your email address: {exc.errors['email'][0]}") from None
    prior = order_for_token(None, token)
    if prior is not None:
        if prior.status == OrderStatus.PENDING_PAYMENT or prior.paid_at is not None:
            return prior, destination(prior, success_url)
        token = None  # that checkout ended unpaid: this submit starts a new one
    key = checkout_key(items, code, address, False, delivery_method)
    pending = db.session.scalar(select(Order).where(
        Order.number == previous, Order.guest.is_(True), Order.user_id.is_(None),
        Order.status == OrderStatus.PENDING_PAYMENT)) if previous else None
    if pending is not None:
        opening = pending.payment_url is None and pending.created_at > utcnow() - _OPENING
        time_left = pending.reservation_expires_at is not None and pending.reservation_expires_at > utcnow() + _MIN_LEFT
        if pending.checkout_key == key and pending.email == email and (pending.payment_url or opening) and time_left:
            return pending, pending.payment_url
        fulfilment.cancel_unpaid(pending, reason="Replaced by a newer checkout.", close_now=False)
    return _create(None, items, address, code=code, key=key, token=token, use_wallet=False,
                   success_url=success_url, delivery_method=delivery_method, email=email)


def order_for_token(user: User | None, token: str | None) -> Order | None:
    """The order a checkout form with this token already made (a resubmit finds it, whatever the cart is now);
    `user` None: a guest's."""
    if not token:
        return None
    owner = Order.user_id.is_(None) if user is None else Order.user_id == user.id
    return db.session.scalar(select(Order).where(owner, Order.idempotency_key == token[:64]))


def destination(order: Order, success_url: OrderURL) -> str | None:
    """Where a resubmitted checkout goes: the pending order's payment page (None while it is being opened),
    or the success page of a paid one."""
    if order.status == OrderStatus.PENDING_PAYMENT:
        return order.payment_url
    return success_url(order) if order.paid_at is not None else None


def _supersede(order: Order, user: User) -> None:
    """The customer checks out something else: the older pending checkout ends and its page closes (after
    commit, through the outbox; a payment that slips in meanwhile is honoured or refunded)."""
    fulfilment.cancel_unpaid(order, reason="Replaced by a newer checkout.", actor_id=user.id, close_now=False)


def _create(user: User | None, items: list[cart.CartItem], address: ShippingAddress, *, code: str | None, key: str,
            token: str | None, use_wallet: bool, success_url: OrderURL,
            delivery_method: str, email: str | None = None) -> tuple[Order, str | None]:
    rented = [(i.book_id, i.quantity, i.days) for i in items if i.mode == LineMode.RENT]
    problem = rentals.allowance_problem(user, rented) if rented and user is not None else None
    if problem:
        raise CheckoutError(problem)
    snapshot = [cart.CartItem(**vars(i)) for i in items]
    priced = cart.view(snapshot, user=user, code=code, delivery_method=delivery_method)
    if priced.changes:
        raise CheckoutError("Your cart changed: " + " ".join(priced.changes))
    if code and priced.quote.discount is None:
        raise CheckoutError(priced.quote.discount_error or "That discount code cannot be used.")
    quote = priced.quote
    guest_problem = guests.code_problem(quote.discount) if user is None else None
    if guest_problem:
        raise CheckoutError(guest_problem)
    config = current_app.config
    order = Order(
        number=new_number(), user_id=user.id if user else None, guest=user is None,
        status=OrderStatus.PENDING_PAYMENT, email=user.email if user else email,
        ship_name=address.full_name, ship_line1=address.line1, ship_line2=address.line2, ship_city=address.city,
        ship_region=address.region, ship_postcode=address.postcode, ship_country=address.country.upper(),
        ship_phone=address.phone, delivery_method=delivery_method, currency=config["CURRENCY"], subtotal_cents=quote.subtotal_cents,
        discount_cents=quote.discount_cents, member_discount_cents=quote.member_discount_cents,
        shipping_cents=quote.shipping_cents, tax_cents=quote.tax_cents, total_cents=quote.total_cents,
        discount_code_id=quote.discount.id if quote.discount else None, payment_provider=payments.provider_name(),
        checkout_key=key, idempotency_key=token,
        # The payment page must stay open CHECKOUT_EXPIRY_MINUTES from when it is made (Stripe's minimum is 30);
        # the extra minute covers opening it.
        reservation_expires_at=utcnow() + timedelta(minutes=config["CHECKOUT_EXPIRY_MINUTES"] + 1),
    )
    for line in priced.lines:
        order.lines.append(OrderLine(
            book_id=line.book.id, title=line.book.title, isbn13=line.book.isbn13, mode=line.item.mode,
            rental_days=line.item.days if line.item.mode == LineMode.RENT else None, quantity=line.item.quantity,
            unit_cents=line.unit_cents, line_cents=line.line_cents))
    db.session.add(order)
    try:
        db.session.flush()
    except IntegrityError:
        if user is not None or not token:
            raise
        # A guest's twin submit (same form token) made the order first: the first write of this request,
        # so rolling back loses nothing; answer with that order.
        db.session.rollback()
        twin = order_for_token(None, token)
        if twin is None or not (twin.status == OrderStatus.PENDING_PAYMENT or twin.paid_at is not None):
            raise CheckoutError("This checkout changed meanwhile; please try again.") from None
        return twin, destination(twin, success_url)
    user_id = user.id if user else None
    if user_id is not None:
        # Copies set aside for this customer by their holds pass to the order first (services.circulation.holds).
        holds.claim_for_order(user_id, [book_id for book_id, _ in stock_lines(order)], order.id)
    # Re-checked here, on the final POST, whatever the cart page said: all lines or none.
    stock.reserve(stock_lines(order), reference=order.number, actor_id=user_id)
    if quote.discount is not None:
        _redeem(quote.discount, order, user_id)
    event(order, OrderStatus.PENDING_PAYMENT,
          f"Checkout started; stock reserved for {config['CHECKOUT_EXPIRY_MINUTES']} minutes.")
    if use_wallet and user is not None:
        balance = wallet.balance(user.id)
        if balance >= order.total_cents:
            _pay_from_wallet(order, user)
            return order, success_url(order)
        if balance > 0:  # the wallet pays what it can now; the card pays the rest
            wallet.debit(user.id, balance, "order_payment", reference=order.number, note=f"Order {order.number} (part)")
            order.wallet_cents = balance
    return order, None


def _pay_from_wallet(order: Order, user: User) -> None:
    """The wallet covers the whole order: debit it and complete the sale now (no payment page)."""
    try:
        wallet.debit(user.id, order.total_cents, "order_payment", reference=order.number,
                     note=f"Order {order.number}")
    except wallet.InsufficientFunds as exc:
        raise CheckoutError(f"{exc} Pay by card instead.") from None
    order.payment_provider = "wallet"
    order.wallet_cents = order.total_cents
    order.payment_session_id = f"wallet-{order.number}"
    db.session.flush()
    if not transition(order.id, (OrderStatus.PENDING_PAYMENT,), OrderStatus.PAID, paid_at=utcnow()):
        raise CheckoutError("This order changed meanwhile; please try again.")
    db.session.refresh(order)
    fulfilment.complete_sale(order)


def _redeem(discount: DiscountCode, order: Order, user_id: int | None) -> None:
    problem = fulfilment.redeem(discount, order, user_id)
    if problem == "used_by_customer":
        raise CheckoutError(f"You have already used “{discount.code}”.")
    if problem == "used_up":
        raise CheckoutError(f"“{discount.code}” has just been used up.")


def order_request(order: Order) -> payments.CheckoutRequest:
    """What the provider's page asks for: the order's card part, with its lines for the customer to see."""
    items: list[dict[str, str | int]] = [
        {"title": line.title, "quantity": line.quantity, "amount": line.line_cents, "mode": line.mode}
        for line in order.lines]
    if order.wallet_cents:
        items.append({"title": "Paid from your wallet", "quantity": 1, "amount": -order.wallet_cents, "mode": "wallet"})
    summary = "; ".join(f"{line.quantity} × {line.title}" + (" (rental)" if line.mode == LineMode.RENT else "")
                        for line in order.lines)[:500]
    expires_at = order.reservation_expires_at
    assert expires_at is not None  # every order gets one when it is made (_create)
    return payments.CheckoutRequest(reference=order.number, amount_cents=order.card_cents, currency=order.currency,
                                    email=order.email, title=f"{current_app.config['SHOP_NAME']} order {order.number}",
                                    description=summary, line_items=items, expires_at=expires_at, order_id=order.id)


def _open_payment_page(order: Order, success_url: OrderURL, cancel_url: OrderURL) -> str:
    """Steps 2 and 3: ask the provider for the page (no transaction open), then attach it to the order."""
    request, success, cancel = order_request(order), success_url(order), cancel_url(order)
    try:
        session: payments.CheckoutSession = payments.gateway(order.payment_provider).create_checkout(
            request, success, cancel)
    except payments.PaymentError:
        db.session.rollback()
        fulfilment.cancel_unpaid(order, reason="The payment page could not be opened.", close_now=False)
        db.session.commit()
        raise
    attached = dml.changed(  # whether this call attached it
        update(Order).where(Order.id == order.id, Order.payment_session_id.is_(None))
        .values(payment_session_id=session.id, payment_url=session.url)
        .execution_options(synchronize_session=False))
    db.session.commit()
    db.session.refresh(order)
    if not attached and order.payment_session_id != session.id:
        raise payments.PaymentError("This checkout changed meanwhile; please try again.")
    if order.status != OrderStatus.PENDING_PAYMENT:
        if order.paid_at is not None:
            return success
        raise CheckoutError("This checkout ended before its payment page opened; please check out again.")
    return session.url


# ---- the customer leaves the payment page, or comes back from it ----

def abandon(order: Order, *, actor: User | None, ip: str | None = None) -> str:
    """"Back to my cart" from the payment page: close the page at the provider first, then give the copies
    back. If the customer paid before the page closed, the payment is applied instead. Returns the order's
    status now ("cancelled", "paid", ...). Commits."""
    if order.status != OrderStatus.PENDING_PAYMENT:
        return order.status
    try:
        actor_id = actor.id if actor is not None else None  # None: a guest
        cancelled = fulfilment.cancel_unpaid(order, reason="Payment cancelled by the customer.", actor_id=actor_id)
    except payments.AlreadyPaid:
        db.session.rollback()
        confirm(order)
        db.session.refresh(order)
        return order.status
    if cancelled:
        audit.record("order.cancelled", actor_id=actor_id, object_type="order", object_id=order.number, ip=ip,
                     before={"status": OrderStatus.PENDING_PAYMENT},
                     after={"status": OrderStatus.CANCELLED, "reason": "Payment cancelled by the customer."})
    db.session.commit()
    db.session.refresh(order)
    return order.status


def confirm(order: Order) -> str:
    """The success page: ask the provider (server side, never trusting the redirect) whether the order's
    session is paid, and apply it if so. Commits."""
    if order.status != OrderStatus.PENDING_PAYMENT or not order.payment_session_id \
            or order.payment_provider == "wallet":
        return order.status
    provider, session_id = order.payment_provider, order.payment_session_id
    outcome = payment_events.apply_provider_state(payments.gateway(provider).retrieve(session_id))
    db.session.commit()
    return outcome
