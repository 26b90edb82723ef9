"""Holds, plan and top-up pages through the test client: forms, CSRF, ownership, messages."""
import re
from datetime import timedelta

from sqlalchemy import select

from tests.checkout_helpers import settle, start
from webapp.models import Charge, Hold, Rental, Subscription, User, utcnow
from webapp.services.circulation import holds, plan_staff, wallet


def _out_of_stock(db, make_book, renter):
    """A book whose one copy is rented out by `renter`."""
    book = make_book("Queue Book", on_hand=1)
    order = start(renter, [(book, 1, "rent", 3)])
    settle(order, "pi_q", order.card_cents)
    db.session.commit()
    return book


def test_place_see_position_and_cancel_a_hold(client, auth, db, make_book):
    renter = auth.user("renter")
    book = _out_of_stock(db, make_book, renter)
    page = client.get(f"/books/{book.id}").get_data(as_text=True)
    assert "Out of stock" in page and "Sign in</a> to place a hold" in page
    auth.user("queuer")
    auth.login("queuer")
    page = client.get(f"/books/{book.id}").get_data(as_text=True)
    assert 'data-testid="place-hold"' in page
    r = auth.post("/account/holds", {"book_id": book.id})
    assert r.status_code == 303
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "number 1</strong> in the queue" in page and "You are number 1 in the queue" in page
    listing = client.get("/account/holds").get_data(as_text=True)
    assert "Queue Book" in listing and "Number 1 in the queue" in listing
    r = auth.post("/account/holds", {"book_id": book.id})  # twice: a clear message, no second hold
    assert "You already hold this book." in client.get(r.headers["Location"]).get_data(as_text=True)
    hold = db.session.scalars(select(Hold)).one()
    r = auth.post(f"/account/holds/{hold.id}/cancel", {"next": f"/books/{book.id}"})
    assert r.status_code == 303 and r.headers["Location"] == f"/books/{book.id}"
    db.session.expire_all()
    assert db.session.get(Hold, hold.id).status == "cancelled"


def test_holds_are_private(client, auth, db, make_book):
    owner = auth.user("owner")
    book = _out_of_stock(db, make_book, auth.user("renter"))
    hold = holds.place(owner, book)
    db.session.commit()
    auth.user("nosy")
    auth.login("nosy")
    assert "Queue Book" not in client.get("/account/holds").get_data(as_text=True)
    assert auth.post(f"/account/holds/{hold.id}/cancel").status_code == 404
    assert auth.post("/account/holds", {"book_id": 999999}).status_code == 404
    assert auth.post("/account/holds", {"book_id": "abc"}).status_code == 404
    db.session.expire_all()
    assert db.session.get(Hold, hold.id).status == "waiting"


def test_holds_require_sign_in_and_csrf(client, auth, db, make_book):
    book = _out_of_stock(db, make_book, auth.user("renter"))
    r = auth.post("/account/holds", {"book_id": book.id})
    assert r.status_code in (302, 303) and "/login" in r.headers["Location"]
    auth.user("queuer")
    auth.login("queuer")
    assert client.post("/account/holds", data={"book_id": book.id}).status_code == 400  # no CSRF token


def test_admin_sees_holds_and_a_return_goes_to_the_queue(admin_client, auth, db, make_book):
    renter = auth.user("renter")
    book = _out_of_stock(db, make_book, renter)
    waiting = auth.user("waiting")
    holds.place(waiting, book)
    db.session.commit()
    page = admin_client.get("/admin/holds?view=waiting").get_data(as_text=True)
    assert "Queue Book" in page and "number 1 in the queue" in page
    rentals_page = admin_client.get("/admin/rentals").get_data(as_text=True)
    token = re.search(r'"X-CSRFToken": "([^"]+)"', rentals_page).group(1)
    rental = db.session.scalars(select(Rental)).one()
    r = admin_client.post(f"/admin/rentals/{rental.id}/return", data={"csrf_token": token})
    assert r.status_code == 303
    assert "set aside for the next reader" in admin_client.get("/admin/rentals").get_data(as_text=True)
    fragment = admin_client.get("/admin/holds?view=ready", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in fragment and "set aside until" in fragment
    assert admin_client.get("/admin/holds?view=zzz&page=-3").status_code == 200


def test_customers_cannot_open_the_admin_holds_screen(client, auth):
    auth.user("customer")
    auth.login("customer")
    assert client.get("/admin/holds").status_code == 403


def test_subscribe_from_the_wallet_and_cancel(client, auth, db):
    user = auth.user("member")
    wallet.credit(user.id, 2000, "top_up", reference="t")
    db.session.commit()
    auth.login("member")
    page = client.get("/account/subscription").get_data(as_text=True)
    assert 'data-testid="current-plan">Free<' in page and "Subscribe" in page
    r = auth.post("/account/subscription", {"tier": "plus", "pay_with": "wallet"})
    assert r.status_code == 303
    page = client.get("/account/subscription").get_data(as_text=True)
    assert "Welcome to Plus!" in page and 'data-testid="current-plan">Plus<' in page
    assert wallet.balance(user.id) == 2000 - 799
    r = auth.post("/account/subscription", {"tier": "free"})
    page = client.get("/account/subscription").get_data(as_text=True)
    assert "Your plan ends on" in page and "Your plan becomes <strong>Free</strong>" in page
    assert auth.post("/account/subscription", {"tier": "gold"}).status_code == 303  # refused, with a message
    assert db.session.get(Subscription, user.id).tier == "plus"


def test_plan_without_funds_offers_the_card(client, auth, db):
    auth.user("poor")
    auth.login("poor")
    r = auth.post("/account/subscription", {"tier": "premium", "pay_with": "wallet"})
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "Pay by card or top up your wallet" in page
    r = auth.post("/account/subscription", {"tier": "premium", "pay_with": "card"})
    assert r.status_code == 303 and r.headers["Location"].startswith("/pay/test/cs_test_")
    charge = db.session.scalars(select(Charge)).one()
    assert (charge.purpose, charge.tier, charge.amount_cents, charge.status) == ("subscription", "premium", 1499,
                                                                                "pending")


def test_top_up_form(app, client, auth, db, run_jobs):
    user = auth.user("topper")
    auth.login("topper")
    page = client.get("/account/wallet").get_data(as_text=True)
    assert 'data-testid="top-up"' in page
    r = auth.post("/account/wallet/top-up", {"amount": "1.00"})
    assert "Top-ups are from $5.00 to $500.00." in client.get(r.headers["Location"]).get_data(as_text=True)
    r = auth.post("/account/wallet/top-up", {"amount": "not money"})
    assert r.status_code == 303 and db.session.scalar(select(Charge)) is None
    r = auth.post("/account/wallet/top-up", {"amount": "25.00"})
    pay_url = r.headers["Location"]
    assert pay_url.startswith("/pay/test/")
    pay_page = client.get(pay_url).get_data(as_text=True)
    assert "$25.00" in pay_page
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', pay_page).group(1)
    r = client.post(pay_url, data={"csrf_token": token, "card_number": "4242 4242 4242 4242", "exp_month": "12",
                                   "exp_year": "2099", "cvc": "123", "name": "Top Upper"})
    assert r.status_code == 303 and "/account/payments/CH-" in r.headers["Location"]
    assert r.headers["Location"].startswith("http://shop.test/account/payments/CH-")  # PUBLIC_URL, not the Host
    done = client.get(r.headers["Location"].removeprefix("http://shop.test")).get_data(as_text=True)
    assert 'data-testid="charge-paid"' in done and "added to your wallet" in done
    run_jobs()
    assert wallet.balance(user.id) == 2500
    charge = db.session.scalars(select(Charge)).one()
    auth.user("other")
    other = app.test_client()
    auth.login("other", client=other)
    assert other.get(f"/account/payments/{charge.reference}").status_code == 404


def test_cart_rental_length_follows_the_plan(client, auth, db, make_book):
    book = make_book("Long Loan", on_hand=3)
    page = client.get(f"/books/{book.id}").get_data(as_text=True)
    assert page.count('<option value="', page.index('id="rent-days"')) >= 14  # visitors see every plan's lengths
    user = auth.user("freebie")
    auth.login("freebie")
    page = client.get(f"/books/{book.id}").get_data(as_text=True)
    select_html = page[page.index('id="rent-days"'):page.index("</select>", page.index('id="rent-days"'))]
    assert select_html.count("<option") == 3
    r = auth.post("/cart/add", {"book_id": book.id, "mode": "rent", "days": 7}, headers={"HX-Request": "true"})
    assert "Rentals are 1 to 3 days on your plan." in r.get_data(as_text=True)
    now = utcnow()
    db.session.add(Subscription(user_id=user.id, tier="premium", current_period_start=now,
                                current_period_end=now + timedelta(days=30)))
    db.session.commit()
    r = auth.post("/cart/add", {"book_id": book.id, "mode": "rent", "days": 14}, headers={"HX-Request": "true"})
    assert "Rental added" in r.get_data(as_text=True) or "Added" in r.get_data(as_text=True)
    assert "for 14 days" in client.get("/cart").get_data(as_text=True)
    assert db.session.get(User, user.id) is not None


def test_plan_page_queue_notes_come_from_the_plan_table(client, auth):
    auth.user("reader")
    auth.login("reader")
    page = client.get("/account/subscription").get_data(as_text=True)
    notes = re.findall(r"<li>Held copies wait (\d+) days([^<]*)</li>", page)
    assert notes == [("2", ""), ("4", "; ahead of Free in holds queues"), ("7", "; first in every holds queue")]


def test_holds_pages_name_the_plan_priority_and_how_closed_holds_ended(client, admin_client, auth, db, make_book):
    book = _out_of_stock(db, make_book, auth.user("renter"))
    plus, free = auth.user("plusreader"), auth.user("freereader")
    db.session.add(Subscription(user_id=plus.id, tier="plus", current_period_start=utcnow(),
                                current_period_end=utcnow() + timedelta(days=30)))
    db.session.commit()
    holds.place(plus, book)
    gone = holds.place(free, book)
    db.session.commit()
    rows = re.findall(r'<tr data-testid="hold-row">\s*<td>Queue Book</td>\s*<td>.*?</td>\s*<td>(\w+)</td>',
                      admin_client.get("/admin/holds?view=waiting").get_data(as_text=True), re.S)
    assert rows == ["Plus", "Free"]
    holds.cancel(gone, free)
    db.session.commit()
    auth.login("freereader")
    page = client.get("/account/holds").get_data(as_text=True)
    assert "Queue Book: cancelled" in page


def test_a_plan_staff_gave_reads_free_until_on_the_plan_page(client, auth, db):
    boss = auth.user("boss")
    reader = auth.user("comped")
    plan_staff.comp(boss, reader, "plus", 2, seen=plan_staff.stamp(None))
    db.session.commit()
    auth.login("comped")
    page = client.get("/account/subscription").get_data(as_text=True)
    ends = db.session.get(Subscription, reader.id).comped_until
    assert f'data-testid="plan-free-until">Free until <strong>{ends:%-d %B %Y}</strong>' in page
    assert "Then it renews on" in page or "Your plan becomes" in page
