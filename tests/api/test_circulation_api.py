"""API: rentals (list, renew) and holds (place, position, cancel): real rows and due dates, the services'
refusals as 409s, and another reader's rental or hold answering 404."""
from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from tests.api.conftest import ApiClient, assert_error
from tests.checkout_helpers import deliver, settle, start
from webapp.models import Hold, Inventory, Order, Rental, Subscription, User
from webapp.services.circulation import holds


def _user(db, username):
    return db.session.scalar(select(User).where(User.username == username))


def _signed_in(app, auth, username, **kwargs):
    auth.user(username, **kwargs)
    client = ApiClient(app)
    assert client.sign_in(username).status_code == 200
    return client


def _rent(db, user, book, days=3, delivered=True):
    """A paid rental, delivered (its loan started) unless `delivered` is False (on its way, no due date)."""
    order = start(user, [(book, 1, "rent", days)])
    settle(order, f"pi_{user.id}_{book.id}", order.card_cents)
    db.session.commit()
    if delivered:
        deliver(order)
    return db.session.scalars(select(Rental).where(Rental.user_id == user.id, Rental.book_id == book.id)).one()


@pytest.fixture
def out_of_stock(app, auth, db, make_book):
    """A book whose only copy 'renter' has rented."""
    book = make_book("Queue Book", on_hand=1)
    _rent(db, auth.user("renter"), book)
    return book


# ---- rentals ----

def test_rentals_list_shows_due_dates_and_fees(app, customer_api, db, make_book):
    user = _user(db, "reader1")
    rental = _rent(db, user, make_book("Rented Book", on_hand=3), days=3, delivered=False)
    [item] = customer_api.get("/api/v1/rentals").get_json()["items"]
    assert item["loan_state"] == "on_its_way" and item["starts_at"] is None and item["due_at"] is None
    assert item["days_left"] is None and item["renewable"] is False and item["sent_back_at"] is None
    deliver(db.session.get(Order, rental.order_id))
    r = customer_api.get("/api/v1/rentals")
    assert r.status_code == 200
    body = r.get_json()
    assert body["blocked_reason"] is None
    [item] = body["items"]
    assert item["id"] == rental.id and item["title"] == "Rented Book" and item["status"] == "active"
    assert item["renewed"] is False and item["days_left"] == 3 and item["overdue_days"] == 0
    assert item["loan_state"] == "with_customer" and item["renewable"] is True and item["due_at"] is not None
    assert item["late_fee"] == {"cents": 0, "currency": "USD"} and item["fee_due"]["cents"] == 0
    with time_machine.travel(rental.due_at + timedelta(days=2, hours=1), tick=False):
        later = ApiClient(app)  # the access token of three days ago has expired
        assert later.sign_in("reader1").status_code == 200
        body = later.get("/api/v1/rentals").get_json()
    assert body["items"][0]["overdue_days"] == 3 and body["items"][0]["late_fee"]["cents"] > 0
    assert "overdue" in body["blocked_reason"]


def test_renew_moves_the_due_date_once(customer_api, db, make_book):
    rental = _rent(db, _user(db, "reader1"), make_book("Renewable", on_hand=3), days=2)
    due = rental.due_at
    r = customer_api.post(f"/api/v1/rentals/{rental.id}/renew", json={})
    assert r.status_code == 200, r.get_json()
    db.session.expire_all()
    row = db.session.get(Rental, rental.id)
    assert row.due_at == due + timedelta(days=2) and row.renewed
    assert r.get_json()["renewed"] is True and r.get_json()["days_left"] == 4
    assert r.get_json()["due_at"].startswith((due + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%S"))
    error = assert_error(customer_api.post(f"/api/v1/rentals/{rental.id}/renew", json={}), 409, "renewal_refused")
    assert "once" in error["message"]
    db.session.expire_all()
    assert db.session.get(Rental, rental.id).due_at == due + timedelta(days=2)


def test_renew_accepts_the_loans_own_length_only(customer_api, db, make_book):
    rental = _rent(db, _user(db, "reader1"), make_book("Renewable", on_hand=3), days=2)
    error = assert_error(customer_api.post(f"/api/v1/rentals/{rental.id}/renew", json={"days": 10}), 422,
                         "validation_failed")
    assert "2 days" in error["fields"]["days"][0]
    assert_error(customer_api.post(f"/api/v1/rentals/{rental.id}/renew", json={"days": "x"}), 422)
    assert_error(customer_api.post(f"/api/v1/rentals/{rental.id}/renew", json={"days": 0}), 422)
    db.session.expire_all()
    assert not db.session.get(Rental, rental.id).renewed
    r = customer_api.post(f"/api/v1/rentals/{rental.id}/renew", json={"days": 2})
    assert r.status_code == 200 and r.get_json()["renewed"] is True


def test_renew_without_a_body(customer_api, db, make_book):
    rental = _rent(db, _user(db, "reader1"), make_book("Renewable", on_hand=3))
    r = customer_api.post(f"/api/v1/rentals/{rental.id}/renew")
    assert r.status_code == 200, r.get_data(as_text=True)


def test_renew_refused_while_a_reader_waits(app, auth, customer_api, db, make_book):
    book = make_book("Wanted", on_hand=1)
    rental = _rent(db, _user(db, "reader1"), book)
    holds.place(auth.user("waiting"), book)
    db.session.commit()
    due = rental.due_at
    error = assert_error(customer_api.post(f"/api/v1/rentals/{rental.id}/renew", json={}), 409, "renewal_refused")
    assert "waiting" in error["message"]
    db.session.expire_all()
    assert db.session.get(Rental, rental.id).due_at == due


def test_renew_refused_when_overdue(app, customer_api, db, make_book):
    rental = _rent(db, _user(db, "reader1"), make_book("Late", on_hand=2))
    with time_machine.travel(rental.due_at + timedelta(hours=1), tick=False):
        later = ApiClient(app)
        assert later.sign_in("reader1").status_code == 200
        error = assert_error(later.post(f"/api/v1/rentals/{rental.id}/renew", json={}), 409,
                             "renewal_refused")
    assert "overdue" in error["message"]


def test_another_readers_rental_is_not_found(app, auth, customer_api, db, make_book):
    other = _signed_in(app, auth, "other")
    rental = _rent(db, _user(db, "other"), make_book("Theirs", on_hand=2))
    assert_error(customer_api.post(f"/api/v1/rentals/{rental.id}/renew", json={}), 404, "not_found")
    assert_error(customer_api.post("/api/v1/rentals/999999/renew", json={}), 404, "not_found")
    assert customer_api.get("/api/v1/rentals").get_json()["items"] == []
    assert [i["id"] for i in other.get("/api/v1/rentals").get_json()["items"]] == [rental.id]
    db.session.expire_all()
    assert not db.session.get(Rental, rental.id).renewed


def test_rentals_need_a_token(api):
    assert_error(api.get("/api/v1/rentals"), 401)
    assert_error(api.post("/api/v1/rentals/1/renew", json={}), 401)


# ---- holds ----

def test_place_a_hold_get_its_position_and_cancel(app, auth, customer_api, db, out_of_stock):
    first = _signed_in(app, auth, "first")
    r = first.post("/api/v1/holds", json={"book_id": out_of_stock.id})
    assert r.status_code == 201 and r.get_json()["position"] == 1
    r = customer_api.post("/api/v1/holds", json={"book_id": out_of_stock.id})
    assert r.status_code == 201, r.get_json()
    mine = r.get_json()
    assert mine["status"] == "waiting" and mine["position"] == 2 and mine["title"] == "Queue Book"
    assert mine["ready_until"] is None and mine["book_id"] == out_of_stock.id
    row = db.session.get(Hold, mine["id"])
    assert row.user_id == _user(db, "reader1").id and row.status == "waiting"

    assert customer_api.get(f"/api/v1/holds/{mine['id']}").get_json()["position"] == 2
    theirs = first.get("/api/v1/holds").get_json()["items"][0]
    assert first.delete(f"/api/v1/holds/{theirs['id']}").status_code == 204
    assert customer_api.get(f"/api/v1/holds/{mine['id']}").get_json()["position"] == 1  # moved up
    listed = customer_api.get("/api/v1/holds").get_json()["items"]
    assert [(h["id"], h["position"]) for h in listed] == [(mine["id"], 1)]

    r = customer_api.delete(f"/api/v1/holds/{mine['id']}")
    assert r.status_code == 204 and r.get_data() == b""
    after = customer_api.get(f"/api/v1/holds/{mine['id']}").get_json()
    assert after["status"] == "cancelled" and after["position"] is None
    db.session.expire_all()
    assert db.session.get(Hold, mine["id"]).status == "cancelled"
    assert_error(customer_api.delete(f"/api/v1/holds/{mine['id']}"), 409, "hold_refused")
    assert customer_api.get("/api/v1/holds").get_json()["items"][0]["status"] == "cancelled"


def test_premium_readers_go_first(app, auth, customer_api, db, out_of_stock):
    customer_api.post("/api/v1/holds", json={"book_id": out_of_stock.id})
    premium = _signed_in(app, auth, "premium")
    db.session.add(Subscription(user_id=_user(db, "premium").id, tier="premium"))
    db.session.commit()
    assert premium.post("/api/v1/holds", json={"book_id": out_of_stock.id}).get_json()["position"] == 1
    assert customer_api.get("/api/v1/holds").get_json()["items"][0]["position"] == 2


def test_a_returned_copy_makes_the_hold_ready(app, auth, customer_api, db, out_of_stock):
    from webapp.services.circulation import rentals

    hold = customer_api.post("/api/v1/holds", json={"book_id": out_of_stock.id}).get_json()
    rentals.mark_returned(db.session.scalars(select(Rental)).one(), actor=auth.user("clerk"))
    db.session.commit()
    body = customer_api.get(f"/api/v1/holds/{hold['id']}").get_json()
    assert body["status"] == "ready" and body["position"] is None and body["ready_until"] is not None
    assert customer_api.delete(f"/api/v1/holds/{hold['id']}").status_code == 204
    assert customer_api.get(f"/api/v1/holds/{hold['id']}").get_json()["status"] == "cancelled"
    db.session.expire_all()
    assert db.session.get(Inventory, out_of_stock.id).available == 1  # the set-aside copy is back on the shelf


def test_hold_refusals(app, auth, customer_api, db, make_book, out_of_stock):
    in_stock = make_book("On The Shelf", on_hand=4)
    error = assert_error(customer_api.post("/api/v1/holds", json={"book_id": in_stock.id}), 409, "hold_refused")
    assert "in stock" in error["message"]
    assert customer_api.post("/api/v1/holds", json={"book_id": out_of_stock.id}).status_code == 201
    error = assert_error(customer_api.post("/api/v1/holds", json={"book_id": out_of_stock.id}), 409,
                         "hold_refused")
    assert "already hold" in error["message"]
    assert db.session.scalars(select(Hold)).all().__len__() == 1
    assert_error(customer_api.post("/api/v1/holds", json={"book_id": 999999}), 404, "not_found")
    unverified = _signed_in(app, auth, "newbie", verified=False)
    error = assert_error(unverified.post("/api/v1/holds", json={"book_id": out_of_stock.id}), 409, "hold_refused")
    assert "confirm your email" in error["message"]


def test_hold_refused_at_the_plans_limit(app, auth, customer_api, db, make_book):
    user = _user(db, "reader1")
    free_limit = app.config["PLANS"]["free"]["max_books"]
    for n in range(free_limit):
        book = make_book(f"Gone {n}", on_hand=1)
        _rent(db, auth.user(f"renter{n}"), book)
        holds.place(user, book)
        db.session.commit()
    last = make_book("One Too Many", on_hand=1)
    _rent(db, auth.user("renter_last"), last)
    error = assert_error(customer_api.post("/api/v1/holds", json={"book_id": last.id}), 409, "hold_refused")
    assert "plan allows" in error["message"]


@pytest.mark.parametrize("body", [{}, {"book_id": "1"}, {"book_id": 0}, {"book_id": 2**31}, {"book_id": 1, "x": 1},
                                  {"book_id": None}])
def test_hold_validation(customer_api, body):
    error = assert_error(customer_api.post("/api/v1/holds", json=body), 422, "validation_failed")
    assert error["fields"]


def test_another_readers_hold_is_not_found(app, auth, customer_api, db, out_of_stock):
    other = _signed_in(app, auth, "other")
    theirs = other.post("/api/v1/holds", json={"book_id": out_of_stock.id}).get_json()
    assert_error(customer_api.get(f"/api/v1/holds/{theirs['id']}"), 404, "not_found")
    assert_error(customer_api.delete(f"/api/v1/holds/{theirs['id']}"), 404, "not_found")
    assert_error(customer_api.get("/api/v1/holds/999999"), 404, "not_found")
    assert customer_api.get("/api/v1/holds").get_json()["items"] == []
    db.session.expire_all()
    assert db.session.get(Hold, theirs["id"]).status == "waiting"


def test_holds_need_a_token(api):
    assert_error(api.get("/api/v1/holds"), 401)
    assert_error(api.post("/api/v1/holds", json={"book_id": 1}), 401)
    assert_error(api.delete("/api/v1/holds/1"), 401)
