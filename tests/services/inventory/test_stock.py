import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from webapp.models import StockMovement
from webapp.services.inventory import stock


def test_adjust_changes_on_hand_and_writes_a_ledger_row(db, make_book):
    book = make_book(on_hand=3)
    state = stock.adjust(book.id, 4, "restock", reference="PO-1", note="delivery")
    db.session.commit()
    assert (state.on_hand, state.available) == (7, 7)
    rows = db.session.scalars(select(StockMovement).where(StockMovement.book_id == book.id)
                              .order_by(StockMovement.id)).all()
    assert [(r.reason, r.on_hand_delta) for r in rows] == [("initial", 3), ("restock", 4)]
    assert rows[1].reference == "PO-1" and rows[1].note == "delivery"


def test_adjust_refuses_to_go_below_available_and_writes_nothing(db, make_book):
    book = make_book(on_hand=2)
    with pytest.raises(stock.StockError, match="only 2 available"):
        stock.adjust(book.id, -3, "adjustment")
    db.session.rollback()
    assert stock.state(book.id).on_hand == 2
    assert db.session.scalar(select(text("count(*)")).select_from(StockMovement)
                             .where(StockMovement.book_id == book.id)) == 1


def test_zero_change_is_rejected(make_book):
    book = make_book()
    with pytest.raises(stock.StockError):
        stock.adjust(book.id, 0, "adjustment")


@pytest.mark.parametrize("sql", [
    "UPDATE inventory SET on_hand = -1 WHERE book_id = :id",
    "UPDATE inventory SET reserved = -1 WHERE book_id = :id",
    "UPDATE inventory SET reserved = on_hand + 1 WHERE book_id = :id",
])
def test_database_constraints_guard_inventory(db, make_book, sql):
    book = make_book(on_hand=2)
    with pytest.raises(IntegrityError):
        db.session.execute(text(sql), {"id": book.id})
        db.session.flush()
    db.session.rollback()


def test_available_is_on_hand_minus_reserved(db, make_book):
    book = make_book(on_hand=5)
    db.session.execute(text("UPDATE inventory SET reserved = 2 WHERE book_id = :id"), {"id": book.id})
    db.session.commit()
    assert stock.state(book.id).available == 3
    assert db.session.scalar(text("SELECT available FROM inventory WHERE book_id = :id"), {"id": book.id}) == 3
