import re

from sqlalchemy import select

from tests.checkout_helpers import deliver, settle, start
from webapp.models import Inventory, Rental, User


def _rent(db, username, make_book):
    book = make_book("Page Rental", on_hand=2)
    user = db.session.scalars(select(User).where(User.username == username)).one()
    order = start(user, [(book, 1, "rent", 2)])
    settle(order, "pi_p", order.total_cents)
    db.session.commit()
    deliver(order)  # the loan starts at delivery
    return book, db.session.scalars(select(Rental)).one()


def test_customer_sees_and_renews_their_rental(client, auth, db, make_book):
    auth.user("renter")
    auth.login("renter")
    _book, rental = _rent(db, "renter", make_book)
    page = client.get("/account/rentals").get_data(as_text=True)
    assert "Page Rental" in page and "Renew" in page
    r = auth.post(f"/account/rentals/{rental.id}/renew")
    assert r.status_code == 303
    assert "renewed once" in client.get("/account/rentals").get_data(as_text=True)


def test_other_customers_cannot_renew_or_see_it(client, auth, db, make_book):
    auth.user("renter")
    _book, rental = _rent(db, "renter", make_book)
    auth.user("nosy")
    auth.login("nosy")
    assert "Page Rental" not in client.get("/account/rentals").get_data(as_text=True)
    assert auth.post(f"/account/rentals/{rental.id}/renew").status_code == 404


def test_admin_marks_a_rental_returned(admin_client, auth, db, make_book):
    auth.user("renter")
    book, rental = _rent(db, "renter", make_book)
    page = admin_client.get("/admin/rentals").get_data(as_text=True)
    assert "Page Rental" in page and "Mark returned" in page
    fragment = admin_client.get("/admin/rentals?view=overdue", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in fragment and "No rentals here." in fragment
    token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
    r = admin_client.post(f"/admin/rentals/{rental.id}/return", data={"csrf_token": token})
    assert r.status_code == 303
    db.session.expire_all()
    assert db.session.get(Rental, rental.id).status == "returned"
    assert db.session.get(Inventory, book.id).on_hand == 2
    assert "back on the shelf" in admin_client.get("/admin/rentals?view=returned").get_data(as_text=True)
