"""The real Stripe code path, against a local Stripe-shaped stub server (no internet in tests)."""
import json
import threading
from urllib.parse import parse_qs

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from tests.checkout_helpers import ADDRESS, shopper
from tests.conftest import using_postgres
from webapp.extensions import db
from webapp.models import Inventory, Order
from webapp.services.commerce import cart, checkout, orders
from webapp.services.platform import outbox


class StripeStub:
    def __init__(self):
        self.requests: list[tuple[str, str, dict, dict]] = []
        self.session_status = ("open", "unpaid")
        self.amount = None
        self.on_create = None  # called while the session-create request is being answered
        self.refund_error = None  # (status, Stripe error body) to answer refunds with

    def __call__(self, environ, start_response):
        request = Request(environ)
        form = {k: v[0] for k, v in parse_qs(request.get_data(as_text=True)).items()}
        self.requests.append((request.method, request.path, form, dict(request.headers)))
        if request.path == "/v1/checkout/sessions" and request.method == "POST":
            self.amount = int(form["line_items[0][price_data][unit_amount]"])
            if self.on_create:
                self.on_create(form)
            body = {"id": "cs_test_stub123", "object": "checkout.session", "url": "https://checkout.stripe.test/pay/cs",
                    "status": "open", "payment_status": "unpaid", "amount_total": int(form["line_items[0][price_data][unit_amount]"])}
        elif request.path == "/v1/checkout/sessions/cs_test_stub123" and request.method == "GET":
            status, paid = self.session_status
            body = {"id": "cs_test_stub123", "object": "checkout.session", "status": status, "payment_status": paid,
                    "payment_intent": "pi_stub", "amount_total": self.amount, "currency": "usd"}
        elif request.path == "/v1/checkout/sessions/cs_test_stub123/expire":
            body = {"id": "cs_test_stub123", "object": "checkout.session", "status": "expired"}
        elif request.path == "/v1/refunds" and self.refund_error:
            status, error = self.refund_error
            return Response(json.dumps({"error": error}), status=status,
                            content_type="application/json")(environ, start_response)
        elif request.path == "/v1/refunds":
            body = {"id": "re_stub", "object": "refund", "amount": int(form["amount"]), "status": "succeeded"}
        else:
            return Response(json.dumps({"error": {"message": "not stubbed", "type": "invalid_request_error"}}),
                            status=404, content_type="application/json")(environ, start_response)
        return Response(json.dumps(body), content_type="application/json")(environ, start_response)


@pytest.fixture
def stripe_stub(app, monkeypatch):
    stub = StripeStub()
    server = make_server("127.0.0.1", 0, stub, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setitem(app.config, "STRIPE_SECRET_KEY", "sk_test_stub")
    monkeypatch.setitem(app.config, "STRIPE_API_BASE", f"http://127.0.0.1:{server.server_port}")
    yield stub
    server.shutdown()
    server.server_close()


def test_checkout_session_is_created_with_the_order_and_an_idempotency_key(app, stripe_stub, make_book):
    book = make_book(on_hand=2, price_cents=1500)
    user = shopper()
    order, url = checkout.start_checkout(user, [cart.CartItem(book.id, "buy", 1, 1, 1500)],
                                       ADDRESS, code=None,
                                       success_url=lambda o: f"https://shop.test/s/{o.number}",
                                       cancel_url=lambda o: f"https://shop.test/c/{o.number}")
    db.session.commit()
    assert url == "https://checkout.stripe.test/pay/cs" and order.payment_session_id == "cs_test_stub123"
    assert order.payment_provider == "stripe"
    method, path, form, headers = stripe_stub.requests[0]
    assert (method, path) == ("POST", "/v1/checkout/sessions")
    assert form["client_reference_id"] == order.number and form["metadata[order_number]"] == order.number
    assert int(form["expires_at"]) == int(order.reservation_expires_at.timestamp())
    assert form["line_items[0][price_data][unit_amount]"] == str(order.total_cents)
    assert form["success_url"].endswith("?session_id={CHECKOUT_SESSION_ID}")
    assert headers["Idempotency-Key"] == f"checkout-{order.number}"
    assert headers["Authorization"] == "Bearer sk_test_stub"


def test_success_page_check_with_stripe_fulfils_only_when_paid(app, stripe_stub, make_book):
    book = make_book(on_hand=2, price_cents=1500)
    user = shopper()
    order, _ = checkout.start_checkout(user, [cart.CartItem(book.id, "buy", 1, 1, 1500)], ADDRESS, code=None,
                                     success_url=lambda o: "https://shop.test/s", cancel_url=lambda o: "https://c")
    db.session.commit()
    assert checkout.confirm(order) == "pending"
    stripe_stub.session_status = ("complete", "paid")
    assert checkout.confirm(order) == "paid"
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Order, order.id).payment_intent_id == "pi_stub"
    assert db.session.get(Inventory, book.id).on_hand == 1
    orders.cancel(db.session.get(Order, order.id), actor=user)
    db.session.commit()
    assert not [r for r in stripe_stub.requests if r[1] == "/v1/refunds"]  # not inside the transaction ...
    assert outbox.dispatch_due() == {"delivered": 1}  # ... but from the outbox, after it committed
    refund = [r for r in stripe_stub.requests if r[1] == "/v1/refunds"][0]
    assert refund[2] == {"payment_intent": "pi_stub", "amount": str(order.total_cents),
                         "metadata[order_number]": order.number}
    assert refund[3]["Idempotency-Key"] == f"refund-{order.number}"


def test_wallet_top_up_goes_through_stripe_checkout_with_the_charge_reference(app, stripe_stub):
    from webapp.services.commerce import charges

    user = shopper("stripe_topper")
    charge, url = charges.start(user, "top_up", 2000, success_url=lambda c: f"https://shop.test/p/{c.reference}",
                                cancel_url=lambda c: "https://shop.test/wallet")
    db.session.commit()
    assert url == "https://checkout.stripe.test/pay/cs" and charge.payment_session_id == "cs_test_stub123"
    method, path, form, headers = stripe_stub.requests[-1]
    assert (method, path) == ("POST", "/v1/checkout/sessions")
    assert form["line_items[0][price_data][unit_amount]"] == "2000"
    assert form["metadata[charge_reference]"] == charge.reference and form["client_reference_id"] == charge.reference
    assert headers["Idempotency-Key"] == f"checkout-{charge.reference}"


@pytest.mark.skipif(not using_postgres(), reason="row locks and pg_stat_activity: PostgreSQL only")
def test_the_reservation_is_committed_and_nothing_is_locked_while_stripe_is_called(app, stripe_stub, make_book):
    """Finding 6: checkout used to hold the inventory row locks (and an open transaction) across the HTTP call
    to the provider, so buyers of a popular book queued behind Stripe's latency."""
    from sqlalchemy import text

    book = make_book(on_hand=2, price_cents=1500)
    user = shopper()
    seen = {}
    engine, book_id, user_id = db.engine, book.id, user.id

    def probe(form):  # runs in the stub's thread, on its own connection, while our request waits for Stripe
        with engine.connect() as conn:
            conn.execute(text("SET lock_timeout = '300ms'"))
            seen["order"] = conn.execute(text("SELECT status FROM orders WHERE number = :n"),
                                         {"n": form["client_reference_id"]}).scalar()
            seen["reserved"] = conn.execute(text("SELECT reserved FROM inventory WHERE book_id = :b FOR UPDATE"),
                                            {"b": book_id}).scalar()
            conn.execute(text("SELECT id FROM users WHERE id = :u FOR UPDATE"), {"u": user_id})
            conn.execute(text("SELECT id FROM orders WHERE user_id = :u FOR UPDATE"), {"u": user_id})
            seen["idle_in_transaction"] = conn.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()")).scalar()
            conn.rollback()

    stripe_stub.on_create = probe
    order, url = checkout.start_checkout(user, [cart.CartItem(book.id, "buy", 1, 1, 1500)], ADDRESS, code=None,
                                         success_url=lambda o: "https://shop.test/s",
                                         cancel_url=lambda o: "https://shop.test/c")
    assert url == "https://checkout.stripe.test/pay/cs"
    assert seen == {"order": "pending_payment", "reserved": 1, "idle_in_transaction": 0}


def test_a_provider_that_cannot_open_the_page_releases_the_reservation(app, stripe_stub, make_book):
    from webapp.services.commerce import payments

    book = make_book(on_hand=2, price_cents=1500)
    user = shopper()

    def refuse(form):
        raise RuntimeError("Stripe is down")  # the stub answers 500

    stripe_stub.on_create = refuse
    with pytest.raises(payments.PaymentError):
        checkout.start_checkout(user, [cart.CartItem(book.id, "buy", 1, 1, 1500)], ADDRESS, code=None,
                                success_url=lambda o: "https://shop.test/s", cancel_url=lambda o: "https://c")
    db.session.rollback()
    order = db.session.scalars(select(Order)).one()
    assert order.status == "cancelled" and db.session.get(Inventory, book.id).reserved == 0


def test_a_refund_stripe_refuses_goes_to_staff_at_once_and_one_it_already_made_counts_as_done(app, stripe_stub,
                                                                                            make_book):
    from webapp.models import OutboxMessage, PaymentIssue
    from webapp.services.commerce import payments

    book = make_book(on_hand=2, price_cents=1500)
    user = shopper()
    order, _ = checkout.start_checkout(user, [cart.CartItem(book.id, "buy", 1, 1, 1500)], ADDRESS, code=None,
                                       success_url=lambda o: "https://shop.test/s", cancel_url=lambda o: "https://c")
    stripe_stub.session_status = ("complete", "paid")
    assert checkout.confirm(order) == "paid"
    payments.request_refund(provider="stripe", payment_intent_id="pi_stub", amount_cents=999999, currency="usd",
                            key="refund-too-much", reason="test")
    payments.request_refund(provider="stripe", payment_intent_id="pi_stub", amount_cents=100, currency="usd",
                            key="refund-again", reason="test")
    db.session.commit()
    stripe_stub.refund_error = (400, {"type": "invalid_request_error", "code": "amount_too_large",
                                      "message": "Refund amount is greater than the unrefunded amount."})
    assert outbox.deliver(db.session.scalars(select(OutboxMessage.id).where(OutboxMessage.key == "refund-too-much"))
                          .one()) == "failed"
    assert db.session.scalars(select(PaymentIssue)).one().reference == "refund-too-much"
    stripe_stub.refund_error = (400, {"type": "invalid_request_error", "code": "charge_already_refunded",
                                      "message": "Charge has already been refunded."})
    assert outbox.deliver(db.session.scalars(select(OutboxMessage.id).where(OutboxMessage.key == "refund-again"))
                          .one()) == "delivered"
