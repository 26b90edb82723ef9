"""The phone-first layout's markup (issue 17, point 1): the header menu, the development banner, the sort control
beside the result count, the book page's buy bar and the one scroll-box wrapper of every wide table. The browser
measures sizes (tests/e2e/test_layout_phone.py); these check what a page must contain."""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parents[2] / "webapp" / "templates"


def _menu(html: str) -> str:
    return html.split('<details class="site-menu"', 1)[1].split("</details>", 1)[0]


def test_header_has_a_disclosure_menu_and_the_dev_links_live_in_the_banner(client):
    html = client.get("/").get_data(as_text=True)
    menu = _menu(html)
    assert '<summary class="menu-button"' in menu and ">Menu</summary>" in menu
    assert 'href="/books"' in menu and 'href="/login"' in menu and 'href="/register"' in menu
    assert "/dev/outbox" not in menu and "Outbox" not in menu  # nothing dev-only in the shopper's menu
    banner = html.split('class="dev-banner"', 1)[1].split("</div>", 1)[0]
    assert "Development shop" in banner and 'href="/dev/outbox">Outbox</a>' in banner
    header = html.split('<header class="site-header">', 1)[1].split("</header>", 1)[0]
    assert 'role="search"' in header and 'id="mini-cart"' in header  # search and cart stay outside the menu
    assert 'src="/static/js/menu.js' in html and "defer" in html.split("js/menu.js", 1)[1][:40]


def test_no_development_banner_when_the_outbox_is_off(app, client):
    app.config["DEV_OUTBOX_ENABLED"] = False
    try:
        html = client.get("/").get_data(as_text=True)
    finally:
        app.config["DEV_OUTBOX_ENABLED"] = True
    assert "dev-banner" not in html and "/dev/outbox" not in html


def test_signed_in_links_are_in_the_menu(app, client, auth):
    auth.user("reader_menu")
    auth.login("reader_menu")
    menu = _menu(client.get("/").get_data(as_text=True))
    assert 'href="/orders"' in menu and ">reader_menu</a>" in menu and "Sign out" in menu
    assert 'href="/admin"' not in menu


def test_sort_control_sits_beside_the_count_and_belongs_to_the_filters_form(client, htmx_client, make_book):
    make_book("Sorted Book")
    full = client.get("/books?sort=price_desc").get_data(as_text=True)
    filters = full.split('<form id="filters"', 1)[1].split("</form>", 1)[0]
    assert 'name="sort"' not in filters  # no longer folded in the filter panel
    results = full.split('<section id="results"', 1)[1]
    head = results.split('class="results-head"', 1)[1].split('class="book-grid"', 1)[0]
    assert 'class="result-count"' in head and '<select id="sort" name="sort" form="filters"' in head
    assert 'hx-include="#filters"' in head and 'hx-target="#results"' in head
    assert re.search(r'<option value="price_desc"\s+selected>', head)
    assert '<button type="submit" form="filters"' in head  # without JavaScript: a button sends the form
    partial = htmx_client.get("/books?sort=price_asc").get_data(as_text=True)
    assert "<html" not in partial and re.search(r'<option value="price_asc"\s+selected>', partial)


def test_book_page_has_a_buy_bar_with_its_own_form_and_no_duplicate_ids(client, make_book):
    book = make_book("Bar Book", price_cents=1234, on_hand=3)
    html = client.get(f"/books/{book.id}").get_data(as_text=True)
    bar = html.split('id="buy-bar"', 1)[1].split("</form>", 1)[0]
    assert 'action="/cart/add"' in bar and f'name="book_id" value="{book.id}"' in bar
    assert 'name="mode" value="buy"' in bar and 'name="quantity" value="1"' in bar and 'name="csrf_token"' in bar
    assert "$12.34" in bar and "Add to cart" in bar
    ids = Counter(re.findall(r'\sid="([^"]+)"', html))
    assert [i for i, n in ids.items() if n > 1] == []
    assert 'id="buy"' in html  # the main buy box, watched by menu.js


def test_out_of_stock_book_page_has_no_buy_bar(client, make_book):
    book = make_book("Gone Book", on_hand=0)
    assert 'id="buy-bar"' not in client.get(f"/books/{book.id}").get_data(as_text=True)


def test_every_table_wrapper_is_the_macro():
    """Wide tables scroll in their own box, which must be a labelled focusable region: all of them go through
    _macros/tables.html (the cart's table is cards on phones and never scrolls)."""
    hand_made = []
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text()
        if 'class="table-wrap' in text and path.name not in {"tables.html", "_cart.html"}:
            hand_made.append(str(path.relative_to(TEMPLATES)))
        if "table_wrap(" in text and "_macros/tables.html" not in text and path.name != "tables.html":
            hand_made.append(f"{path.relative_to(TEMPLATES)} (no import)")
    assert hand_made == []


def test_a_table_page_renders_the_region(app, client, auth):
    auth.user("reader_tables")
    auth.login("reader_tables")
    html = client.get("/account/addresses/new").get_data(as_text=True)  # any signed-in page renders fine
    assert "<html" in html
    html = client.get("/account/security").get_data(as_text=True)
    assert '<div class="table-wrap" tabindex="0" role="region" aria-labelledby="sessions-heading">' in html
