"""Issue 17, hostile races on real PostgreSQL (one connection per thread, released together): claiming guest
orders from several sign-ins at once, "Notify me" pressed in several tabs at once, restocks racing a shopper
asking again, and guests from different browsers racing for the last copy. Invariants read back: each order
claimed once (one audit entry), one request row, one email, never more copies reserved than on hand."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from tests.concurrency import race
from tests.conftest import using_postgres
from webapp.models import AuditLog, BackInStockRequest, Inventory, Order, OutboundEmail, User

pytestmark = pytest.mark.skipif(not using_postgres(), reason="needs TEST_DATABASE_URL (PostgreSQL): "
                                "SQLite serialises writers")


def _guest_orders(db, make_book, email: str, n: int) -> list[str]:
    from webapp.services.commerce import cart, checkout

    book = make_book("Claimed", on_hand=n + 2)
    address = checkout.ShippingAddress("Vic", "1 Main St", "Springfield", "12345", "US")
    numbers = []
    for _ in range(n):
        order, _ = checkout._reserve_guest([cart.CartItem(book.id, "buy", 1)], address, email=email, code=None,
                                           success_url=lambda o: "/ok", token=checkout.new_token(),
                                           delivery_method="post")
        numbers.append(order.number)
    db.session.commit()
    return numbers


@pytest.mark.parametrize("round_", range(3))
def test_sign_ins_at_once_claim_each_guest_order_once(app, db, auth, make_book, round_):
    numbers = _guest_orders(db, make_book, "victim@example.com", 3)
    owner = auth.user("victim", email="victim@example.com")
    owner_id = owner.id
    counts: list[int] = []

    def work(i: int):
        from webapp.extensions import db as tdb
        from webapp.services.commerce import guests

        user = tdb.session.get(User, owner_id)
        return lambda: counts.append(guests.claim(user))

    assert race(app, work, 5) == ["ok"] * 5
    assert sorted(counts) == [0, 0, 0, 0, 3]
    db.session.expire_all()
    owners = db.session.scalars(select(Order.user_id).where(Order.number.in_(numbers))).all()
    assert owners == [owner_id] * 3
    assert db.session.scalar(select(func.count()).select_from(AuditLog).where(
        AuditLog.action == "order.claimed")) == 1


def test_two_accounts_cannot_share_an_address_to_claim(app, db, auth, make_book):
    """Emails are one per account whatever their letter case, so no second account can claim the same orders."""
    from webapp.services.people import accounts

    auth.user("victim", email="victim@example.com")
    with pytest.raises(accounts.AccountError):
        accounts.create_user("twin", "VICTIM@Example.com", "correct horse battery staple 42", verified=True)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(User)) == 1


@pytest.mark.parametrize("round_", range(3))
def test_notify_me_from_many_tabs_is_one_request(app, db, auth, make_book, round_):
    book_id = make_book("Gone", on_hand=0).id
    auth.user("fan")
    first = app.test_client()
    assert auth.login("fan", client=first).status_code == 303
    token = auth.csrf(first)
    cookie = first.get_cookie("session").value
    tabs = [first]
    for _ in range(4):
        tab = app.test_client()
        tab.set_cookie("session", cookie)
        tabs.append(tab)
    codes: list[int | str] = []

    def work(i: int):
        tabs[i].get("/cart/mini")

        def send():
            try:
                codes.append(tabs[i].post(f"/books/{book_id}/notify", data={"csrf_token": token}).status_code)
            except Exception as exc:  # a crash in the view counts as a 500
                codes.append(f"{type(exc).__name__}: {exc}")
        return send

    assert race(app, work, 5) == ["ok"] * 5
    assert codes == [303] * 5, codes
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(BackInStockRequest)) == 1


@pytest.mark.parametrize("round_", range(3))
def test_a_restock_racing_a_second_ask_emails_once(app, db, auth, make_book, round_):
    from webapp.services.catalog import back_in_stock

    book = make_book("Back Soon", on_hand=0)
    user = auth.user("fan")
    back_in_stock.ask(user, book)
    db.session.commit()
    book_id, user_id = book.id, user.id

    def work(i: int):
        from webapp.extensions import db as tdb
        from webapp.models import Book
        from webapp.services.inventory import stock

        if i < 2:
            stock.state(book_id)
            return lambda: stock.adjust(book_id, 1, "restock")
        shopper, wanted = tdb.session.get(User, user_id), tdb.session.get(Book, book_id)

        def ask_again():
            try:
                back_in_stock.ask(shopper, wanted)
            except back_in_stock.NotifyError:
                pass  # it is in stock by now
        return ask_again

    outcomes = race(app, work, 3)
    assert outcomes == ["ok"] * 3, outcomes
    db.session.expire_all()
    emails = db.session.scalar(select(func.count()).select_from(OutboundEmail).where(
        OutboundEmail.recipient == "fan@example.com"))
    row = db.session.scalars(select(BackInStockRequest)).one()
    assert emails == 1 or (emails == 0 and row.notified_at is None), (emails, row.notified_at)


@pytest.mark.parametrize("round_", range(3))
def test_guests_in_different_browsers_race_for_the_last_copy(app, db, auth, make_book, round_):
    book = make_book("Last Copy", on_hand=1)
    n = 4
    browsers, data = [], []
    for i in range(n):
        browser = app.test_client()
        auth.post("/cart/add", {"book_id": book.id, "mode": "buy"}, client=browser)
        page = browser.get("/checkout").get_data(as_text=True)
        form_token = re.search(r'name="token" type="hidden" value="([^"]+)"', page).group(1)
        browsers.append(browser)
        data.append({"email": f"g{i}@example.com", "address_id": "new", "full_name": "G", "line1": "1 Main St",
                     "city": "Springfield", "postcode": "12345", "country": "US", "token": form_token,
                     "csrf_token": auth.csrf(browser)})
    answers: list[tuple[int, str] | str] = []

    def work(i: int):
        browsers[i].get("/cart/mini")

        def send():
            try:
                r = browsers[i].post("/checkout", data=data[i])
                answers.append((r.status_code, r.headers.get("Location", "")))
            except Exception as exc:
                answers.append(f"{type(exc).__name__}: {exc}")
        return send

    assert race(app, work, n) == ["ok"] * n
    assert all(isinstance(a, tuple) and a[0] == 303 for a in answers), answers
    assert sum(a[1].startswith("/pay/test/") for a in answers) == 1, answers
    db.session.expire_all()
    inventory = db.session.get(Inventory, book.id)
    assert inventory.reserved == 1 and inventory.on_hand == 1
    assert db.session.scalar(select(func.count()).select_from(Order).where(
        Order.status == "pending_payment")) == 1
