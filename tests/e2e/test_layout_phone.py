"""Phone-first layout (issue 17, point 1), measured in a real browser at phone and desktop sizes: the compact
header and its disclosure menu, no blank band under the header, the book page's first screen and buy bar, the sort
control beside the result count (with and without JavaScript) and the admin books table's row-wide edit form."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import ADMIN_TOTP

from .axe import VIEWPORTS, assert_accessible
from .conftest import header_menu, sign_in_as

HEADER_MAX = {"phone": 120, "desktop": 80}
BAND_MAX = 32  # px between the header's bottom and the first thing in <main>

# The gap between the header's bottom edge and the top of main's first visible child (flash, heading, form...).
BAND_JS = """() => {
  const header = document.querySelector('.site-header').getBoundingClientRect();
  const first = [...document.querySelector('main').children].find(el => {
    const box = el.getBoundingClientRect();
    return box.height > 0 && getComputedStyle(el).visibility !== 'hidden';
  });
  return first.getBoundingClientRect().top - header.bottom;
}"""

# Whether the search box's placeholder fits: its text measured in the input's font against the room inside it.
PLACEHOLDER_FITS_JS = """(input) => {
  const style = getComputedStyle(input);
  const context = document.createElement('canvas').getContext('2d');
  context.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
  const room = input.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  return [Math.ceil(context.measureText(input.placeholder).width), Math.floor(room)];
}"""


def _context(new_context, viewport: str, **kwargs):
    context = new_context(viewport=VIEWPORTS[viewport], device_scale_factor=1, **kwargs)
    context.set_default_timeout(5_000)
    return context


def _no_sideways_scroll(page: Page, what: str) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    client = page.evaluate("document.documentElement.clientWidth")
    assert width <= client, f"{what} scrolls sideways: {width}px wide in a {client}px window"


def _within_viewport(page: Page, locator, what: str) -> None:
    box = locator.bounding_box()
    size = page.viewport_size
    assert box is not None, f"{what} is not rendered"
    assert box["y"] >= 0 and box["y"] + box["height"] <= size["height"], f"{what} is not in the first screen: {box}"
    assert box["x"] >= 0 and box["x"] + box["width"] <= size["width"], f"{what} is cut off sideways: {box}"


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_compact_header_menu_and_no_blank_band(new_context, seeded_catalog, screenshot_dir, viewport):
    page = _context(new_context, viewport).new_page()
    page.goto("/")
    header = page.locator(".site-header")
    # The development banner (a thin strip, development only) comes on top of the shop's own header.
    banner_height = page.get_by_test_id("dev-banner").bounding_box()["height"]
    assert banner_height <= 32, f"the development banner takes {banner_height}px at {viewport}"
    height = header.bounding_box()["height"] - banner_height
    assert height <= HEADER_MAX[viewport], f"the header takes {height}px at {viewport}"
    expect(header.get_by_role("search")).to_be_visible()
    expect(header.get_by_role("link", name=re.compile(r"^Cart, 0 items"))).to_be_visible()
    needed, room = page.locator("#site-q").evaluate(PLACEHOLDER_FITS_JS)
    assert needed <= room, f"the search placeholder is cut: needs {needed}px, has {room}px at {viewport}"
    band = page.evaluate(BAND_JS)
    assert band <= BAND_MAX, f"{band}px of blank band under the header at {viewport}"

    # Development tools are in the development banner, not in the shopper's menu.
    banner = page.get_by_test_id("dev-banner")
    expect(banner).to_contain_text("Development shop")
    expect(banner.get_by_role("link", name="Outbox")).to_have_attribute("href", "/dev/outbox")
    expect(page.locator("#site-menu").get_by_text("Outbox")).to_have_count(0)

    menu_button = page.locator("#site-menu > summary")
    books_link = page.locator("#site-menu .nav-links").get_by_role("link", name="Books", exact=True)
    if viewport == "desktop":
        expect(menu_button).to_be_hidden()  # the links show inline
        expect(books_link).to_be_visible()
        assert books_link.bounding_box()["y"] < height, "the nav links should sit in the header row"
    else:
        expect(menu_button).to_be_visible()
        expect(books_link).to_be_hidden()
        page.screenshot(path=str(screenshot_dir / f"layout-header-{viewport}.png"))
        # Keyboard: Tab to the menu button, Enter opens, Escape closes and gives focus back to the button.
        menu_button.focus()
        assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none", "no focus ring"
        page.keyboard.press("Enter")
        expect(books_link).to_be_visible()
        _within_viewport(page, page.locator("#site-menu .nav-links"), "the open menu")
        assert_accessible(page, f"the home page with the menu open ({viewport})")
        page.screenshot(path=str(screenshot_dir / f"layout-menu-open-{viewport}.png"))
        page.keyboard.press("Tab")
        expect(books_link).to_be_focused()
        page.keyboard.press("Escape")
        expect(books_link).to_be_hidden()
        expect(menu_button).to_be_focused()
        # A click elsewhere closes it too; a link in it works.
        menu_button.click()
        page.mouse.click(5, page.viewport_size["height"] - 5)
        expect(books_link).to_be_hidden()
        header_menu(page).get_by_role("link", name="Genres", exact=True).click()
        expect(page).to_have_url(re.compile(r"/genres$"))
    assert_accessible(page, f"a page with the compact header ({viewport})")
    _no_sideways_scroll(page, f"the home page at {viewport}")

    for path in ("/books", f"/books/{seeded_catalog.needle_id}", "/login", "/cart"):
        page.goto(path)
        band = page.evaluate(BAND_JS)
        assert band <= BAND_MAX, f"{band}px of blank band under the header on {path} at {viewport}"
        _no_sideways_scroll(page, f"{path} at {viewport}")


def test_the_menu_works_without_javascript(new_context, seeded_catalog):
    page = _context(new_context, "phone", java_script_enabled=False).new_page()
    page.goto("/")
    page.locator("#site-menu > summary").click()
    page.locator("#site-menu .nav-links").get_by_role("link", name="Sign in", exact=True).click()
    expect(page).to_have_url(re.compile(r"/login$"))


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_book_page_first_screen_and_buy_bar(new_context, seeded_catalog, viewport):
    cat = seeded_catalog
    page = _context(new_context, viewport).new_page()
    page.goto(f"/books/{cat.needle_id}")
    expect(page.locator("main h1")).to_contain_text(cat.needle_title)
    for what, locator in (("the title", page.locator("main h1")),
                          ("the price", page.locator(".book-detail .price")),
                          ("the stock", page.locator(".book-detail .badge").first),
                          ("Add to cart", page.get_by_test_id("add-to-cart")),
                          ("Buy now", page.get_by_test_id("buy-now"))):
        _within_viewport(page, locator, f"{what} at {viewport}")
    expect(page.locator(".book-detail .price")).to_have_text(cat.needle_price)
    bar = page.get_by_test_id("buy-bar")
    expect(bar).to_be_hidden()  # the buy box is in view (phones), or never (desktop)
    _no_sideways_scroll(page, f"the book page at {viewport}")
    assert_accessible(page, f"the book page ({viewport})")
    assert page.locator("[id]").evaluate_all(
        "els => els.map(e => e.id).filter((id, i, all) => all.indexOf(id) !== i)") == [], "duplicate ids"

    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    if viewport == "desktop":
        expect(bar).to_be_hidden()
        return
    expect(bar).to_be_visible()
    bar.evaluate("bar => Promise.all(bar.getAnimations().map(a => a.finished))")  # its slide-in
    add = bar.get_by_test_id("buy-bar-add")
    expect(add).to_have_accessible_name(re.compile(rf"^Add to cart\W+{cat.needle_title}$"))
    _within_viewport(page, add, "the buy bar's Add to cart")
    expect(bar.locator(".buy-bar-price")).to_have_text(cat.needle_price)
    # The page is padded: the last thing on it ends above the bar.
    footer = page.locator(".site-footer").bounding_box()
    assert footer["y"] + footer["height"] <= bar.bounding_box()["y"] + 1, "the buy bar covers the footer"
    assert_accessible(page, f"the book page scrolled, buy bar showing ({viewport})")
    add.click()
    expect(bar.get_by_role("status")).to_contain_text("Added")
    expect(page.get_by_test_id("cart-count")).to_have_text("1")
    page.evaluate("window.scrollTo(0, 0)")
    expect(bar).to_be_hidden()


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_sort_beside_the_result_count(new_context, seeded_catalog, viewport):
    page = _context(new_context, viewport).new_page()
    page.goto("/books")
    count = page.locator("#results .result-count")
    sort = page.get_by_label("Sort by")
    expect(sort).to_be_visible()  # not folded in the filter panel
    expect(page.locator("#filters details.filter-panel")).not_to_have_attribute("open", "")
    count_box, sort_box = count.bounding_box(), sort.bounding_box()
    assert abs((sort_box["y"] + sort_box["height"] / 2) - (count_box["y"] + count_box["height"] / 2)) <= 12, \
        f"the sort control is not beside the count: {sort_box} / {count_box}"
    page.evaluate("window.__folioE2E = 'same-document'")
    sort.select_option("price_asc")
    expect(page).to_have_url(re.compile(r"[?&]sort=price_asc(&|$)"))
    first_price = page.locator("#results .book-card .book-meta strong").first
    expect(first_price).not_to_have_text(seeded_catalog.needle_price)
    # The live search keeps the sort (the select is a field of the #filters form through form="filters").
    page.locator("#q").fill("the")
    expect(page).to_have_url(re.compile(r"q=the"))
    expect(page).to_have_url(re.compile(r"sort=price_asc"))
    expect(page.get_by_label("Sort by")).to_have_value("price_asc")
    assert page.evaluate("window.__folioE2E") == "same-document", "sorting reloaded the page"
    _no_sideways_scroll(page, f"the listing at {viewport}")
    assert_accessible(page, f"the listing, sorted ({viewport})")


def test_sort_without_javascript(new_context, seeded_catalog):
    page = _context(new_context, "phone", java_script_enabled=False).new_page()
    page.goto("/books?q=the")
    page.get_by_label("Sort by").select_option("price_desc")
    page.locator("#results").get_by_role("button", name="Sort").click()
    expect(page).to_have_url(re.compile(r"sort=price_desc"))
    expect(page).to_have_url(re.compile(r"q=the"))
    expect(page.get_by_label("Sort by")).to_have_value("price_desc")


@pytest.fixture
def admin_books(app, make_user):
    from tests.factories import make_book
    from webapp.extensions import db

    make_user("boss", role="admin", totp_secret=ADMIN_TOTP)
    with app.app_context():
        book = make_book("A Rather Long Title for a Narrow Table Row", authors=("Pellam Oduya",), price_cents=1999,
                         on_hand=5)
        book_id = book.id
        db.session.remove()
    return book_id


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_admin_row_edit_fits_a_phone(new_context, admin_books, screenshot_dir, viewport):
    book_id = admin_books
    page = _context(new_context, viewport).new_page()
    sign_in_as(page, "boss", totp_secret=ADMIN_TOTP)
    page.goto("/admin/books")
    row = page.locator(f"#book-{book_id}")
    row.get_by_role("link", name=re.compile(r"^Edit price and stock")).click()
    price = page.locator(f"#price-{book_id}")
    expect(price).to_be_focused()
    save = row.get_by_role("button", name=re.compile(r"^Save"))
    _within_viewport(page, price, f"the price box at {viewport}")
    _within_viewport(page, page.locator(f"#stock-{book_id}"), f"the stock box at {viewport}")
    _within_viewport(page, save, f"Save at {viewport}")
    assert_accessible(page, f"the admin books table, a row in edit ({viewport})")
    page.screenshot(path=str(screenshot_dir / f"layout-admin-row-edit-{viewport}.png"))
    price.fill("24.50")
    price.press("Enter")  # a real form now: Enter saves
    expect(page.locator(f"#price-{book_id}")).to_have_count(0)
    expect(row.get_by_role("status")).to_have_text("Saved.")
    expect(row.locator("td.num").first).to_have_text("$24.50")
    _no_sideways_scroll(page, f"/admin/books at {viewport}")
