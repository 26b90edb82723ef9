from sqlalchemy import func, select

from webapp.demo import seed as demo
from webapp.models import Author, Book, Inventory, Order, StockMovement, User
from webapp.services.catalog.isbn import normalize


def test_seed_is_deterministic_valid_and_idempotent(app, db):
    first = demo.seed(50, seed_value=3)
    assert first.books_added == 50
    assert {u[0] for u in first.users} == {"customer", "admin", "author"}
    books = db.session.scalars(select(Book).order_by(Book.id)).all()
    snapshot = [(b.isbn13, b.title, b.price_cents) for b in books]
    assert all(normalize(b.isbn13) == b.isbn13 for b in books)
    assert all(b.author_names for b in books)
    assert all(b.price_cents > 0 and b.rental_week_cents > 0 for b in books)

    again = demo.seed(50, seed_value=3)
    assert again.books_added == 0 and again.users == []
    assert db.session.scalar(select(func.count()).select_from(Book)) == 50
    assert db.session.scalar(select(func.count()).select_from(User)) == 3 + 8  # demo logins + demo shoppers
    assert db.session.scalar(select(func.count()).select_from(Order)) == (demo.SALES_HISTORY_ORDERS  # once only
                                                                          + demo.AUTHOR_SALES_ORDERS)

    more = demo.seed(60, seed_value=3)
    assert more.books_added == 10
    books = db.session.scalars(select(Book).order_by(Book.id).limit(50)).all()
    assert [(b.isbn13, b.title, b.price_cents) for b in books] == snapshot


def test_seed_stock_has_out_of_stock_books_and_a_matching_ledger(app, db):
    demo.seed(200, seed_value=5, with_users=False)
    on_hand = db.session.scalars(select(Inventory.on_hand)).all()
    assert len(on_hand) == 200
    assert any(n == 0 for n in on_hand) and any(n > 3 for n in on_hand)
    ledger_total = db.session.scalar(select(func.sum(StockMovement.on_hand_delta)))
    assert ledger_total == sum(on_hand)


def test_different_seeds_give_different_books(app, db):
    demo.seed(20, seed_value=1, with_users=False)
    demo.seed(20, seed_value=2, with_users=False)
    assert db.session.scalar(select(func.count()).select_from(Book)) == 40


def test_demo_sales_history_feeds_the_admin_home_reports_and_author_dashboard(app, db):
    from webapp.models import SalesDailyTotal
    from webapp.services.insight import author_figures, dashboard

    demo.seed(60, seed_value=4)
    orders = db.session.scalars(select(Order)).all()
    assert len(orders) == demo.SALES_HISTORY_ORDERS + demo.AUTHOR_SALES_ORDERS
    assert all(o.total_cents == o.subtotal_cents + o.shipping_cents == sum(li.line_cents for li in o.lines)
               + o.shipping_cents for o in orders)
    assert {o.status for o in orders} <= {"paid", "shipped", "delivered", "cancelled"}
    view = dashboard.overview()
    assert view.periods[-1].orders > 0 and view.periods[-1].revenue_cents > 0
    kept = [o for o in orders if o.status != "cancelled"]
    assert db.session.scalar(select(func.sum(SalesDailyTotal.orders))) == len(kept)  # the reports' rollups
    author_user = db.session.scalar(select(User).where(User.username == "author"))
    mine = db.session.scalar(select(Author).where(Author.user_id == author_user.id))
    figures = author_figures.figures(mine)
    assert figures.total_sold + figures.total_rented > 0 and figures.total_revenue_cents > 0


def _author_orders(db):
    from webapp.demo.history import AUTHOR_SALES_NOTE
    from webapp.models import OrderEvent

    ids = select(OrderEvent.order_id).where(OrderEvent.note == AUTHOR_SALES_NOTE)
    orders = db.session.scalars(select(Order).where(Order.id.in_(ids)).order_by(Order.paid_at, Order.id)).all()
    return [(o.paid_at, o.status, o.total_cents, sorted((li.book_id, li.mode, li.line_cents) for li in o.lines))
            for o in orders]


def test_the_demo_author_of_make_run_has_real_sales_over_the_last_months(app, db):
    """`make run` seeds 2000 books with seed 1: the shop's history favours the first 400 books, and the demo
    author's books were not among those sold (all zeros). Now they have paid orders of their own over the last
    months, the last 30 days included, deterministic for a seed, added once."""
    import random
    from datetime import UTC, datetime

    import time_machine

    from webapp.demo import history
    from webapp.models import OrderEvent, OrderLine
    from webapp.services.insight import author_figures

    with time_machine.travel(datetime(2026, 11, 20, 12, tzinfo=UTC), tick=False):
        demo.seed(2000, seed_value=1)
        author_user = db.session.scalar(select(User).where(User.username == "author"))
        mine = db.session.scalar(select(Author).where(Author.user_id == author_user.id))
        yearly = author_figures.figures(mine, "12m")
        assert yearly.total_sold > 0 and yearly.total_revenue_cents > 0
        assert sum(1 for cents in yearly.revenue_cents if cents) >= 8  # most of the last 12 months
        monthly = author_figures.figures(mine, "30d")
        assert monthly.total_sold + monthly.total_rented > 0 and sum(1 for c in monthly.revenue_cents if c) >= 4
        assert any(b.sold for b in yearly.books)
        made = _author_orders(db)
        assert len(made) == demo.AUTHOR_SALES_ORDERS
        assert db.session.scalar(select(func.count()).select_from(Order)) == (demo.SALES_HISTORY_ORDERS
                                                                              + demo.AUTHOR_SALES_ORDERS)

        demo.seed(2000, seed_value=1)  # once only
        assert db.session.scalar(select(func.count()).select_from(Order)) == (demo.SALES_HISTORY_ORDERS
                                                                              + demo.AUTHOR_SALES_ORDERS)

        # deterministic: made again from the same seed, the same orders
        order_ids = select(OrderEvent.order_id).where(OrderEvent.note == history.AUTHOR_SALES_NOTE)
        gone = db.session.scalars(order_ids).all()
        db.session.execute(OrderEvent.__table__.delete().where(OrderEvent.order_id.in_(gone)))
        db.session.execute(OrderLine.__table__.delete().where(OrderLine.order_id.in_(gone)))
        db.session.execute(Order.__table__.delete().where(Order.id.in_(gone)))
        db.session.commit()
        assert history.ensure_sales_history(random.Random(1)) == demo.AUTHOR_SALES_ORDERS  # shop history kept
        assert _author_orders(db) == made
