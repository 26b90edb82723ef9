"""Each author's own figures: sales of their books only; co-written books count in full for each author, as in
the reports."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests import checkout_helpers as ch
from webapp.extensions import db
from webapp.models import Author, Inventory, Order, utcnow
from webapp.services.insight import author_figures


def _author(name: str) -> Author:
    return db.session.scalar(select(Author).where(Author.name == name))


@pytest.fixture
def sales(app, make_book, run_jobs):
    """Anna: "Alpha Tales"; Ben: "Beta Stories"; both: "Shared Song". Paid, refunded, unpaid and old orders."""
    alpha = make_book("Alpha Tales", authors=("Anna A",), price_cents=1500, on_hand=20)
    beta = make_book("Beta Stories", authors=("Ben B",), price_cents=2000, on_hand=20)
    shared = make_book("Shared Song", authors=("Anna A", "Ben B"), price_cents=1001, on_hand=20)
    make_book("Quiet Book", authors=("Anna A",), on_hand=4)  # no sales: still listed with zeros

    one = ch.start(ch.shopper("buyer_one"), [(alpha, 2, "buy", 7), (beta, 1, "buy", 7), (shared, 1, "buy", 7)])
    ch.pay(one)
    two = ch.start(ch.shopper("buyer_two"), [(alpha, 1, "rent", 3)])
    ch.pay(two)
    six = ch.start(ch.shopper("buyer_six"), [(beta, 1, "rent", 2)])
    ch.pay(six)
    unpaid = ch.start(ch.shopper("buyer_three"), [(alpha, 3, "buy", 7), (beta, 3, "buy", 7)])
    refunded = ch.start(ch.shopper("buyer_four"), [(alpha, 4, "buy", 7)])
    ch.pay(refunded)
    old = ch.start(ch.shopper("buyer_five"), [(beta, 1, "buy", 7), (shared, 2, "buy", 7)])
    ch.pay(old)
    run_jobs()  # the gateway's signed events reach the webhook: the orders are paid
    run_jobs()
    db.session.expire_all()
    assert {db.session.get(Order, o.id).status for o in (one, two, six, refunded, old)} == {"paid"}
    db.session.get(Order, refunded.id).status = "refunded"
    db.session.get(Order, old.id).paid_at = utcnow() - timedelta(days=60)  # in 12 months, not in 30 days
    db.session.commit()
    assert db.session.get(Order, unpaid.id).status == "pending_payment"
    line = {(ln.order_id, ln.book_id, ln.mode): ln.line_cents
            for o in (one, two, six, old) for ln in db.session.get(Order, o.id).lines}
    return {"alpha": alpha, "beta": beta, "shared": shared, "one": one, "two": two, "six": six, "old": old,
            "line": line}


def test_each_author_sees_only_their_own_books(sales, count_queries):
    line, one, two, old = sales["line"], sales["one"].id, sales["two"].id, sales["old"].id
    alpha, beta, shared = sales["alpha"].id, sales["beta"].id, sales["shared"].id
    anna, ben = _author("Anna A"), _author("Ben B")

    with count_queries() as statements:
        mine = author_figures.figures(anna, "12m")
    assert len(statements) == 3  # aggregates only, whatever the number of books or orders

    anna_revenue = (line[(one, alpha, "buy")] + line[(two, alpha, "rent")]
                    + line[(one, shared, "buy")] + line[(old, shared, "buy")])
    assert (mine.total_sold, mine.total_rented) == (2 + 1 + 2, 1)
    assert mine.total_revenue_cents == anna_revenue
    by_title = {b.title: b for b in mine.books}
    assert set(by_title) == {"Alpha Tales", "Shared Song", "Quiet Book"}
    assert (by_title["Alpha Tales"].sold, by_title["Alpha Tales"].rented) == (2, 1)
    assert by_title["Alpha Tales"].revenue_cents == line[(one, alpha, "buy")] + line[(two, alpha, "rent")]
    assert by_title["Shared Song"].co_authors == 1 and by_title["Shared Song"].sold == 3
    assert by_title["Shared Song"].revenue_cents == line[(one, shared, "buy")] + line[(old, shared, "buy")]
    assert (by_title["Quiet Book"].sold, by_title["Quiet Book"].revenue_cents, by_title["Quiet Book"].available) == \
        (0, 0, 4)
    # sold, rented and reserved (unpaid order) copies are not available; the hand-made "refund" kept its 4
    assert by_title["Alpha Tales"].available == 20 - 2 - 1 - 3 - 4 == db.session.get(Inventory, alpha).available
    assert len(mine.labels) == 12 and sum(mine.sold) == mine.total_sold and sum(mine.rented) == 1
    assert mine.sold[-1] == 3 and mine.revenue_cents[-1] == anna_revenue - line[(old, shared, "buy")]

    theirs = author_figures.figures(ben, "12m")
    assert {b.title for b in theirs.books} == {"Beta Stories", "Shared Song"}
    assert (theirs.total_sold, theirs.total_rented) == (1 + 1 + 1 + 2, 1)
    ben_revenue = (line[(one, beta, "buy")] + line[(sales["six"].id, beta, "rent")] + line[(old, beta, "buy")]
                   + line[(one, shared, "buy")] + line[(old, shared, "buy")])
    assert theirs.total_revenue_cents == ben_revenue


def test_the_30_day_view_is_daily_and_leaves_older_orders_out(sales):
    line, one, two = sales["line"], sales["one"].id, sales["two"].id
    recent = author_figures.figures(_author("Anna A"), "30d")
    assert recent.period == "30d" and len(recent.labels) == 30
    assert (recent.total_sold, recent.total_rented) == (3, 1)
    assert recent.total_revenue_cents == (line[(one, sales["alpha"].id, "buy")] + line[(two, sales["alpha"].id, "rent")]
                                          + line[(one, sales["shared"].id, "buy")])
    assert recent.sold[-1] == 3 and sum(recent.sold[:-1]) == 0
    assert author_figures.figures(_author("Anna A"), "nonsense").period == "12m"


def test_an_author_without_books_has_empty_figures(app):
    lonely = Author(name="Lonely", slug="lonely")
    db.session.add(lonely)
    db.session.commit()
    view = author_figures.figures(lonely)
    assert view.books == [] and view.total_revenue_cents == 0 and view.sold == [0] * 12
