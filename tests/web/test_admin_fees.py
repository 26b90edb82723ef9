"""The admin fees tab (admin.user_fees) and waiving a fee (admin.fee_waive): CSRF, reasons, htmx, audit, email."""
from __future__ import annotations

import re

from sqlalchemy import select

from tests.checkout_helpers import shopper
from tests.fee_helpers import late_return
from webapp.models import AuditLog, OutboundEmail, Rental
from webapp.services.circulation import fees


def _csrf(client, url: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(url).get_data(as_text=True)).group(1)


def test_tab_lists_fees_and_waives_part_then_all(app, db, admin_client):
    user = shopper("latey")
    rental = late_return(user, days_late=4)  # 4 x 50 = 200 due, nothing in the wallet
    url = f"/admin/users/{user.id}/fees"
    page = admin_client.get(url)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Late book" in html and "$2.00" in html and "<html" in html
    waive = f"/admin/users/{user.id}/fees/rental/{rental.id}/waive"
    token = _csrf(admin_client, url)
    response = admin_client.post(waive, data={"csrf_token": token, "amount": "0.50", "reason": "First time"})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Rental, rental.id).fee_waived_cents == 50
    assert fees.total_due(user.id) == 150
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "fee.waived"))
    assert entry.object_id == str(rental.id) and entry.note == "First time" and entry.after["waived_cents"] == 50
    mail = db.session.scalar(select(OutboundEmail).where(OutboundEmail.recipient == user.email)
                             .order_by(OutboundEmail.id.desc()))
    assert "waived $0.50" in mail.subject and "First time" in mail.body_text
    # htmx, the amount box left empty (a browser sends it as ""): all that is due; the partial comes back alone
    response = admin_client.post(waive, data={"csrf_token": token, "amount": "", "reason": "Goodwill"},
                                 headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html and 'id="user-fees"' in html
    assert "Waived $1.50" in html and "owes no fees" in html
    db.session.expire_all()
    assert db.session.get(Rental, rental.id).fee_due_cents == 0


def test_waive_needs_a_reason_csrf_and_a_fee_due(app, db, admin_client):
    user = shopper("latey")
    rental = late_return(user, days_late=2)
    url = f"/admin/users/{user.id}/fees"
    waive = f"/admin/users/{user.id}/fees/rental/{rental.id}/waive"
    assert admin_client.post(waive, data={"reason": "x"}).status_code == 400  # no CSRF token
    token = _csrf(admin_client, url)
    response = admin_client.post(waive, data={"csrf_token": token, "reason": ""}, headers={"HX-Request": "true"})
    assert response.status_code == 200 and "Give a reason" in response.get_data(as_text=True)
    response = admin_client.post(waive, data={"csrf_token": token, "reason": "too much", "amount": "5.00"},
                                 headers={"HX-Request": "true"})
    assert "Only $1.00 is due" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Rental, rental.id).fee_waived_cents == 0
    other = shopper("someone")
    assert admin_client.post(f"/admin/users/{other.id}/fees/rental/{rental.id}/waive",
                             data={"csrf_token": token, "reason": "x"}).status_code == 404  # not theirs
    assert admin_client.post(f"/admin/users/{user.id}/fees/order/{rental.id}/waive",
                             data={"csrf_token": token, "reason": "x"}).status_code == 404
    assert admin_client.get("/admin/users/999999/fees").status_code == 404


def test_customers_cannot_open_the_tab(app, db, client, auth):
    user = auth.user("reader1")
    auth.login("reader1")
    assert client.get(f"/admin/users/{user.id}/fees").status_code == 403


def test_the_lost_view_lists_lost_rentals_and_taking_one_back_reverses_it(app, db, admin_client):
    from datetime import timedelta

    from tests.fee_helpers import rental_out
    from webapp.models import utcnow
    from webapp.services.circulation import lost

    user = shopper("loser")
    rental = rental_out(user, title="Gone Missing", price_cents=1000, due_at=utcnow() - timedelta(days=31, hours=1))
    assert lost.mark_lost_due() == 1
    db.session.commit()
    html = admin_client.get("/admin/rentals?view=lost").get_data(as_text=True)
    assert "Gone Missing" in html and "Lost" in html
    assert "charged the replacement price, $10.00" in html and "Found: take back" in html
    assert user.email in html and f"#{user.id}" not in html  # the customer by name, never "#12"
    assert "Gone Missing" not in admin_client.get("/admin/rentals?view=overdue").get_data(as_text=True)
    token = _csrf(admin_client, "/admin/rentals?view=lost")
    response = admin_client.post(f"/admin/rentals/{rental.id}/return?view=lost", data={"csrf_token": token})
    assert response.status_code == 303
    db.session.expire_all()
    row = db.session.get(Rental, rental.id)
    assert (row.status, row.fee_cents) == ("returned", 1000)  # 32 days x 50, capped at the price
    table = admin_client.get("/admin/rentals?view=lost", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Gone Missing" not in table and "No rentals here." in table
