"""Admin: payments the shop could not settle by itself are listed, counted on the home page and resolved once."""
from sqlalchemy import select

from tests.checkout_helpers import settle, shopper, start
from webapp.models import AuditLog, PaymentIssue


def _mismatch(make_book):
    order = start(shopper(), [(make_book(on_hand=2, price_cents=2500), 1, "buy", 1)])
    assert settle(order, "pi_short", amount=100) == "mismatch"
    from webapp.extensions import db

    db.session.commit()
    return order


def test_a_mismatched_payment_shows_on_the_home_page_and_can_be_resolved(admin_client, db, make_book, auth):
    empty = admin_client.get("/admin/payments").get_data(as_text=True)
    assert "Nothing to check: every payment is settled." in empty
    order = _mismatch(make_book)
    home = admin_client.get("/admin").get_data(as_text=True)
    assert 'data-testid="payment-issues">1</strong> issue<' in home
    page = admin_client.get("/admin/payments").get_data(as_text=True)
    assert order.number in page and "$1.00" in page and "Paid amount did not match" in page
    assert "Provider work waiting: <strong>1</strong>" in page  # the refund, not yet delivered
    issue = db.session.scalars(select(PaymentIssue)).one()

    refused = auth.post(f"/admin/payments/{issue.id}/resolve", {"note": "   "}, client=admin_client)
    assert refused.status_code == 303
    db.session.expire_all()
    assert db.session.get(PaymentIssue, issue.id).resolved_at is None
    done = auth.post(f"/admin/payments/{issue.id}/resolve", {"note": "Customer told; refund seen at the bank"},
                     client=admin_client)
    assert done.status_code == 303
    db.session.expire_all()
    resolved = db.session.get(PaymentIssue, issue.id)
    assert resolved.resolved_at is not None and resolved.resolution == "Customer told; refund seen at the bank"
    again = auth.post(f"/admin/payments/{issue.id}/resolve", {"note": "twice"}, client=admin_client,
                      follow_redirects=True)
    assert "already resolved" in again.get_data(as_text=True)
    assert db.session.scalar(select(AuditLog.id).where(AuditLog.action == "payment.issue_resolved"))
    assert "Nothing to check" in admin_client.get("/admin/payments").get_data(as_text=True)
    assert "Customer told" in admin_client.get("/admin/payments?state=resolved").get_data(as_text=True)
    assert 'data-testid="payment-issues">0</strong>' in admin_client.get("/admin").get_data(as_text=True)


def test_payment_issues_are_for_admins_only(client, auth, db, make_book):
    auth.user("nosy")
    auth.login("nosy")
    assert client.get("/admin/payments").status_code == 403
    assert auth.post("/admin/payments/1/resolve", {"note": "x"}).status_code == 403
