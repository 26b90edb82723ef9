"""The first shopper journey: search, sort, paginate and open a book, with and without JavaScript."""
from __future__ import annotations

import re
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Page, expect

from webapp.templating import money

PAGE_SIZE = 24


def _query(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def _card_prices(page: Page) -> list[Decimal]:
    texts = page.locator("#results .book-card .book-meta strong").all_inner_texts()
    assert texts, "no prices on the page"
    return [Decimal(t.strip().lstrip("$").replace(",", "")) for t in texts]


def _card_titles(page: Page) -> list[str]:
    return [t.strip() for t in page.locator("#results .book-card .book-title").all_inner_texts()]


def _cheapest_and_dearest(app) -> tuple[str, str]:
    from sqlalchemy import func, select

    from webapp.extensions import db
    from webapp.models import Book

    with app.app_context():
        low, high = db.session.execute(
            select(func.min(Book.price_cents), func.max(Book.price_cents)).where(Book.active.is_(True))
        ).one()
        db.session.remove()
    return money(low), money(high)


def test_search_sort_paginate_and_open_a_book(e2e_page: Page, seeded_catalog, app):
    page = e2e_page
    cat = seeded_catalog
    pages = -(-cat.total // PAGE_SIZE)
    cheapest, _ = _cheapest_and_dearest(app)

    page.goto("/books")
    count = page.locator("#results .result-count")
    cards = page.locator("#results .book-card")
    indicator = page.locator("#results .pager [aria-current='page']")
    expect(count).to_have_text(re.compile(rf"^\s*{cat.total} books\s*$"))
    expect(cards).to_have_count(PAGE_SIZE)
    expect(indicator).to_have_text(f"Page 1 of {pages}")
    # Survives only as long as this document does: a full page load would wipe it.
    page.evaluate("window.__folioE2E = 'same-document'")

    # --- search as you type: results narrow in place and the URL follows (hx-push-url)
    page.locator("#q").press_sequentially("Quarrendon", delay=40)
    expect(count).to_have_text(re.compile(r"^\s*1 book\s+for\s+“Quarrendon”\s*$"))
    expect(cards).to_have_count(1)
    expect(cards.first.locator(".book-title")).to_have_text(cat.needle_title)
    expect(cards.first.locator(".book-authors")).to_have_text(cat.needle_author)
    expect(page).to_have_url(re.compile(r"/books\?(.*&)?q=Quarrendon(&|$)"))
    assert page.evaluate("window.__folioE2E") == "same-document", "typing in the search box reloaded the page"
    expect(page.locator("#results .pager")).to_have_count(0)

    # --- clearing the search brings the whole catalog back
    page.locator("#q").fill("")
    expect(count).to_have_text(re.compile(rf"^\s*{cat.total} books\s*$"))
    default_prices = _card_prices(page)
    assert default_prices != sorted(default_prices), "the default (newest) order is already by price; sort test proves nothing"

    # --- sort by price, low to high
    page.locator("#filters summary").click()
    page.locator("#sort").select_option("price_asc")
    expect(page).to_have_url(re.compile(r"[?&]sort=price_asc(&|$)"))
    expect(cards.first.locator(".book-meta strong")).to_have_text(cheapest)
    prices = _card_prices(page)
    assert len(prices) == PAGE_SIZE
    assert prices == sorted(prices), f"page 1 is not sorted by price: {prices}"
    assert prices[0] <= prices[-1] and prices[0] < prices[-1], prices
    page1_titles = _card_titles(page)
    assert page.evaluate("window.__folioE2E") == "same-document", "sorting reloaded the page"

    # --- pager: Next swaps in page 2 (still sorted), browser Back restores page 1
    page.locator("#results .pager a[rel='next']").click()
    expect(indicator).to_have_text(f"Page 2 of {pages}")
    expect(page).to_have_url(re.compile(r"[?&]page=2(&|$)"))
    assert _query(page).get("sort") == ["price_asc"], page.url
    expect(cards).to_have_count(PAGE_SIZE)
    page2_prices = _card_prices(page)
    assert page2_prices == sorted(page2_prices) and page2_prices[0] >= prices[-1], (prices, page2_prices)
    assert not set(_card_titles(page)) & set(page1_titles), "page 2 repeats books from page 1"
    expect(page.locator("#results .pager a[rel='prev']")).to_be_visible()

    page.go_back()
    expect(indicator).to_have_text(f"Page 1 of {pages}")
    expect(cards.first.locator(".book-title")).to_have_text(page1_titles[0])
    assert "page" not in _query(page), page.url
    assert _card_titles(page) == page1_titles
    assert page.evaluate("window.__folioE2E") == "same-document", "paginating reloaded the page"

    # --- open a book: its page shows title, author(s) and price
    first = cards.first
    title = first.locator(".book-title").inner_text().strip()
    authors = first.locator(".book-authors").inner_text().strip()
    price = first.locator(".book-meta strong").inner_text().strip()
    assert price == cheapest
    first.locator(".book-title a").click()
    expect(page).to_have_url(re.compile(r"/books/\d+/[\w-]+$"))
    expect(page.locator("main h1")).to_have_text(re.compile(rf"^{re.escape(title)}"))  # (then any subtitle)
    expect(page.locator(".book-detail .book-authors")).to_have_text(f"by {authors}")
    expect(page.locator(".book-detail .price")).to_have_text(price)
    expect(page).to_have_title(re.compile(rf"^{re.escape(title)} · Folio$"))


def test_book_detail_shows_the_book(e2e_page: Page, seeded_catalog):
    page = e2e_page
    cat = seeded_catalog
    # A stale slug redirects to the canonical URL.
    page.goto(f"/books/{cat.needle_id}/old-title")
    expect(page).to_have_url(re.compile(rf"/books/{cat.needle_id}/the-lighthouse-almanac$"))
    expect(page.locator("main h1")).to_have_text(cat.needle_title)
    expect(page.locator(".book-detail .book-authors a")).to_have_text(cat.needle_author)
    expect(page.locator(".book-detail .price")).to_have_text(cat.needle_price)
    expect(page.locator(".book-detail .badge")).to_have_text("In stock")
    page.locator(".book-detail .book-authors a").click()
    expect(page.locator("main h1")).to_have_text(cat.needle_author)
    expect(page.locator("#results .book-card .book-title")).to_have_text([cat.needle_title])


def test_search_sort_and_paginate_without_javascript(new_context, live_server, seeded_catalog, app):
    context = new_context(java_script_enabled=False)
    context.set_default_timeout(5_000)
    page = context.new_page()
    cat = seeded_catalog
    pages = -(-cat.total // PAGE_SIZE)
    _, dearest = _cheapest_and_dearest(app)

    page.goto("/books")
    count = page.locator("#results .result-count")
    indicator = page.locator("#results .pager [aria-current='page']")
    expect(count).to_have_text(re.compile(rf"^\s*{cat.total} books\s*$"))
    # <noscript> content only renders when scripting is off: proof this context has no JS.
    apply = page.locator("#filters button", has_text="Apply")
    expect(apply).to_have_count(1)

    # --- search with a plain form submission
    page.locator("#q").fill("lighthouse almanac")
    page.locator("#filters .search-row button[type='submit']").click()
    expect(page).to_have_url(re.compile(r"/books\?(.*&)?q=lighthouse\+almanac(&|$)"))
    expect(count).to_have_text(re.compile(r"^\s*1 book\s+for\s+“lighthouse almanac”\s*$"))
    expect(page.locator("#results .book-card .book-title")).to_have_text([cat.needle_title])
    expect(page.locator("#q")).to_have_value("lighthouse almanac")

    # --- sort with the no-JS Apply button
    page.goto("/books")
    page.locator("#filters summary").click()
    page.locator("#sort").select_option("price_desc")
    apply.click()
    expect(page).to_have_url(re.compile(r"[?&]sort=price_desc(&|$)"))
    expect(page.locator("#results .book-card .book-meta strong").first).to_have_text(dearest)
    prices = _card_prices(page)
    assert prices == sorted(prices, reverse=True), f"not sorted high to low: {prices}"

    # --- paginate with plain links (href, not hx-get)
    expect(indicator).to_have_text(f"Page 1 of {pages}")
    page.locator("#results .pager a[rel='next']").click()
    expect(page).to_have_url(re.compile(r"[?&]page=2(&|$)"))
    expect(indicator).to_have_text(f"Page 2 of {pages}")
    assert _query(page).get("sort") == ["price_desc"], page.url
    page2 = _card_prices(page)
    assert page2 == sorted(page2, reverse=True) and page2[0] <= prices[-1], (prices, page2)
    page.locator("#results .pager a[rel='prev']").click()
    expect(indicator).to_have_text(f"Page 1 of {pages}")
    assert _card_prices(page) == prices


def test_a_failed_htmx_request_says_so(e2e_page: Page, seeded_catalog):
    """htmx swaps nothing for a 4xx answer: the page must still tell the shopper that nothing happened."""
    page = e2e_page
    page.goto(f"/books/{seeded_catalog.needle_id}")
    error = page.locator("#request-error")
    expect(error).to_be_hidden()
    # An out-of-date page: the CSRF token it carries is no longer valid.
    page.evaluate("""document.body.setAttribute("hx-headers", '{"X-CSRFToken": "stale"}');
                     document.querySelectorAll("input[name=csrf_token]").forEach((i) => { i.value = "stale"; });""")
    page.get_by_test_id("add-to-cart").click()
    expect(error).to_be_visible()
    expect(error).to_contain_text("Reload the page and try again")
    expect(page.get_by_test_id("cart-count")).to_have_text("0")  # nothing was added
