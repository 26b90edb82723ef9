"""Issue 17 (feedback): flows that used to fail late or silently, at phone and desktop sizes, with axe and
screenshots: Back after a live search, an inverted price range while filtering live, a quantity over the limit,
the Free plan's limit at add-to-cart, and a cancellation confirmed (and one dismissed) in a dialog."""
from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.axe import VIEWPORTS, assert_accessible
from tests.e2e.conftest import in_app, sign_in_as

SIZES = list(VIEWPORTS)


def _at(page: Page, size: str) -> Page:
    page.set_viewport_size(VIEWPORTS[size])
    return page


def _shot(page: Page, screenshot_dir, flow: str, step: str, size: str) -> None:
    page.screenshot(path=str(screenshot_dir / f"{flow}-{step}-{size}.png"), full_page=False)


def _q(page: Page) -> str:
    return parse_qs(urlsplit(page.url).query).get("q", [""])[0]


def _books(app, *specs):
    """Committed books: (title, price_cents, on_hand) each; returns their ids."""
    from tests.factories import make_book

    return in_app(app, lambda db: [make_book(t, price_cents=p, on_hand=n).id for t, p, n in specs])


def _open_filters(page: Page) -> None:
    panel = page.locator("details.filter-panel")
    if panel.get_attribute("open") is None:
        panel.locator("summary").click()


@pytest.mark.parametrize("size", SIZES)
def test_back_after_a_live_search_keeps_box_and_results_with_the_address(e2e_page, app, screenshot_dir, size):
    page = _at(e2e_page, size)
    _books(app, ("Lantern Keeper", 1500, 3), ("Lantern Maker", 1600, 3), ("Harbour Tales", 1700, 3))
    count = page.locator("#results .result-count")
    box = page.locator("#q")
    page.goto("/books")
    expect(count).to_contain_text("3 books")
    assert_accessible(page, "the listing")

    box.fill("lantern")
    expect(page).to_have_url(re.compile(r"[?&]q=lantern"))
    expect(count).to_contain_text("2 books")
    box.fill("harbour")
    expect(page).to_have_url(re.compile(r"[?&]q=harbour"))
    expect(count).to_contain_text("1 book")
    _shot(page, screenshot_dir, "search-back", "2-second-search", size)

    page.go_back()  # the history snapshot of "lantern": its results, and now its words in the box
    expect(page).to_have_url(re.compile(r"[?&]q=lantern"))
    expect(box).to_have_value("lantern")
    expect(count).to_contain_text("2 books")
    _shot(page, screenshot_dir, "search-back", "3-back", size)
    assert_accessible(page, "the listing after Back")

    page.go_back()
    expect(page).to_have_url(re.compile(r"/books$"))
    expect(box).to_have_value("")
    expect(count).to_contain_text("3 books")

    page.go_forward()
    expect(page).to_have_url(re.compile(r"[?&]q=lantern"))
    expect(box).to_have_value("lantern")
    expect(count).to_contain_text("2 books")

    # a whole page (no htmx snapshot) then Back: the box still says what the address says
    page.locator("#results .book-title a").first.click()
    expect(page).to_have_url(re.compile(r"/books/\d+"))
    page.go_back()
    expect(page).to_have_url(re.compile(r"[?&]q=lantern"))
    expect(box).to_have_value(_q(page))
    expect(count).to_contain_text("2 books")


@pytest.mark.parametrize("size", SIZES)
def test_inverted_price_range_is_explained_while_filtering_live(e2e_page, app, screenshot_dir, size):
    page = _at(e2e_page, size)
    _books(app, ("Cheap Read", 500, 3), ("Dear Read", 5000, 3))
    page.goto("/books")
    page.evaluate("window.__folioE2E = 'same-document'")
    _open_filters(page)
    page.locator("#min_price").fill("20")
    expect(page).to_have_url(re.compile(r"min_price=20"))
    page.locator("#max_price").fill("10")
    expect(page).to_have_url(re.compile(r"max_price=10"))
    summary = page.get_by_test_id("filter-errors")
    expect(summary).to_be_visible()
    expect(summary).to_contain_text("Max price: Must be at least the minimum price.")
    expect(page.locator("#max_price-error")).to_have_text("Must be at least the minimum price.")
    expect(page.locator("#max_price")).to_have_attribute("aria-invalid", "true")
    assert page.evaluate("window.__folioE2E") == "same-document", "filtering reloaded the page"
    _shot(page, screenshot_dir, "price-range", "1-inverted", size)
    assert_accessible(page, "the listing with an inverted price range")

    page.locator("#max_price").fill("60")
    expect(page).to_have_url(re.compile(r"max_price=60"))
    expect(summary).to_have_count(0)
    expect(page.locator("#max_price-error")).to_have_text("")
    expect(page.locator("#max_price")).not_to_have_attribute("aria-invalid", "true")
    expect(page.locator("#results .book-card")).to_have_count(1)
    _shot(page, screenshot_dir, "price-range", "2-fixed", size)


@pytest.mark.parametrize("size", SIZES)
def test_a_quantity_over_the_limit_is_lowered_with_a_message(e2e_page, app, screenshot_dir, size):
    page = _at(e2e_page, size)
    limit = app.config["MAX_QUANTITY_PER_LINE"]
    [book_id] = _books(app, ("Bulk Buy", 1200, 40))
    page.goto(f"/books/{book_id}")
    page.locator("#buy-qty").fill(str(limit * 5))
    page.get_by_test_id("add-to-cart").click()
    status = page.locator("#add-status")
    expect(status).to_contain_text(f"You can order up to {limit} copies of one book, so the quantity is {limit}.")
    expect(page.get_by_test_id("cart-count")).to_have_text(str(limit))
    _shot(page, screenshot_dir, "quantity-limit", "1-book-page", size)
    assert_accessible(page, "the book page after a clamped add")

    page.goto("/cart")
    qty = page.locator("#cart .qty-input")
    qty.fill("3")
    qty.press("Tab")
    expect(page.get_by_test_id("total")).to_have_text("$36.00")
    qty = page.locator("#cart .qty-input")
    qty.fill("75")
    qty.press("Tab")
    expect(page.locator("#cart")).to_contain_text(f"so the quantity is {limit}")
    expect(page.locator("#cart .qty-input")).to_have_value(str(limit))
    _shot(page, screenshot_dir, "quantity-limit", "2-cart", size)
    assert_accessible(page, "the cart after a clamped quantity")


@pytest.mark.parametrize("size", SIZES)
def test_the_free_plan_limit_is_told_at_add_to_cart(e2e_page, app, make_user, screenshot_dir, size):
    page = _at(e2e_page, size)
    make_user("freereader")

    def rental_already_out(db):
        from sqlalchemy import select

        from tests.factories import make_book
        from tests.fee_helpers import rental_out
        from webapp.models import User
        from webapp.services.commerce import cart

        user = db.session.scalar(select(User).where(User.username == "freereader"))
        waiting = make_book("Waiting In Cart", price_cents=1400, on_hand=4)  # put in the cart before the loan went out
        cart.save_user_items(user.id, [cart.CartItem(waiting.id, "rent", 1, 2, 80)])
        db.session.commit()
        rental_out(user, title="Out With Me")
        return make_book("Second Loan", price_cents=2100, on_hand=4).id

    book_id = in_app(app, rental_already_out)
    sign_in_as(page, "freereader")
    page.goto(f"/books/{book_id}")
    page.get_by_test_id("rent").click()
    error = page.get_by_test_id("add-error")
    expect(error).to_contain_text("Your Free plan allows 1 book at once")
    expect(error.get_by_role("link", name="See the plans")).to_be_visible()
    expect(page.get_by_test_id("cart-count")).to_have_text("1")  # nothing added
    _shot(page, screenshot_dir, "plan-limit", "1-add-to-cart", size)
    assert_accessible(page, "the book page with the plan limit")

    page.get_by_test_id("add-to-cart").click()  # buying it instead is fine
    expect(page.locator("#add-status")).to_contain_text("Added")
    expect(page.get_by_test_id("cart-count")).to_have_text("2")

    # the cart says it on the rental line, before checkout, with what to do
    page.goto("/cart")
    warning = page.get_by_test_id("rental-warning")
    expect(warning).to_have_count(1)
    expect(warning).to_contain_text("Your Free plan allows 1 book at once")
    expect(warning.get_by_role("link", name="See the plans")).to_be_visible()
    _shot(page, screenshot_dir, "plan-limit", "2-cart-warning", size)
    assert_accessible(page, "the cart with the plan warning")
    warning.get_by_test_id("switch-to-buy").click()
    expect(page.get_by_test_id("rental-warning")).to_have_count(0)
    expect(page.locator("#cart")).not_to_contain_text("for 2 days")


def _paid_order(app, username: str) -> str:
    def make(db):
        from sqlalchemy import select

        from tests.checkout_helpers import settle, start
        from tests.factories import make_book
        from webapp.models import User

        user = db.session.scalar(select(User).where(User.username == username))
        book = make_book("Cancel Candidate", price_cents=1800, on_hand=3)
        order = start(user, [(book, 1, "buy", 1)])
        settle(order)
        db.session.commit()
        return order.number

    return in_app(app, make)


def _status(app, number: str) -> str:
    from sqlalchemy import select

    from webapp.models import Order

    return in_app(app, lambda db: db.session.scalar(select(Order.status).where(Order.number == number)))


@pytest.mark.parametrize("size", SIZES)
def test_cancelling_an_order_asks_first(e2e_page, app, make_user, screenshot_dir, size):
    page = _at(e2e_page, size)
    make_user("cancelreader")
    number = _paid_order(app, "cancelreader")
    sign_in_as(page, "cancelreader")
    page.goto(f"/orders/{number}")
    expect(page.get_by_test_id("order-status")).to_have_text(re.compile("Paid", re.I))
    expect(page.get_by_test_id("cancel-order-check")).to_be_hidden()  # with JavaScript the dialog asks instead
    dialog = page.get_by_test_id("cancel-order-dialog")

    # dismissed: nothing changes, focus goes back to the button
    wallet_button = page.get_by_role("button", name="Cancel and refund to my wallet (instant)")
    wallet_button.click()
    expect(dialog).to_be_visible()
    expect(page.get_by_test_id("cancel-order-yes")).to_have_text("Yes, cancel and refund to my wallet")
    _shot(page, screenshot_dir, "cancel-order", "1-dialog", size)
    assert_accessible(page, "the order page with the cancel dialog open")
    page.get_by_test_id("cancel-order-keep").click()
    expect(dialog).to_be_hidden()
    expect(wallet_button).to_be_focused()
    assert _status(app, number) == "paid"
    wallet_button.click()
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    page.reload()
    expect(page.get_by_test_id("order-status")).to_have_text(re.compile("Paid", re.I))
    assert _status(app, number) == "paid"

    # confirmed: cancelled and refunded
    page.get_by_role("button", name="Cancel and refund to my wallet (instant)").click()
    page.get_by_test_id("cancel-order-yes").click()
    expect(page.locator(".flashes")).to_contain_text("Your order is cancelled.")
    assert _status(app, number) in ("cancelled", "refunded")
    _shot(page, screenshot_dir, "cancel-order", "2-cancelled", size)
    assert_accessible(page, "the order page after cancelling")


@pytest.mark.parametrize("size", SIZES)
def test_cancelling_without_javascript_needs_the_box_ticked(new_context, app, make_user, screenshot_dir, size):
    """(No axe here: it runs as JavaScript in the page. The same page is audited with JavaScript above.)"""
    make_user("nojsreader")
    number = _paid_order(app, "nojsreader")
    context = new_context(java_script_enabled=False, viewport=VIEWPORTS[size])
    context.set_default_timeout(5_000)
    page = context.new_page()
    try:
        from tests.conftest import PASSWORD

        page.goto("/login")
        page.locator("#login").fill("nojsreader")
        page.locator("#password").fill(PASSWORD)
        page.locator("main").get_by_role("button", name="Sign in").click()
        page.goto(f"/orders/{number}")
        check = page.get_by_test_id("cancel-order-check")
        expect(check).to_be_visible()
        page.get_by_role("button", name="Cancel and refund to my wallet (instant)").click()
        expect(page).to_have_url(re.compile(rf"/orders/{number}$"))  # the browser refused: box not ticked
        assert _status(app, number) == "paid"
        check.check()
        _shot(page, screenshot_dir, "cancel-order-nojs", "1-ticked", size)
        page.get_by_role("button", name="Cancel and refund to my wallet (instant)").click()
        expect(page.locator(".flashes")).to_contain_text("Your order is cancelled.")
        assert _status(app, number) in ("cancelled", "refunded")
        _shot(page, screenshot_dir, "cancel-order-nojs", "2-cancelled", size)
    finally:
        context.close()
