"""The admin home: figures with links to their lists, the revenue chart, open low-stock alerts; bounded queries."""
import re

from tests.checkout_helpers import settle, shopper, start
from webapp.services.circulation import holds


def _sale(book, user):
    order = start(user, [(book, 1, "buy", 0)])
    settle(order, f"pi_{order.id}", order.card_cents)
    return order


def test_home_shows_figures_linked_to_their_lists(admin_client, db, make_book):
    from webapp.services.inventory import stock

    book = make_book("Counted Book", price_cents=4000, on_hand=6)
    almost = make_book("Almost Out", on_hand=5)
    gone = make_book("All Gone", on_hand=1)
    stock.adjust(almost.id, -3, "adjustment", note="damaged")  # 2 left: low
    stock.adjust(gone.id, -1, "adjustment", note="lost")  # none left: out
    user = shopper()
    order = _sale(book, user)
    holds.place(user, gone)
    db.session.commit()
    page = admin_client.get("/admin")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    today = re.search(r'data-testid="revenue-today">([^<]+)<', html).group(1)
    assert today == f"${order.total_cents / 100:,.2f}"
    assert re.search(r'data-testid="orders-today">1<', html)
    assert re.search(r'data-testid="low-stock">1<', html) and re.search(r'data-testid="out-of-stock">1<', html)
    assert re.search(r'data-testid="holds-waiting">1<', html)
    # each figure links to the list behind it
    assert "/admin/orders?status=sales&amp;dates=paid&amp;date_from=" in html
    assert "/admin/books?stock=low" in html and "/admin/books?stock=out" in html
    assert "/admin/rentals?view=overdue" in html and "/admin/holds?view=waiting" in html
    assert '<svg role="img" aria-label="Revenue, last 30 days' in html and "style=" not in html.split("<svg", 1)[1]
    alerts = re.findall(r'data-testid="alert-row"><td><a href="[^"]+">([^<]+)<', html)
    assert sorted(alerts) == ["All Gone", "Almost Out"]
    # the linked list shows the same orders the figure counts
    listed = admin_client.get(re.search(r'href="(/admin/orders\?status=sales[^"]+)"', html).group(1).replace("&amp;", "&"))
    assert order.number in listed.get_data(as_text=True)


def test_home_query_count_does_not_grow_with_the_shop(admin_client, db, make_book, count_queries):
    user = shopper()
    first = make_book("First", on_hand=3)
    _sale(first, user)
    db.session.commit()
    admin_client.get("/admin")  # warm: session, chart cache
    with count_queries() as few:
        assert admin_client.get("/admin").status_code == 200
    for i in range(8):
        _sale(make_book(f"More {i}", on_hand=1), user)
    db.session.commit()
    with count_queries() as many:
        assert admin_client.get("/admin").status_code == 200
    assert len(many) == len(few) <= 14, (len(few), len(many))


def test_low_stock_summary_and_list_agree_whatever_the_books_history(admin_client, db, make_book, app):
    """The summary ("Low stock N books") and the list under it come from one definition of low stock
    (services.inventory.alerts.low_sql): books added low that never moved (so no alert row) are in both, and
    books above their threshold are in neither; at, below and above their own threshold and the default."""
    from webapp.models import Inventory
    from webapp.services.inventory import stock

    default = app.config["LOW_STOCK_THRESHOLD"]
    make_book("Default At", on_hand=default)  # low: at the default, added so (never moved, no alert)
    make_book("Default Below", on_hand=1)  # low
    make_book("Default Above", on_hand=default + 1)  # not low
    make_book("Default Out", on_hand=0)  # out
    own_at = make_book("Own At", on_hand=8)
    own_above = make_book("Own Above", on_hand=default)  # at the default but its own threshold is lower
    own_below = make_book("Own Below", on_hand=12)
    moved = make_book("Moved Down", on_hand=default + 2)
    make_book("Archived Low", on_hand=1, active=False)  # not on sale: in neither
    for book, own in ((own_at, 8), (own_above, default - 1), (own_below, 20)):
        db.session.get(Inventory, book.id).low_stock_threshold = own
    stock.adjust(moved.id, -3, "adjustment", note="damaged")  # falls below the default: raises an alert
    db.session.commit()

    html = admin_client.get("/admin").get_data(as_text=True)
    low = int(re.search(r'data-testid="low-stock">([\d,]+)<', html).group(1))
    out = int(re.search(r'data-testid="out-of-stock">([\d,]+)<', html).group(1))
    assert (low, out) == (5, 1)
    listed = re.findall(r'data-testid="alert-row"><td><a href="[^"]+">([^<]+)<', html)
    assert sorted(listed) == ["Default At", "Default Below", "Default Out", "Moved Down", "Own At", "Own Below"]
    assert "No book is low on stock" not in html
    assert re.search(r'data-testid="low-stock-summary">6 books at or below their low-stock threshold now: 5 low, '
                     r'1 out of stock\.', html)


def test_the_list_shows_the_fewest_left_first_and_says_how_many_more(admin_client, db, make_book, app):
    for i in range(10):
        make_book(f"Low {i}", on_hand=1 + i % 3)
    make_book("Empty", on_hand=0)
    db.session.commit()
    html = admin_client.get("/admin").get_data(as_text=True)
    listed = re.findall(r'data-testid="alert-row"><td><a href="[^"]+">([^<]+)<', html)
    assert len(listed) == 8 and listed[0] == "Empty"
    assert re.search(r"11 books at or below their low-stock threshold now: 10 low, 1 out of stock; the 8 with", html)


def test_no_low_stock_message_only_when_nothing_is_low(admin_client, db, make_book):
    make_book("Plenty", on_hand=50)
    db.session.commit()
    html = admin_client.get("/admin").get_data(as_text=True)
    assert re.search(r'data-testid="low-stock">0<', html) and "No book is low on stock." in html
