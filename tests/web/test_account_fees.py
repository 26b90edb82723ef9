"""The fees box on /account/rentals and its "Pay now" buttons (webapp/account/fees.py): from the wallet (all fees
or one, plain POST with a 303 or htmx with the box again), by card (a top-up of exactly the fees due)."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from tests.fee_helpers import late_return, rental_out
from webapp.models import Charge, Rental, User, utcnow
from webapp.services.circulation import fees, lost, wallet


def _customer(db, auth, username="payer", wallet_cents=0, days_late=4):
    auth.user(username)
    auth.login(username)
    user = db.session.scalar(select(User).where(User.username == username))
    rental = late_return(user, days_late=days_late)  # 50 a day, nothing in the wallet yet
    if wallet_cents:
        wallet.credit(user.id, wallet_cents, "adjustment", reference="gift")
        db.session.commit()
    return user, rental


def test_the_box_shows_each_fee_the_total_and_the_buttons(client, auth, db):
    _user, _rental = _customer(db, auth, wallet_cents=100)
    html = client.get("/account/rentals").get_data(as_text=True)
    assert 'id="fees-due"' in html and "Fees to pay" in html
    assert "You owe <strong data-testid=\"fees-total\">$2.00</strong>" in html
    assert "Late book" in html and "Late return" in html
    assert "Pay now from my wallet" in html and "Pay $2.00 by card" in html


def test_no_fees_no_box(client, auth, db):
    auth.user("clean")
    auth.login("clean")
    html = client.get("/account/rentals").get_data(as_text=True)
    assert "Fees to pay" not in html and 'id="fees-due"' in html  # the empty target stays for htmx
    r = auth.post("/account/fees/pay")
    assert r.status_code == 303 and r.headers["Location"].endswith("/account/rentals")
    assert "You have no fees to pay." in client.get("/account/rentals").get_data(as_text=True)
    r = auth.post("/account/fees/pay-by-card")
    assert r.status_code == 303 and r.headers["Location"].endswith("/account/rentals")
    assert not db.session.scalar(select(Charge))


def test_pay_now_from_the_wallet_in_part_then_all(client, auth, db):
    user, rental = _customer(db, auth, wallet_cents=150)
    r = auth.post("/account/fees/pay")
    assert r.status_code == 303
    html = client.get("/account/rentals").get_data(as_text=True)
    assert "Paid $1.50 from your wallet. $0.50 is still due" in html
    wallet.credit(user.id, 500, "adjustment", reference="gift2")
    db.session.commit()
    r = auth.post("/account/fees/pay", headers={"HX-Request": "true"})
    body = r.get_data(as_text=True)
    assert r.status_code == 200 and "<html" not in body and 'id="fees-due"' in body
    assert "Paid $0.50 from your wallet. Your fees are settled." in body
    db.session.expire_all()
    assert db.session.get(Rental, rental.id).fee_due_cents == 0 and wallet.balance(user.id) == 450
    assert fees.total_due(user.id) == 0


def test_pay_one_fee_and_an_empty_wallet_says_so(client, auth, db):
    user, rental = _customer(db, auth)
    r = auth.post(f"/account/fees/rental/{rental.id}/pay", headers={"HX-Request": "true"})
    assert "Your wallet is empty, so nothing was paid: $2.00 is still due." in r.get_data(as_text=True)
    wallet.credit(user.id, 1000, "adjustment", reference="gift")
    db.session.commit()
    r = auth.post(f"/account/fees/rental/{rental.id}/pay")
    assert r.status_code == 303
    db.session.expire_all()
    assert db.session.get(Rental, rental.id).fee_due_cents == 0 and wallet.balance(user.id) == 800
    # paid now: nothing due on it any more, so it is not found
    assert auth.post(f"/account/fees/rental/{rental.id}/pay").status_code == 404


def test_another_customers_fee_is_not_found(client, auth, db):
    _owner, rental = _customer(db, auth, username="owner")
    auth.logout()
    auth.user("nosy")
    auth.login("nosy")
    assert auth.post(f"/account/fees/rental/{rental.id}/pay").status_code == 404
    assert auth.post(f"/account/fees/loan/{rental.id}/pay").status_code == 404
    assert "Late book" not in client.get("/account/rentals").get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Rental, rental.id).fee_paid_cents == 0


def test_pay_buttons_need_the_csrf_token(client, auth, db):
    _user, rental = _customer(db, auth, wallet_cents=500)
    assert client.post("/account/fees/pay").status_code == 400
    assert client.post(f"/account/fees/rental/{rental.id}/pay").status_code == 400
    assert client.post("/account/fees/pay-by-card").status_code == 400
    db.session.expire_all()
    assert db.session.get(Rental, rental.id).fee_paid_cents == 0


def test_signed_out_visitors_are_sent_to_sign_in(client, db):
    r = client.post("/account/fees/pay")
    assert r.status_code in (302, 303, 400)  # login first (or CSRF refused): never paid


def test_pay_by_card_opens_a_payment_for_exactly_the_fees(client, auth, db):
    user, _rental = _customer(db, auth, days_late=2)  # $1.00: below the top-up minimum
    r = auth.post("/account/fees/pay-by-card")
    assert r.status_code == 303 and "/pay/test/" in r.headers["Location"]
    charge = db.session.scalar(select(Charge).where(Charge.user_id == user.id))
    assert (charge.purpose, charge.amount_cents, charge.status) == ("top_up", 100, "pending")
    # the test gateway's page, paid: the top-up lands in the wallet and pays the fee
    page = client.get(r.headers["Location"])
    assert page.status_code == 200
    from webapp.services.commerce import charges, test_gateway
    assert test_gateway.TestGateway().pay(charge.payment_session_id, "4242424242424242", 12, 2099, "123") is None
    db.session.commit()
    done = client.get(f"/account/payments/{charge.reference}")
    assert done.status_code == 200
    db.session.expire_all()
    assert fees.total_due(user.id) == 0 and wallet.balance(user.id) == 0
    assert charges.by_reference(user.id, charge.reference).status == "paid"


def test_a_lost_rental_stays_on_the_rentals_page(client, auth, db):
    """A book counted as lost is not returned: the customer still sees it (and may send it back)."""
    auth.user("loser")
    auth.login("loser")
    user = db.session.scalar(select(User).where(User.username == "loser"))
    rental_out(user, title="Never Came Back", price_cents=1000, due_at=utcnow() - timedelta(days=31, hours=1))
    assert lost.mark_lost_due() == 1
    db.session.commit()
    html = client.get("/account/rentals").get_data(as_text=True)
    row = html.split('data-testid="active-rental" data-state="lost"')[1].split("</tr>")[0]
    assert "Never Came Back" in row and "Counted as lost" in row and "charged its price, $10.00" in row
    assert 'data-testid="return-details"' in html  # where to send it back
