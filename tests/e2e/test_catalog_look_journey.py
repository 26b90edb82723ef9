"""A catalog that looks real (issue 17, point 5), at phone and desktop size: the home shelves fill whole rows,
a book page shows its format and series, a signed-in shopper presses "Notify me" on an out-of-stock card (htmx
swaps the card's action in place), an admin restocks, and the email is in the outbox."""
from __future__ import annotations

import re
from collections import Counter

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.conftest import ADMIN_TOTP

from .axe import VIEWPORTS, assert_accessible
from .conftest import in_app, sign_in_as

COLUMNS = {"phone": 2, "desktop": 6}
GONE_TITLE = "Marigold Vanishing Point"


def _rows_of_cards(page: Page, grid) -> list[int]:
    """How many cards sit on each row of the grid, by their top edges."""
    tops = [round(grid.locator(".book-card").nth(i).bounding_box()["y"])
            for i in range(grid.locator(".book-card").count())]
    return [count for _, count in sorted(Counter(tops).items())]


@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_home_series_and_notify_me_until_a_restock(e2e_page: Page, browser, live_server, seeded_catalog, app,
                                                   make_user, deliver_mail, screenshot_dir, size):
    page = e2e_page
    page.set_viewport_size(VIEWPORTS[size])

    # --- the home page's shelves fill whole rows
    page.goto("/")
    for heading in ("New arrivals", "Bestsellers"):
        grid = page.locator("section", has=page.get_by_role("heading", name=heading)).locator(".book-grid")
        expect(grid.locator(".book-card")).to_have_count(12)
        rows = _rows_of_cards(page, grid)
        assert rows == [COLUMNS[size]] * (12 // COLUMNS[size]), f"{heading} at {size}: {rows}"
    expect(page.locator(".book-grid img").first).to_have_attribute("src", re.compile(r"/cover\.svg$"))
    assert_accessible(page, f"the home page ({size})")
    page.screenshot(path=str(screenshot_dir / f"catalog-look-home-{size}.png"), full_page=True)

    # --- a book page shows its format and its series, with the series' other books
    def second_in_a_series(db):
        from webapp.models import Book
        return db.session.execute(select(Book.id, Book.series_name, Book.format).where(Book.series_number == 2)
                                  .order_by(Book.id).limit(1)).one()

    book_id, series, fmt = in_app(app, second_in_a_series)
    page.goto(f"/books/{book_id}")
    expect(page.get_by_test_id("book-format")).to_have_text(fmt.capitalize())
    expect(page.get_by_test_id("book-series")).to_contain_text(f"{series}, book 2")
    series_list = page.locator(".series-list")
    expect(series_list.locator("li").first).to_contain_text("1.")
    expect(series_list.locator("[aria-current=page]")).to_have_count(1)
    assert page.locator(".book-detail .description p").inner_text().count("\n\n") >= 1  # paragraphs
    assert_accessible(page, f"a book in a series ({size})")
    page.screenshot(path=str(screenshot_dir / f"catalog-look-book-{size}.png"), full_page=True)

    # --- a signed-in shopper asks to be told when an out-of-stock book is back
    def gone(db):
        from tests.factories import make_book
        book = make_book(GONE_TITLE, authors=("Ines Halloran",), on_hand=0)
        book.rental_week_cents = 0  # for sale only: the card offers "Notify me" alone
        db.session.commit()
        return book.id

    gone_id = in_app(app, gone)
    make_user("shopper1")
    sign_in_as(page, "shopper1")
    page.goto("/books?q=Vanishing")
    card = page.locator(".book-card", has_text=GONE_TITLE)
    expect(card.get_by_role("button", name=re.compile("^Add to cart"))).to_have_count(0)
    expect(card.get_by_role("button", name=re.compile("^Place hold"))).to_have_count(0)
    assert_accessible(page, f"an out-of-stock card ({size})")
    card.get_by_role("button", name=f"Notify me when {GONE_TITLE} is back").click()
    expect(card.locator(".card-action")).to_contain_text(f"We'll email you when “{GONE_TITLE}” is back in stock.")
    expect(card.get_by_role("button", name=re.compile("^Cancel"))).to_be_visible()
    expect(page).to_have_url(re.compile(r"/books\?q=Vanishing$"))  # swapped in place, no page load
    page.screenshot(path=str(screenshot_dir / f"catalog-look-notify-{size}.png"), full_page=False)
    page.goto("/account")
    expect(page.get_by_test_id("back-in-stock-list")).to_contain_text(GONE_TITLE)
    assert_accessible(page, f"the account with a back-in-stock request ({size})")

    # --- an admin restocks it; the shopper's email is in the outbox
    make_user("boss", role="admin", totp_secret=ADMIN_TOTP)
    staff = browser.new_context(base_url=live_server, viewport=VIEWPORTS[size])
    try:
        admin = staff.new_page()
        admin.set_default_timeout(5_000)
        sign_in_as(admin, "boss", totp_secret=ADMIN_TOTP)
        admin.goto(f"/admin/books/{gone_id}/stock")
        admin.locator("#delta").fill("+2")
        admin.locator("#reason").select_option("restock")
        admin.locator("#note").fill("Delivery, invoice 77")
        admin.locator("main").get_by_role("button", name="Record the change").click()
        expect(admin.locator(".flashes")).to_contain_text("is now 2 on hand")
    finally:
        staff.close()
    deliver_mail()

    def emails(db):
        from webapp.models import OutboundEmail
        return db.session.execute(select(OutboundEmail.recipient, OutboundEmail.subject, OutboundEmail.status,
                                         OutboundEmail.body_text)
                                  .where(OutboundEmail.subject.contains("back in stock"))
                                  .order_by(OutboundEmail.id)).all()

    [mail] = in_app(app, emails)
    assert (mail.recipient, mail.subject, mail.status) == ("shopper1@example.com",
                                                           f"“{GONE_TITLE}” is back in stock", "outbox")
    assert f"{live_server}/books/{gone_id}/" in mail.body_text
    page.goto("/account")
    expect(page.get_by_test_id("back-in-stock-list")).to_have_count(0)
