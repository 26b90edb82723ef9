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
