"""Low-stock alerts follow every stock path, open once per book, close on restock, and are emailed once."""
from sqlalchemy import func, select

from tests.checkout_helpers import settle, shopper, start
from webapp.models import Inventory, OutboundEmail, StockAlert
from webapp.services.inventory import alerts, stock


def _open(db, book_id):
    return db.session.scalars(select(StockAlert).where(StockAlert.book_id == book_id,
                                                       StockAlert.resolved_at.is_(None))).all()


def test_checkout_crossing_the_threshold_raises_one_alert_and_restock_closes_it(app, db, make_book):
    book = make_book("Nearly Gone", on_hand=5)  # default threshold 3
    assert _open(db, book.id) == []
    user = shopper()
    order = start(user, [(book, 2, "buy", 0)])  # 5 -> 3 available: at the threshold
    [alert] = _open(db, book.id)
    assert (alert.available, alert.threshold) == (3, 3)
    settle(order, "pi_a", order.card_cents)  # a sale moves on_hand and reserved together: available stays 3, nothing new
    stock.adjust(book.id, -2, "adjustment", note="damaged")  # 3 -> 1: still the same open alert
    db.session.commit()
    assert len(_open(db, book.id)) == 1
    stock.adjust(book.id, 10, "restock")
    db.session.commit()
    assert _open(db, book.id) == []
    stock.adjust(book.id, -10, "adjustment", note="stocktake")  # falls again: a new alert
    db.session.commit()
    assert len(_open(db, book.id)) == 1
    assert db.session.scalar(select(func.count()).select_from(StockAlert).where(StockAlert.book_id == book.id)) == 2


def test_per_book_threshold_and_new_books(app, db, make_book):
    low_start = make_book("Two Copies", on_hand=2)
    assert _open(db, low_start.id) == []  # a new book raises nothing until its stock moves
    stock.adjust(low_start.id, -2, "adjustment", note="damaged")  # runs out: low or out of stock alike
    db.session.commit()
    assert [a.available for a in _open(db, low_start.id)] == [0]
    book = make_book("Watched Closely", on_hand=12)
    db.session.get(Inventory, book.id).low_stock_threshold = 10
    db.session.flush()
    alerts.recheck(book.id)
    db.session.commit()
    assert _open(db, book.id) == []
    stock.adjust(book.id, -2, "adjustment", note="lost")  # 12 -> 10
    db.session.commit()
    [alert] = _open(db, book.id)
    assert alert.threshold == 10


def test_daily_digest_emails_each_admin_once(app, db, make_book, auth):
    auth.user("boss1", role="admin")
    auth.user("boss2", role="admin")
    auth.user("reader", role="customer")
    low = make_book("Low One", on_hand=4)
    plenty = make_book("Plenty", on_hand=50)
    stock.adjust(low.id, -3, "adjustment", note="damaged")
    stock.adjust(plenty.id, -3, "adjustment", note="damaged")
    db.session.commit()
    assert alerts.send_digest() == {"alerts": 1, "emails": 2}
    db.session.commit()
    assert alerts.send_digest() == {"alerts": 0, "emails": 0}  # already told
    mails = db.session.scalars(select(OutboundEmail).where(OutboundEmail.subject.contains("low on stock"))).all()
    assert sorted(m.recipient for m in mails) == ["boss1@example.com", "boss2@example.com"]
    assert "Low One" in mails[0].body_text and "Plenty" not in mails[0].body_text
