"""Hostile tests of the JSON API: forged tokens, revoked users, leaks, odd requests, hostile input, ownership."""
from __future__ import annotations

import base64
import json

import jwt
import pytest

from tests.api.conftest import ApiClient, assert_error
from tests.concurrency import race
from tests.conftest import ADMIN_TOTP, PASSWORD, using_postgres

ADDRESS = {"full_name": "Eve Hostile", "line1": "1 Side St", "city": "Springfield", "postcode": "12345",
           "country": "US"}


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


# ---- forged tokens ----

def test_forged_and_altered_access_tokens_are_refused(app, auth, customer_api):
    other = auth.user("victim")
    good = customer_api.tokens["access_token"]
    header, payload, sig = good.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    forged_claims = {**claims, "sub": str(other.id)}
    forged = [
        f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(forged_claims)}.",
        f"{header}.{_b64(forged_claims)}.{sig}",
        jwt.encode(forged_claims, app.config["SECRET_KEY"].ljust(32, "x")[:64], algorithm="HS256"),
        jwt.encode({**claims, "typ": "refresh"}, "w" * 40, algorithm="HS256"),
        customer_api.tokens["refresh_token"],
        good + "x", "a.b.c", "." * 3, "x" * 5000,
    ]
    for token in forged:
        r = customer_api.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert_error(r, 401)
    # sid of another family with our own sub: the genuine token, but claims altered -> signature fails anyway
    assert customer_api.get("/api/v1/me").get_json()["username"] == "reader1"


def test_access_token_is_not_a_refresh_token(customer_api):
    r = customer_api.post("/api/v1/auth/refresh", json={"refresh_token": customer_api.tokens["access_token"]})
    assert r.status_code in (401, 422)
    assert customer_api.get("/api/v1/me").status_code == 200


# ---- revoked users ----

def test_tokens_of_an_anonymised_user_are_refused(app, db, customer_api):
    from webapp.models import User
    from webapp.services.people import accounts

    user = db.session.scalar(db.select(User).filter_by(username="reader1"))
    refresh = customer_api.tokens["refresh_token"]
    accounts.anonymise(user)
    db.session.commit()
    assert_error(customer_api.get("/api/v1/me"), 401, "token_revoked")
    assert_error(customer_api.post("/api/v1/auth/refresh", json={"refresh_token": refresh}), 401)


def test_lowered_admin_loses_the_staff_api_at_once(app, db, auth, admin_api):
    from webapp.models import User

    assert admin_api.get("/api/v1/admin/users").status_code == 200
    boss = db.session.scalar(db.select(User).filter_by(username="boss"))
    boss.role = "customer"
    db.session.commit()
    assert_error(admin_api.get("/api/v1/admin/users"), 403)


def test_deactivated_user_is_refused(app, db, customer_api):
    from webapp.models import User

    user = db.session.scalar(db.select(User).filter_by(username="reader1"))
    user.is_active_account = False
    db.session.commit()
    assert_error(customer_api.get("/api/v1/me"), 401)


# ---- leaks ----

def test_sign_in_does_not_say_whether_an_account_exists(app, db, auth, api):
    from webapp.models import User

    auth.user("exists")
    gone = auth.user("inactive")
    gone.is_active_account = False
    db.session.commit()
    answers = [api.sign_in("exists", "wrong-password-1"), api.sign_in("nobody-here", "wrong-password-1"),
               api.sign_in("exists@example.com", "wrong-password-1"), api.sign_in("inactive", PASSWORD)]
    bodies = {(r.status_code, json.dumps(r.get_json(), sort_keys=True)) for r in answers}
    assert len(bodies) == 1, bodies
    assert User is not None


def test_payment_url_ignores_the_host_header(app, db, customer_api, make_book):
    book = make_book("Hosted", on_hand=3, price_cents=1200)
    db.session.commit()
    evil = {"Host": "evil.example", "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "http"}
    r = customer_api.post("/api/v1/buy-now", json={"book_id": book.id, "address": ADDRESS}, headers=evil)
    assert r.status_code == 201, r.get_json()
    body = r.get_data(as_text=True)
    assert "evil.example" not in body
    number = r.get_json()["order"]["number"]
    for url in (f"/api/v1/orders/{number}", "/api/v1/orders"):
        assert "evil.example" not in customer_api.get(url, headers=evil).get_data(as_text=True)


# ---- odd requests: never a 500, never HTML ----

ODD = [
    ("GET", "/api/v1/books/"), ("GET", "//api/v1/books"), ("POST", "//api/v1/checkout"), ("GET", "///api/v1/me"), ("GET", "/api//v1/books"), ("GET", "/api/v1/%62ooks"),
    ("GET", "/api/v1/books/%00"), ("GET", "/api/v1/books/1%2F2"), ("GET", "/api/v1/orders/%00"),
    ("GET", "/api/v1/orders/" + "9" * 3000), ("GET", "/api/v1/orders/..%2F..%2Fetc"), ("GET", "/api/v1/books/-1"),
    ("GET", "/api/v1/books/99999999999999999999999"), ("HEAD", "/api/v1/books"), ("OPTIONS", "/api/v1/books"),
    ("TRACE", "/api/v1/books"), ("PROPFIND", "/api/v1/me"), ("DELETE", "/api/v1/books"), ("PUT", "/api/v1/me"),
    ("GET", "/api/v1"), ("GET", "/api/"), ("GET", "/api"), ("GET", "/api/v2/books"), ("POST", "/api/v1/checkout/"),
    ("GET", "/api/v1/books?limit=-1"), ("GET", "/api/v1/books?limit=99999999999999999999"),
    ("GET", "/api/v1/books?cursor=%00"), ("GET", "/api/v1/books?min_price=1e400"), ("GET", "/api/v1/books?q=%ff"),
    ("GET", "/api/v1/books?sort=__class__"), ("GET", "/api/v1/orders?cursor=9999999999999999_1"),
    ("GET", "/api/v1/orders?limit=0"), ("GET", "/api/v1/authors/0"), ("GET", "/api/v1/holds/0"),
    ("GET", "/api/v1/cart/items/1/buy"), ("PATCH", "/api/v1/cart/items/1/lend"),
    ("GET", "/api/v1/wallet/statement?cursor=zzz"), ("GET", "/api/v1/wallet/statement?cursor=999999999999999999_9999999999"),
    ("GET", "/api/v1/orders?cursor=999999999999999999_9999999999"), ("GET", "/api/v1/orders?cursor=0_0"), ("GET", "/api/v1/admin/orders?cursor=-1"),
]


@pytest.mark.parametrize("method,path", ODD)
def test_odd_requests_answer_json_errors(customer_api, method, path):
    # PATH_INFO as a server passes it ("//api" would be read as a host named "api" by the test client's URL)
    path_info, _, query = path.partition("?")
    r = customer_api.client.open("/", method=method, headers=customer_api.headers, query_string=query,
                                 environ_overrides={"PATH_INFO": path_info})
    assert r.status_code < 500, (r.status_code, r.get_data(as_text=True)[:300])
    if r.status_code >= 400 and method != "HEAD":
        assert r.is_json, (r.status_code, r.content_type, r.get_data(as_text=True)[:200])


def test_huge_header_and_odd_authorization(customer_api):
    for value in ("Bearer", "Bearer  ", "Basic dXNlcjpwYXNz", "bearer " + "x" * 20000, "Bearer \x7f", "Bearer a b"):
        r = customer_api.client.get("/api/v1/me", headers={"Authorization": value, "X-Big": "y" * 30000})
        assert_error(r, 401)


# ---- hostile values ----

@pytest.mark.parametrize("bad", [-1, 0, 100, 10**20, 1.5, True, "1", None, [], {}, "1e3"])
def test_hostile_quantities(db, customer_api, make_book, bad):
    book = make_book("Counted", on_hand=5, price_cents=1000)
    db.session.commit()
    r = customer_api.post("/api/v1/cart/items", json={"book_id": book.id, "quantity": bad})
    assert_error(r, 422)
    r = customer_api.post("/api/v1/buy-now", json={"book_id": book.id, "quantity": bad, "address": ADDRESS})
    assert_error(r, 422)
    r = customer_api.post("/api/v1/cart/items", json={"book_id": bad, "quantity": 1})
    assert r.status_code in (404, 422)


@pytest.mark.parametrize("bad", [-7, 0, 10**20, 2.5, True, "7", None])
def test_hostile_days(db, customer_api, make_book, bad):
    book = make_book("Lent", on_hand=5, price_cents=1000)
    db.session.commit()
    r = customer_api.post("/api/v1/cart/items", json={"book_id": book.id, "mode": "rent", "days": bad})
    assert r.status_code in (409, 422), r.get_json()
    r = customer_api.post("/api/v1/holds", json={"book_id": bad})
    assert r.status_code in (404, 422)


def test_buy_now_of_an_archived_book_is_404(db, customer_api, make_book):
    book = make_book("Gone", on_hand=5, price_cents=1000)
    book.active = False
    db.session.commit()
    assert_error(customer_api.post("/api/v1/buy-now", json={"book_id": book.id, "address": ADDRESS}), 404)
    assert_error(customer_api.post("/api/v1/cart/items", json={"book_id": book.id}), 404)


# ---- ownership ----

def test_another_users_things_are_404(app, db, auth, customer_api, make_book):
    from webapp.models import Order

    book = make_book("Shared", on_hand=5, price_cents=1000)
    gone = make_book("Waiting", on_hand=0, price_cents=1000)
    db.session.commit()
    other = ApiClient(app)
    auth.user("other")
    assert other.sign_in("other").status_code == 200
    address = other.post("/api/v1/me/addresses", json=ADDRESS)
    assert address.status_code == 201, address.get_json()
    address_id = address.get_json()["id"]
    order = other.post("/api/v1/buy-now", json={"book_id": book.id, "address_id": address_id})
    assert order.status_code == 201, order.get_json()
    number = order.get_json()["order"]["number"]
    hold = other.post("/api/v1/holds", json={"book_id": gone.id})
    assert hold.status_code == 201, hold.get_json()
    hold_id = hold.get_json()["id"]
    session_id = other.tokens["session_id"]
    assert customer_api.post("/api/v1/cart/items", json={"book_id": book.id}).status_code == 200

    assert_error(customer_api.get(f"/api/v1/orders/{number}"), 404)
    assert_error(customer_api.post(f"/api/v1/orders/{number}/cancel"), 404)
    assert_error(customer_api.delete(f"/api/v1/me/addresses/{address_id}"), 404)
    assert_error(customer_api.post("/api/v1/checkout", json={"address_id": address_id}), 404)
    assert_error(customer_api.post("/api/v1/buy-now", json={"book_id": book.id, "address_id": address_id}), 404)
    assert_error(customer_api.get(f"/api/v1/holds/{hold_id}"), 404)
    assert_error(customer_api.delete(f"/api/v1/holds/{hold_id}"), 404)
    assert_error(customer_api.delete(f"/api/v1/auth/sessions/{session_id}"), 404)
    assert other.get("/api/v1/me").status_code == 200
    assert db.session.scalar(db.select(Order).filter_by(number=number)).status == "pending_payment"
    assert other.get(f"/api/v1/holds/{hold_id}").get_json()["status"] == "waiting"


# ---- races on PostgreSQL: one request per thread, each its own app context and connection ----

def _signed_in(app, auth, name: str) -> ApiClient:
    auth.user(name)
    c = ApiClient(app)
    assert c.sign_in(name).status_code == 200
    return c


@pytest.mark.postgres
@pytest.mark.skipif(not using_postgres(), reason="needs TEST_DATABASE_URL (PostgreSQL)")
def test_parallel_refreshes_of_one_token(app, db, auth):
    from webapp.models import UserSession

    c = _signed_in(app, auth, "twin")
    refresh = c.tokens["refresh_token"]
    clients = [ApiClient(app) for _ in range(4)]
    answers: dict[int, tuple[int, dict]] = {}

    def work(i: int):
        clients[i].client.get("/api/v1/genres")

        def go() -> None:
            r = clients[i].client.post("/api/v1/auth/refresh", json={"refresh_token": refresh})
            answers[i] = (r.status_code, r.get_json())
        return go

    assert race(app, work, 4) == ["ok"] * 4
    statuses = sorted(s for s, _ in answers.values())
    assert statuses == [200, 401, 401, 401], answers
    db.session.expire_all()
    row = db.session.get(UserSession, c.tokens["session_id"])
    assert row.revoked_at is not None  # the reuse ended the family
    winner = next(b for s, b in answers.values() if s == 200)
    assert c.client.get("/api/v1/me", headers={"Authorization": f"Bearer {winner['access_token']}"}).status_code == 401
    assert c.client.post("/api/v1/auth/refresh", json={"refresh_token": winner["refresh_token"]}).status_code == 401


@pytest.mark.postgres
@pytest.mark.skipif(not using_postgres(), reason="needs TEST_DATABASE_URL (PostgreSQL)")
def test_refresh_racing_logout_everywhere_leaves_nothing_alive(app, db, auth):
    c = _signed_in(app, auth, "racer")
    for round_ in range(3):
        if round_:
            assert c.sign_in("racer").status_code == 200
        _refresh_against_logout_everywhere(app, c)


def _refresh_against_logout_everywhere(app, c: ApiClient) -> None:
    refresh, access = c.tokens["refresh_token"], c.tokens["access_token"]
    answers: dict[int, object] = {}
    other = ApiClient(app)

    def work(i: int):
        other.client.get("/api/v1/genres")

        def go() -> None:
            if i == 0:
                answers[0] = c.client.post("/api/v1/auth/logout-everywhere",
                                           headers={"Authorization": f"Bearer {access}"}).status_code
            else:
                r = other.client.post("/api/v1/auth/refresh", json={"refresh_token": refresh})
                answers[1] = (r.status_code, r.get_json())
        return go

    assert race(app, work, 2) == ["ok"] * 2
    assert answers[0] == 204
    status, body = answers[1]
    assert status in (200, 401), answers
    if status == 200:  # a token handed out in the race is dead now
        assert other.client.get("/api/v1/me",
                                headers={"Authorization": f"Bearer {body['access_token']}"}).status_code == 401
        assert other.client.post("/api/v1/auth/refresh",
                                 json={"refresh_token": body["refresh_token"]}).status_code == 401


@pytest.mark.postgres
@pytest.mark.skipif(not using_postgres(), reason="needs TEST_DATABASE_URL (PostgreSQL)")
@pytest.mark.parametrize("key", [None, "same-key-0123456789"])
@pytest.mark.parametrize("route", ["checkout", "buy-now"])
def test_double_submit_makes_one_order(app, db, auth, make_book, route, key):
    from sqlalchemy import select

    from webapp.models import Inventory, Order

    book = make_book("Twice", on_hand=5, price_cents=1500)
    db.session.commit()
    c = _signed_in(app, auth, "double")
    if route == "checkout":
        assert c.post("/api/v1/cart/items", json={"book_id": book.id}).status_code == 200
        body = {"address": ADDRESS}
    else:
        body = {"book_id": book.id, "address": ADDRESS}
    n = 4
    clients = [ApiClient(app) for _ in range(n)]
    for cl in clients:
        cl.tokens = c.tokens
    answers: dict[int, tuple[int, dict]] = {}
    headers = {"Idempotency-Key": key} if key else {}

    def work(i: int):
        clients[i].get("/api/v1/cart")

        def go() -> None:
            r = clients[i].post(f"/api/v1/{route}", json=body, headers=headers)
            answers[i] = (r.status_code, r.get_json())
        return go

    assert race(app, work, n) == ["ok"] * n
    assert all(s in (201, 409) for s, _ in answers.values()), answers
    db.session.expire_all()
    orders = list(db.session.scalars(select(Order)))
    assert len(orders) == 1, [(o.number, o.status) for o in orders]
    numbers = {b["order"]["number"] for s, b in answers.values() if s == 201}
    assert numbers == {orders[0].number}
    row = db.session.get(Inventory, book.id)
    assert row.reserved == 1


@pytest.mark.postgres
@pytest.mark.skipif(not using_postgres(), reason="needs TEST_DATABASE_URL (PostgreSQL)")
def test_holds_placed_twice_in_parallel(app, db, auth, make_book):
    from sqlalchemy import select

    from webapp.models import Hold

    book = make_book("Awaited", on_hand=0, price_cents=1500)
    db.session.commit()
    book_id = book.id
    c = _signed_in(app, auth, "holder")
    n = 4
    clients = [ApiClient(app) for _ in range(n)]
    for cl in clients:
        cl.tokens = c.tokens
    answers: dict[int, int] = {}

    def work(i: int):
        clients[i].get("/api/v1/holds")

        def go() -> None:
            answers[i] = clients[i].post("/api/v1/holds", json={"book_id": book_id}).status_code
        return go

    assert race(app, work, n) == ["ok"] * n
    assert sorted(answers.values()) == [201, 409, 409, 409], answers
    db.session.expire_all()
    assert len(list(db.session.scalars(select(Hold).where(Hold.book_id == book_id)))) == 1


RAW_BODIES = ['{"book_id": NaN}', '{"book_id": Infinity}', '{"book_id": -Infinity}', '{"book_id": 1e400}',
              '{"book_id": 1, "quantity": NaN}', '{"book_id": 1, "quantity": 1e400}', '{"book_id": 1, "days": -0.0}',
              '{"book_id": 1, "book_id": "x"}', '[]', 'null', '"text"', '1', 'true', '{"book_id": {"$gt": 0}}',
              '{"book_id": 1, "mode": "BUY"}', '{"book_id": 1, "mode": null}', '{"book_id": 1.0000000000000001}',
              '{"book_id": 12345678901234567890123456789}', '{"book_id": "\\ud800"}']


@pytest.mark.parametrize("raw", RAW_BODIES)
@pytest.mark.parametrize("path", ["/api/v1/cart/items", "/api/v1/buy-now", "/api/v1/holds", "/api/v1/checkout",
                                  "/api/v1/auth/token", "/api/v1/auth/refresh", "/api/v1/me/addresses"])
def test_hostile_raw_bodies(db, customer_api, make_book, raw, path):
    make_book("Some book", on_hand=2, price_cents=1000)
    db.session.commit()
    r = customer_api.post(path, data=raw, headers={"Content-Type": "application/json"})
    assert r.status_code < 500 and r.is_json, (r.status_code, r.get_data(as_text=True)[:300])
    if r.status_code >= 400:
        assert_error(r, r.status_code)


def test_x_forwarded_for_does_not_dodge_the_address_limit(app, customer_api, monkeypatch):
    monkeypatch.setitem(app.config, "API_RATE_LIMIT_PER_ADDRESS", "3 per minute")
    statuses = [customer_api.get("/api/v1/genres", headers={"X-Forwarded-For": f"10.0.0.{i}", "X-Real-IP": f"10.1.0.{i}",
                                                               "Forwarded": f"for=10.2.0.{i}"}).status_code
                for i in range(5)]
    assert statuses[:3] == [200, 200, 200] and statuses[3:] == [429, 429], statuses


def _ledger_matches(db) -> None:
    from sqlalchemy import func, select

    from webapp.models import Inventory, StockMovement

    ledger = {b: (o, r) for b, o, r in db.session.execute(
        select(StockMovement.book_id, func.sum(StockMovement.on_hand_delta), func.sum(StockMovement.reserved_delta))
        .group_by(StockMovement.book_id))}
    rows = {row.book_id: (row.on_hand, row.reserved) for row in db.session.scalars(select(Inventory))}
    assert ledger == rows


@pytest.mark.postgres
@pytest.mark.skipif(not using_postgres(), reason="needs TEST_DATABASE_URL (PostgreSQL)")
def test_cancel_racing_the_payment_ends_in_a_sale_or_a_cancel_never_both(app, db, auth, make_book):
    from tests.checkout_helpers import settle
    from webapp.models import Inventory, Order, OutboxMessage

    c = _signed_in(app, auth, "canceller")
    for i in range(6):
        book = make_book(f"Contested {i}", on_hand=2, price_cents=1500)
        db.session.commit()
        r = c.post("/api/v1/buy-now", json={"book_id": book.id, "address": ADDRESS})
        assert r.status_code == 201, r.get_json()
        number, book_id = r.get_json()["order"]["number"], book.id
        answers: dict[str, object] = {}
        other = ApiClient(app)
        other.tokens = c.tokens

        def work(t: int, number=number, other=other, answers=answers):
            if t == 0:
                other.get("/api/v1/cart")

                def cancel() -> None:
                    resp = other.post(f"/api/v1/orders/{number}/cancel")
                    answers["cancel"] = (resp.status_code, resp.get_json())
                return cancel
            order = db.session.scalar(db.select(Order).filter_by(number=number))
            return lambda: answers.__setitem__("pay", settle(order, f"pi_{number}"))

        assert race(app, work, 2) == ["ok", "ok"], answers
        db.session.expire_all()
        order = db.session.scalar(db.select(Order).filter_by(number=number))
        status, body = answers["cancel"]
        where = f"{number}: {answers} -> {order.status}"
        assert status in (200, 409), where
        refunds = [m for m in db.session.scalars(db.select(OutboxMessage).filter_by(kind="refund"))
                   if m.payload.get("order_number") == number]
        inv = db.session.get(Inventory, book_id)
        if status == 200:
            assert body["status"] == order.status, where
        if order.status == "paid":
            assert status == 409 and (inv.on_hand, inv.reserved) == (1, 0) and not refunds, where
        else:
            assert order.status in ("cancelled", "refunded"), where
            assert (inv.on_hand, inv.reserved) == (2, 0), where
            if order.paid_at is not None or answers["pay"] not in (None, "already", "ignored", "expired"):
                assert refunds or order.refunded_cents == order.total_cents, where
    _ledger_matches(db)


@pytest.mark.postgres
@pytest.mark.skipif(not using_postgres(), reason="needs TEST_DATABASE_URL (PostgreSQL)")
@pytest.mark.parametrize("change", ["patch", "delete", "add"])
def test_checkout_while_the_cart_changes(app, db, auth, make_book, change):
    from sqlalchemy import select

    from webapp.models import Inventory, Order

    c = _signed_in(app, auth, "changer")
    for i in range(4):
        book = make_book(f"Moving {i}", on_hand=5, price_cents=1000)
        extra = make_book(f"Extra {i}", on_hand=5, price_cents=900)
        db.session.commit()
        book_id, extra_id = book.id, extra.id
        assert c.post("/api/v1/cart/items", json={"book_id": book_id, "quantity": 2}).status_code == 200
        assert c.get("/api/v1/cart").status_code == 200
        other = ApiClient(app)
        other.tokens = c.tokens
        answers: dict[str, object] = {}

        def work(t: int, book_id=book_id, extra_id=extra_id, other=other, answers=answers):
            client = c if t == 0 else other
            client.get("/api/v1/genres")
            if t == 0:
                return lambda: answers.__setitem__("checkout", c.post("/api/v1/checkout",
                                                                      json={"address": ADDRESS}).status_code)
            if change == "patch":
                return lambda: answers.__setitem__("change", other.patch(f"/api/v1/cart/items/{book_id}/buy",
                                                                         json={"quantity": 4}).status_code)
            if change == "delete":
                return lambda: answers.__setitem__("change", other.delete(f"/api/v1/cart/items/{book_id}/buy")
                                                   .status_code)
            return lambda: answers.__setitem__("change", other.post("/api/v1/cart/items",
                                                                    json={"book_id": extra_id}).status_code)

        assert race(app, work, 2) == ["ok", "ok"], answers
        assert answers["checkout"] in (201, 409) and answers["change"] == 200, answers
        db.session.expire_all()
        reserved = {b: db.session.get(Inventory, b).reserved for b in (book_id, extra_id)}
        orders = list(db.session.scalars(select(Order).where(Order.status == "pending_payment")))
        in_orders: dict[int, int] = {}
        for o in orders:
            for line in o.lines:
                in_orders[line.book_id] = in_orders.get(line.book_id, 0) + line.quantity
        assert reserved == {b: in_orders.get(b, 0) for b in (book_id, extra_id)}, (answers, reserved, in_orders)
        for o in orders:  # close it: the next round starts clean
            assert c.post(f"/api/v1/orders/{o.number}/cancel").status_code == 200
        c.delete(f"/api/v1/cart/items/{book_id}/buy")
        c.delete(f"/api/v1/cart/items/{extra_id}/buy")
    _ledger_matches(db)


@pytest.mark.postgres
@pytest.mark.skipif(not using_postgres(), reason="needs TEST_DATABASE_URL (PostgreSQL)")
def test_customer_cancel_and_two_staff_refunds_at_once_pay_back_once(app, db, auth, make_book):
    from tests.checkout_helpers import settle
    from webapp.models import Order, OutboxMessage, User, WalletEntry

    c = _signed_in(app, auth, "refundee")
    auth.user("boss", role="admin", totp_secret=ADMIN_TOTP)
    boss = ApiClient(app)
    assert boss.sign_in("boss", totp_secret=ADMIN_TOTP).status_code == 200
    boss2 = ApiClient(app)
    boss2.tokens = boss.tokens
    for i in range(4):
        book = make_book(f"Refunded {i}", on_hand=2, price_cents=2500)
        db.session.commit()
        r = c.post("/api/v1/buy-now", json={"book_id": book.id, "address": ADDRESS})
        assert r.status_code == 201
        number = r.get_json()["order"]["number"]
        order = db.session.scalar(db.select(Order).filter_by(number=number))
        settle(order, f"pi_{number}")
        db.session.commit()
        assert order.status == "paid"
        answers: dict[int, int] = {}

        def work(t: int, number=number, answers=answers):
            who = [c, boss, boss2][t]
            who.get("/api/v1/auth/sessions")
            if t == 0:
                return lambda: answers.__setitem__(0, c.post(f"/api/v1/orders/{number}/cancel",
                                                             json={"refund_to": "wallet"}).status_code)
            return lambda: answers.__setitem__(t, who.post(f"/api/v1/admin/orders/{number}/refund",
                                                           json={"reason": "race", "refund_to": "wallet"})
                                               .status_code)

        assert race(app, work, 3) == ["ok"] * 3, answers
        assert sorted(answers.values()) == [200, 409, 409], answers
        db.session.expire_all()
        order = db.session.scalar(db.select(Order).filter_by(number=number))
        credits = list(db.session.scalars(db.select(WalletEntry).filter_by(reference=number)))
        assert [e.amount_cents for e in credits] == [order.total_cents], (answers, credits)
        assert order.refunded_cents == order.total_cents and order.status == "refunded"
        assert not [m for m in db.session.scalars(db.select(OutboxMessage).filter_by(kind="refund"))
                    if m.payload.get("order_number") == number]
    user = db.session.scalar(db.select(User).filter_by(username="refundee"))
    assert user.wallet_balance_cents == sum(e.amount_cents for e in db.session.scalars(
        db.select(WalletEntry).filter_by(user_id=user.id)))
    _ledger_matches(db)


# ---- second factor: guessing codes from many addresses ----

def _wrong_code(secret: str) -> str:
    import pyotp

    now = pyotp.TOTP(secret)
    near = {now.at(__import__("time").time() + d) for d in (-60, -30, 0, 30, 60)}
    return next(c for c in (f"{i:06d}" for i in range(1000)) if c not in near)


def test_totp_guesses_are_limited_per_account_whatever_the_address(app, auth, api):
    """The website allows 5 second-factor tries per account in 5 minutes, wherever they come from; the API's
    sign-in took a code with the password, limited only per account *and address*: someone holding the password
    could try codes from as many addresses as they have (a botnet, or IPv6 /64s) at no cost."""
    auth.user("guarded", totp_secret=ADMIN_TOTP)
    wrong = _wrong_code(ADMIN_TOTP)
    answers = []
    for i in range(12):
        r = api.client.post("/api/v1/auth/token", json={"login": "guarded", "password": PASSWORD, "totp": wrong},
                            environ_base={"REMOTE_ADDR": f"203.0.113.{i + 1}"})
        answers.append((r.status_code, (r.get_json() or {}).get("error", {}).get("code")))
    assert answers[:5] == [(401, "invalid_totp")] * 5, answers
    assert answers[5:] == [(429, "rate_limited")] * 7, answers
    r = api.client.post("/api/v1/auth/token", json={"login": "guarded", "password": PASSWORD, "totp": wrong},
                        environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert_error(r, 429, "rate_limited")
    assert r.headers["Retry-After"].isdigit() and 1 <= int(r.headers["Retry-After"]) <= 300


def test_wrong_passwords_do_not_spend_the_owners_code_tries(app, auth, api):
    auth.user("owner", totp_secret=ADMIN_TOTP)
    for i in range(8):  # a stranger without the password, from many addresses
        r = api.client.post("/api/v1/auth/token", json={"login": "owner", "password": "not-it-at-all", "totp": "123456"},
                            environ_base={"REMOTE_ADDR": f"203.0.113.{i + 1}"})
        assert_error(r, 401, "invalid_credentials")
    assert api.sign_in("owner", totp_secret=ADMIN_TOTP).status_code == 200


@pytest.mark.backend_neutral  # routing and the error shape, with ids that name nothing: CI runs it on PostgreSQL only
def test_every_api_route_answers_json_to_every_method(app, customer_api):
    """Each /api rule, with its placeholders filled by a number that is nobody's, asked with every method (as
    a signed-in customer, with and without a body): never a 5xx, and every error in the API's shape."""
    import re as _re

    rules = [r for r in app.url_map.iter_rules() if r.rule.startswith("/api/v1/")]
    assert len(rules) > 40
    seen = 0
    for rule in rules:
        path = _re.sub(r"<any\([^)]*\):\w+>", "buy", rule.rule)
        path = _re.sub(r"<(?:int:)?\w+>|<string:\w+>", "987654", path)
        for method in ("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE", "TRACE"):
            for body in (None, {}):
                r = customer_api.client.open(path, method=method, headers=customer_api.headers, json=body)
                seen += 1
                where = (method, path, body, r.status_code, r.get_data(as_text=True)[:200])
                assert r.status_code < 500, where
                if r.status_code >= 400 and method != "HEAD":
                    assert_error(r, r.status_code)
    assert seen > 500


@pytest.mark.parametrize("suggestion", ["\x00nul", "\ud800", "x" * 199 + "\x00", "%" * 150, "a\\\\b'\"); --"])
def test_a_forged_cursor_cannot_smuggle_a_search(db, api, make_book, suggestion):
    """A catalog cursor is base64 JSON, not signed: its `s` (the corrected search of a "did you mean" listing)
    becomes the search of later pages. Text the query-string checks refuse (NUL, a lone surrogate) must not
    reach the database through it."""
    for i in range(3):
        make_book(f"Alpha {i}", on_hand=1, price_cents=1000)
    db.session.commit()
    first = api.get("/api/v1/books?limit=1")
    assert first.status_code == 200, first.get_json()
    cursor = first.get_json()["page"]["next_cursor"]
    data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    data["s"] = suggestion
    forged = base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    r = api.get(f"/api/v1/books?limit=1&cursor={forged}")
    assert r.status_code < 500, r.get_data(as_text=True)[:300]
    if r.status_code >= 400:
        assert_error(r, 422, "validation_failed")


@pytest.mark.parametrize("name", ["\x00", "Ann\ud800"])
def test_a_forged_author_cursor_cannot_smuggle_text(db, api, make_book, name):
    from webapp.models import Author

    for i in range(3):
        db.session.add(Author(name=f"Author {i}", slug=f"author-{i}"))
    db.session.commit()
    first = api.get("/api/v1/authors?limit=1")
    assert first.status_code == 200, first.get_json()
    cursor = first.get_json()["page"]["next_cursor"]
    data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    data["name"] = name
    forged = base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    assert_error(api.get(f"/api/v1/authors?limit=1&cursor={forged}"), 422, "validation_failed")


@pytest.mark.postgres
@pytest.mark.skipif(not using_postgres(), reason="needs TEST_DATABASE_URL (PostgreSQL)")
def test_sign_in_racing_a_password_change_leaves_no_live_token(app, db, auth):
    from webapp.models import User
    from webapp.services.people import accounts

    auth.user("changing")
    for round_ in range(5):
        old, new = (PASSWORD, PASSWORD + "-new") if round_ % 2 == 0 else (PASSWORD + "-new", PASSWORD)
        _sign_in_against_password_change(app, db, accounts, User, old, new)


def _sign_in_against_password_change(app, db, accounts, user_model, old: str, new: str) -> None:
    client = ApiClient(app)
    answers: dict[str, object] = {}

    def work(t: int):
        if t == 0:
            client.client.get("/api/v1/genres")

            def sign_in() -> None:
                r = client.sign_in("changing", old)
                answers["sign_in"] = (r.status_code, r.get_json())
            return sign_in
        user = db.session.scalar(db.select(user_model).filter_by(username="changing"))

        def change() -> None:
            accounts.set_password(user, new)
            accounts.end_sessions(user, reason="password_changed")
            answers["changed"] = True
        return change

    assert race(app, work, 2) == ["ok", "ok"], answers
    status, body = answers["sign_in"]
    assert status in (200, 401), answers
    if status == 200:
        assert client.get("/api/v1/me").status_code == 401, answers
        assert client.post("/api/v1/auth/refresh", json={"refresh_token": body["refresh_token"]}).status_code == 401
