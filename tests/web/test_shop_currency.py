"""Prices are labelled and read in the shop's currency (the CURRENCY setting), not always in dollars."""
from sqlalchemy import select

from tests.checkout_helpers import pay, start
from tests.factories import make_book
from webapp.models import DiscountCode


def test_filter_and_top_up_labels_name_the_shops_currency(app, client, auth, monkeypatch):
    page = client.get("/books").get_data(as_text=True)
    assert "Min price ($)" in page and "Max price ($)" in page  # the default: USD
    monkeypatch.setitem(app.config, "CURRENCY", "eur")
    page = client.get("/books?min_price=5&max_price=12.5").get_data(as_text=True)
    assert "Min price (€)" in page and "Max price (€)" in page and "($)" not in page
    auth.user()
    auth.login()
    wallet = client.get("/account/wallet").get_data(as_text=True)
    assert "Amount (€)" in wallet and "USD" not in wallet


def test_discount_amounts_are_read_and_shown_in_the_shops_currency(app, admin_client, auth, db, monkeypatch):
    monkeypatch.setitem(app.config, "CURRENCY", "eur")
    form = {"code": "EURO5", "description": "", "kind": "fixed", "value": "€5.50", "min_subtotal": "€1,020.00",
            "starts_at": "", "ends_at": "", "max_uses": "", "max_uses_per_user": "", "active": "y",
            "csrf_token": auth.csrf(admin_client)}
    assert admin_client.post("/admin/discounts/new", data=form).status_code == 303
    found = db.session.scalars(select(DiscountCode).where(DiscountCode.code == "EURO5")).one()
    assert (found.value, found.min_subtotal_cents) == (550, 102000)
    page = admin_client.get(f"/admin/discounts/{found.id}/edit").get_data(as_text=True)
    assert 'value="5.50"' in page and 'value="1020.00"' in page
    assert "€5.50" in admin_client.get("/admin/discounts").get_data(as_text=True)


def test_an_order_shows_the_currency_it_was_paid_in_after_the_shop_changes_currency(app, client, auth, db,
                                                                                    monkeypatch):
    """Changing CURRENCY must not relabel past receipts: an order keeps the currency it was charged in."""
    user = auth.user()
    book = make_book("Old Money", price_cents=1500)
    db.session.commit()
    order = start(user, [(book, 1, "buy", 7)])
    pay(order)
    auth.login()
    assert "$15.00" in client.get(f"/orders/{order.number}").get_data(as_text=True)
    monkeypatch.setitem(app.config, "CURRENCY", "eur")
    page = client.get(f"/orders/{order.number}").get_data(as_text=True)
    assert "$15.00" in page and "€15.00" not in page
    listing = client.get("/orders").get_data(as_text=True)
    assert f"{order.number}" in listing and "€" not in listing
