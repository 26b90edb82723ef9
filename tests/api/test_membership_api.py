"""API: the plan (status, plans with quotes, change from the wallet or by card) and the wallet (balance, statement
in cursor pages): wallet entries, subscription rows and charges checked, not only statuses."""
from __future__ import annotations

import time_machine
from sqlalchemy import select

from tests.api.conftest import ApiClient, assert_error
from webapp.models import Charge, GatewaySession, Subscription, User, WalletEntry, utcnow
from webapp.services.circulation import subscriptions, wallet
from webapp.services.commerce import test_gateway


def _user(db, username="reader1"):
    return db.session.scalar(select(User).where(User.username == username))


def _fund(db, cents, username="reader1", reference="t1"):
    user = _user(db, username)
    wallet.credit(user.id, cents, "top_up", reference=reference)
    db.session.commit()
    return user


def _entries(db, user):
    return list(db.session.scalars(select(WalletEntry).where(WalletEntry.user_id == user.id)
                                   .order_by(WalletEntry.id)))


def test_status_of_a_free_reader(customer_api, db):
    _fund(db, 500)
    body = customer_api.get("/api/v1/subscription").get_json()
    assert body["plan"]["name"] == "free" and body["plan"]["price"] == {"cents": 0, "currency": "USD"}
    assert body["next_plan"] is None and body["current_period_end"] is None
    assert body["wallet"]["cents"] == 500


def test_plans_with_what_each_would_do(customer_api):
    plans = customer_api.get("/api/v1/subscription/plans").get_json()
    assert [p["name"] for p in plans] == ["free", "plus", "premium"]
    assert [p["current"] for p in plans] == [True, False, False]
    assert plans[1]["price"]["cents"] == 799 and plans[1]["max_rental_days"] == 7
    assert plans[0]["change"]["kind"] == "same"
    assert plans[1]["change"] == {"kind": "subscribe", "plan": "plus", "charge": {"cents": 799, "currency": "USD"},
                                  "effective": None}


def test_subscribe_from_the_wallet_then_cancel_and_resume(customer_api, db):
    user = _fund(db, 2000)
    r = customer_api.post("/api/v1/subscription", json={"plan": "plus"})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["payment_url"] is None and body["change"]["kind"] == "subscribe"
    assert body["subscription"]["plan"]["name"] == "plus" and body["subscription"]["wallet"]["cents"] == 1201
    db.session.expire_all()
    assert db.session.get(Subscription, user.id).tier == "plus"
    assert [(e.reason, e.amount_cents, e.balance_after_cents) for e in _entries(db, user)] == [
        ("top_up", 2000, 2000), ("subscription", -799, 1201)]
    assert customer_api.get("/api/v1/me").get_json()["plan"] == "plus"

    error = assert_error(customer_api.post("/api/v1/subscription", json={"plan": "plus"}), 409, "plan_refused")
    assert "already on Plus" in error["message"]

    r = customer_api.post("/api/v1/subscription", json={"plan": "free"})
    assert r.status_code == 200 and r.get_json()["change"]["kind"] == "cancel"
    assert r.get_json()["change"]["effective"] is not None and r.get_json()["subscription"]["next_plan"] == "free"
    db.session.expire_all()
    sub = db.session.get(Subscription, user.id)
    assert (sub.tier, sub.next_tier) == ("plus", "free")

    r = customer_api.post("/api/v1/subscription", json={"plan": "plus"})
    assert r.status_code == 200 and r.get_json()["change"]["kind"] == "resume"
    db.session.expire_all()
    assert db.session.get(Subscription, user.id).next_tier is None
    assert len(_entries(db, user)) == 2  # cancelling and resuming cost nothing


def test_upgrade_pays_the_difference(customer_api, db):
    user = _fund(db, 5000)
    customer_api.post("/api/v1/subscription", json={"plan": "plus"})
    r = customer_api.post("/api/v1/subscription", json={"plan": "premium"})
    assert r.status_code == 200 and r.get_json()["change"]["kind"] == "upgrade"
    charged = r.get_json()["change"]["charge"]["cents"]
    assert 0 < charged <= 1499 - 799
    assert _entries(db, user)[-1].amount_cents == -charged
    assert wallet.balance(user.id) == 5000 - 799 - charged


def test_without_funds_the_wallet_refuses_and_the_card_is_offered(customer_api, db):
    user = _user(db)
    error = assert_error(customer_api.post("/api/v1/subscription", json={"plan": "premium"}), 409,
                         "insufficient_funds")
    assert "pay_with" in error["fields"] and "card" in error["message"]
    assert db.session.get(Subscription, user.id) is None and _entries(db, user) == []

    r = customer_api.post("/api/v1/subscription", json={"plan": "premium", "pay_with": "card"})
    assert r.status_code == 202, r.get_json()
    body = r.get_json()
    charge = db.session.scalars(select(Charge)).one()
    assert (charge.user_id, charge.purpose, charge.tier, charge.amount_cents, charge.status) == (
        user.id, "subscription", "premium", 1499, "pending")
    # On the configured public address, never the request's host (the test client's is localhost).
    assert body["payment_url"] == f"http://shop.test/pay/test/{charge.payment_session_id}"
    session = db.session.get(GatewaySession, charge.payment_session_id)
    assert session.success_url == f"http://shop.test/account/payments/{charge.reference}"
    assert session.cancel_url == "http://shop.test/account/subscription"
    assert body["subscription"]["plan"]["name"] == "free" and body["change"]["kind"] == "subscribe"

    # Paying the page buys the plan (a top-up, then the plan from the wallet), as on the website.
    assert test_gateway.TestGateway().pay(charge.payment_session_id, "4242424242424242", 12, 2099, "123") is None
    from webapp.services.commerce import charges
    charges.confirm_from_provider(db.session.get(Charge, charge.id))
    db.session.commit()
    assert customer_api.get("/api/v1/subscription").get_json()["plan"]["name"] == "premium"
    assert [e.reason for e in _entries(db, user)] == ["top_up", "subscription"]


def test_card_is_for_paid_changes_only(customer_api, db):
    user = _fund(db, 2000)
    customer_api.post("/api/v1/subscription", json={"plan": "plus"})
    r = customer_api.post("/api/v1/subscription", json={"plan": "free", "pay_with": "card"})
    assert r.status_code == 200 and r.get_json()["payment_url"] is None  # a cancellation costs nothing
    assert db.session.scalars(select(Charge)).all() == []
    db.session.expire_all()
    assert db.session.get(Subscription, user.id).next_tier == "free"


def test_unverified_readers_cannot_pay_by_card(app, auth, db):
    auth.user("newbie", verified=False)
    client = ApiClient(app)
    client.sign_in("newbie")
    error = assert_error(client.post("/api/v1/subscription", json={"plan": "plus", "pay_with": "card"}), 409,
                         "payment_refused")
    assert "confirm your email" in error["message"]


def test_change_validation(customer_api, db):
    for body, field in [({"plan": "gold"}, "plan"), ({}, "plan"), ({"plan": "plus", "pay_with": "cash"}, "pay_with"),
                        ({"plan": "plus", "tier": "plus"}, "tier"), ({"plan": 3}, "plan")]:
        error = assert_error(customer_api.post("/api/v1/subscription", json=body), 422, "validation_failed")
        assert field in error["fields"], (body, error)
    assert db.session.scalars(select(Subscription)).all() == []


def test_wallet_balance(customer_api, db):
    assert customer_api.get("/api/v1/wallet").get_json() == {"balance": {"cents": 0, "currency": "USD"}}
    _fund(db, 1250)
    assert customer_api.get("/api/v1/wallet").get_json()["balance"]["cents"] == 1250


def test_statement_pages_by_cursor_newest_first(app, auth, customer_api, db):
    user = _user(db)
    with time_machine.travel(utcnow(), tick=False):  # same timestamps: the id breaks the tie
        for n in range(5):
            wallet.credit(user.id, 100 + n, "top_up", reference=f"t{n}")
    wallet.debit(user.id, 50, "late_fee", reference="rental-1", note="Late fee, 1 days")
    other = auth.user("other")
    wallet.credit(other.id, 999, "top_up", reference="theirs")
    db.session.commit()

    seen, cursor, pages = [], None, 0
    while True:
        r = customer_api.get("/api/v1/wallet/statement", query_string={"limit": 2, **({"cursor": cursor} if cursor
                                                                                           else {})})
        assert r.status_code == 200, r.get_json()
        body = r.get_json()
        assert body["page"]["limit"] == 2 and len(body["items"]) <= 2
        seen += body["items"]
        pages += 1
        cursor = body["page"]["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert [e["amount"]["cents"] for e in seen] == [-50, 104, 103, 102, 101, 100]
    assert seen[0]["reason"] == "late_fee" and seen[0]["description"] == "Late fee rental-1"
    assert seen[0]["balance_after"]["cents"] == 510 - 50 and seen[0]["note"] == "Late fee, 1 days"
    assert 999 not in [e["amount"]["cents"] for e in seen]


def test_statement_default_page_and_bad_arguments(customer_api, db):
    _fund(db, 100)
    body = customer_api.get("/api/v1/wallet/statement").get_json()
    assert body["page"] == {"next_cursor": None, "limit": 20} and len(body["items"]) == 1
    for query, field in [({"cursor": "nonsense"}, "cursor"), ({"cursor": "1_99999999999"}, "cursor"),
                         ({"limit": 0}, "limit"), ({"limit": 101}, "limit"), ({"limit": "x"}, "limit"),
                         ({"limit": "2.5"}, "limit")]:
        error = assert_error(customer_api.get("/api/v1/wallet/statement", query_string=query), 422,
                             "validation_failed")
        assert field in error["fields"], (query, error)


def test_membership_needs_a_token(api):
    for url in ("/api/v1/subscription", "/api/v1/subscription/plans", "/api/v1/wallet", "/api/v1/wallet/statement"):
        assert_error(api.get(url), 401)
    assert_error(api.post("/api/v1/subscription", json={"plan": "plus"}), 401)


def test_plan_service_agrees(customer_api, db):
    """The API's quote is the service's (no rule kept in the view)."""
    user = _fund(db, 2000)
    customer_api.post("/api/v1/subscription", json={"plan": "plus"})
    plans = customer_api.get("/api/v1/subscription/plans").get_json()
    for plan in plans:
        q = subscriptions.quote_change(user, plan["name"])
        assert (plan["change"]["kind"], plan["change"]["charge"]["cents"]) == (q.kind, q.charge_cents)
