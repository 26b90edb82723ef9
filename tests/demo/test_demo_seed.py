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
    assert db.session.scalar(select(func.count()).select_from(Order)) == demo.SALES_HISTORY_ORDERS  # once only

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
    assert len(orders) == demo.SALES_HISTORY_ORDERS
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
