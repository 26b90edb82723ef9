"""Back-in-stock requests: one per shopper and book, one email when copies come back (after the holds queue)."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from webapp.models import BackInStockRequest, OutboundEmail


@pytest.fixture
def sold_out(make_book):
    return make_book("The Salt Orchard", authors=("Mira Okafor",), on_hand=0)


def _rows(db):
    return db.session.execute(select(BackInStockRequest.book_id, BackInStockRequest.user_id,
                                     BackInStockRequest.notified_at).order_by(BackInStockRequest.id)).all()


def _emails(db):
    return db.session.execute(select(OutboundEmail.recipient, OutboundEmail.subject, OutboundEmail.body_text)
                              .where(OutboundEmail.subject.contains("back in stock"))
                              .order_by(OutboundEmail.id)).all()


def test_asking_twice_is_one_request_and_a_restock_emails_it_once(app, db, auth, sold_out):
    from webapp.services.catalog import back_in_stock
    from webapp.services.inventory import stock

    ann, bob = auth.user("ann"), auth.user("bob")
    assert back_in_stock.ask(ann, sold_out) is True
    assert back_in_stock.ask(ann, sold_out) is False  # already waiting: the same row
    assert back_in_stock.ask(bob, sold_out) is True
    db.session.commit()
    assert [(r.user_id, r.notified_at) for r in _rows(db)] == [(ann.id, None), (bob.id, None)]
    assert [w.title for w in back_in_stock.waiting_for(ann.id)] == ["The Salt Orchard"]

    stock.adjust(sold_out.id, 3, "restock")
    db.session.commit()
    emails = _emails(db)
    assert [e.recipient for e in emails] == ["ann@example.com", "bob@example.com"]
    assert emails[0].subject == "“The Salt Orchard” is back in stock"
    assert f"/books/{sold_out.id}/the-salt-orchard" in emails[0].body_text
    assert emails[0].body_text.startswith("Hello ann,")
    assert all(r.notified_at is not None for r in _rows(db))
    assert back_in_stock.waiting_for(ann.id) == []

    stock.adjust(sold_out.id, 2, "restock")  # nobody is waiting any more
    db.session.commit()
    assert len(_emails(db)) == 2


def test_asking_again_after_being_told_reopens_the_request(app, db, auth, sold_out):
    from webapp.services.catalog import back_in_stock
    from webapp.services.inventory import stock

    ann = auth.user("ann")
    back_in_stock.ask(ann, sold_out)
    stock.adjust(sold_out.id, 1, "restock")
    db.session.commit()
    stock.adjust(sold_out.id, -1, "adjustment")  # gone again
    db.session.commit()
    assert back_in_stock.ask(ann, sold_out) is True
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(BackInStockRequest)) == 1
    assert _rows(db)[0].notified_at is None
    stock.adjust(sold_out.id, 1, "restock")
    db.session.commit()
    assert len(_emails(db)) == 2


def test_cancel_and_refusals(app, db, auth, sold_out, make_book):
    from webapp.services.catalog import back_in_stock

    ann = auth.user("ann")
    back_in_stock.ask(ann, sold_out)
    assert back_in_stock.cancel(ann.id, sold_out.id) is True
    assert back_in_stock.cancel(ann.id, sold_out.id) is False
    in_stock = make_book("On the Shelf", on_hand=2)
    with pytest.raises(back_in_stock.NotifyError, match="in stock"):
        back_in_stock.ask(ann, in_stock)
    sold_out.active = False
    with pytest.raises(back_in_stock.NotifyError, match="no longer sold"):
        back_in_stock.ask(ann, sold_out)


def test_the_holds_queue_takes_returned_copies_first(app, db, auth, sold_out):
    """One copy comes back and a reader holds the book: it is set aside for them, so nobody is told it is
    back; the request keeps waiting for the next copy."""
    from webapp.services.catalog import back_in_stock
    from webapp.services.circulation import holds
    from webapp.services.inventory import stock

    ann, reader = auth.user("ann"), auth.user("holder")
    back_in_stock.ask(ann, sold_out)
    holds.place(reader, sold_out)
    db.session.commit()
    stock.adjust(sold_out.id, 1, "restock")
    db.session.commit()
    assert _emails(db) == [] and _rows(db)[0].notified_at is None
    stock.adjust(sold_out.id, 1, "restock")
    db.session.commit()
    assert [e.recipient for e in _emails(db)] == ["ann@example.com"]


def test_a_withdrawn_book_keeps_its_requests_waiting_until_it_is_back_on_sale(app, db, auth, sold_out):
    """Stock arriving for a book staff have withdrawn emails nobody and closes nothing: the request is still
    open when the book goes back on sale and copies are there."""
    from webapp.services.catalog import back_in_stock
    from webapp.services.inventory import stock

    ann = auth.user("ann")
    back_in_stock.ask(ann, sold_out)
    sold_out.active = False
    db.session.commit()
    stock.adjust(sold_out.id, 3, "restock")
    db.session.commit()
    assert _emails(db) == []
    assert [r.notified_at for r in _rows(db)] == [None]

    sold_out.active = True
    db.session.commit()
    assert back_in_stock.notify(sold_out.id) == 1
    db.session.commit()
    assert [e.recipient for e in _emails(db)] == ["ann@example.com"]
