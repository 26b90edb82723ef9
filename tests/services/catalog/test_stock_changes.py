"""Staff stock changes: a count set (never below reserved, through the ledger) and adjustments with a reason."""
import pytest
from sqlalchemy import func, select

from webapp.models import AuditLog, StockMovement, User
from webapp.services.catalog import stock_changes
from webapp.services.catalog.book_values import CatalogError
from webapp.services.inventory import stock


def _admin(db):
    user = User(username="ops", email="ops@example.com", password_hash="!", role="admin")
    db.session.add(user)
    db.session.commit()
    return user


def test_set_on_hand_never_below_reserved_and_uses_the_ledger(app, db, make_book):
    admin = _admin(db)
    book = make_book("Busy", on_hand=5)
    stock.reserve([(book.id, 3)], reference="order-1")
    db.session.commit()
    with pytest.raises(CatalogError, match="3 copies are reserved.*cannot go below 3") as caught:
        stock_changes.set_on_hand(book.id, 2, actor_id=admin.id, note="count")
    assert set(caught.value.errors) == {"stock"}
    db.session.rollback()
    assert stock_changes.set_on_hand(book.id, 3, actor_id=admin.id, note="count") == -2
    db.session.commit()
    assert stock.state(book.id) == stock.StockState(3, 3)
    movement = db.session.scalars(select(StockMovement).where(StockMovement.reason == "adjustment")).one()
    assert movement.on_hand_delta == -2 and movement.actor_id == admin.id and "5 → 3" in movement.note
    with pytest.raises(CatalogError, match="changed from 5 to 3"):
        stock_changes.set_on_hand(book.id, 8, actor_id=admin.id, note="count", expected=5)


@pytest.mark.parametrize("delta, reason, note, field, message", [
    ("0", "stocktake", "x", "delta", "must not be zero"),
    ("abc", "stocktake", "x", "delta", "whole number"),
    ("-1", "restock", "x", "delta", "positive"),
    ("2", "damaged", "x", "delta", "negative"),
    ("-1", "nonsense", "x", "reason", "Choose a reason"),
    ("-1", "lost", "  ", "note", "required"),
    ("-9", "lost", "fell in the sea", "delta", "only 2 available"),
])
def test_adjust_stock_rules(app, db, make_book, delta, reason, note, field, message):
    admin = _admin(db)
    book = make_book("Adjust", on_hand=2)
    with pytest.raises(CatalogError) as caught:
        stock_changes.adjust_stock(book, delta, reason, note, actor_id=admin.id)
    assert message in caught.value.errors[field][0]


def test_adjust_stock_maps_reasons_to_the_ledger(app, db, make_book):
    admin = _admin(db)
    book = make_book("Adjust", on_hand=2)
    stock_changes.adjust_stock(book, "+5", "restock", "Delivery 42", actor_id=admin.id)
    stock_changes.adjust_stock(book, "-1", "damaged", "Coffee", actor_id=admin.id)
    db.session.commit()
    rows = [(m.reason, m.on_hand_delta, m.note) for m in stock_changes.recent_ledger(book.id)]
    assert rows[:2] == [("adjustment", -1, "Damaged: Coffee"), ("restock", 5, "Restock: Delivery 42")]
    assert stock_changes.recent_ledger(book.id)[0].actor == "ops"
    assert stock.state(book.id).on_hand == 6
    assert db.session.scalar(select(func.count()).select_from(AuditLog)
                             .where(AuditLog.action == "admin.book_stock_adjusted")) == 2
