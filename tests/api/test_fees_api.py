"""API: GET /api/v1/fees (what is due, oldest first, and the total) and POST /api/v1/fees/pay (from the wallet:
all fees, or the one named); rows and wallet entries checked, not only statuses."""
from __future__ import annotations

from sqlalchemy import select

from tests.api.conftest import assert_error
from tests.checkout_helpers import shopper
from tests.fee_helpers import late_return
from webapp.models import Rental, User
from webapp.services.circulation import wallet


def _reader(db):
    return db.session.scalar(select(User).where(User.username == "reader1"))


def _cents(body, key):
    return body[key]["cents"]


def test_no_fees(customer_api):
    r = customer_api.get("/api/v1/fees")
    assert r.status_code == 200
    assert r.get_json() == {"items": [], "total": {"cents": 0, "currency": "USD"},
                            "wallet": {"cents": 0, "currency": "USD"}}
    r = customer_api.post("/api/v1/fees/pay", json={})
    assert r.status_code == 200 and _cents(r.get_json(), "paid") == 0


def test_list_then_pay_from_the_wallet(customer_api, db):
    user = _reader(db)
    rental = late_return(user, days_late=4)  # 200
    body = customer_api.get("/api/v1/fees").get_json()
    assert _cents(body, "total") == 200
    [item] = body["items"]
    assert (item["kind"], item["id"], item["title"], item["reason"]) == ("rental", rental.id, "Late book", "Late return")
    assert _cents(item, "due") == 200 and _cents(item, "paid") == 0 and item["since"]
    wallet.credit(user.id, 120, "adjustment", reference="gift")
    db.session.commit()
    r = customer_api.post("/api/v1/fees/pay", json={})
    body = r.get_json()
    assert r.status_code == 200 and _cents(body, "paid") == 120 and _cents(body, "total") == 80
    assert _cents(body, "wallet") == 0
    wallet.credit(user.id, 500, "adjustment", reference="gift2")
    db.session.commit()
    r = customer_api.post("/api/v1/fees/pay", json={"kind": "rental", "id": rental.id})
    body = r.get_json()
    assert _cents(body, "paid") == 80 and body["items"] == [] and _cents(body, "wallet") == 420
    db.session.expire_all()
    assert db.session.get(Rental, rental.id).fee_paid_cents == 200


def test_paying_someone_elses_fee_or_a_bad_body(customer_api, db):
    other = shopper("other")
    rental = late_return(other, days_late=2)
    wallet.credit(_reader(db).id, 500, "adjustment", reference="gift")
    db.session.commit()
    assert_error(customer_api.post("/api/v1/fees/pay", json={"kind": "rental", "id": rental.id}), 404, "not_found")
    assert_error(customer_api.post("/api/v1/fees/pay", json={"kind": "rental"}), 422)
    assert_error(customer_api.post("/api/v1/fees/pay", json={"kind": "order", "id": 1}), 422)
    assert_error(customer_api.post("/api/v1/fees/pay", json={"id": "1", "kind": "rental"}), 422)
    db.session.expire_all()
    assert db.session.get(Rental, rental.id).fee_paid_cents == 0 and wallet.balance(_reader(db).id) == 500


def test_fees_need_a_token(api):
    assert_error(api.get("/api/v1/fees"), 401)
    assert_error(api.post("/api/v1/fees/pay", json={}), 401)
