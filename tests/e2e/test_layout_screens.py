"""Screenshots for issue 17's closing note: home, listing, book page, cart (with items) and checkout (a signed-in
customer), at phone and desktop sizes. For each: the first screen, note-<name>-<phone|desktop>.png, and the whole
page, note-<name>-<phone|desktop>-full.png, in screenshot_dir. Each page is audited with axe on the way."""
from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from .axe import VIEWPORTS, assert_accessible
from .conftest import sign_in_as

NOTE_PAGES = ("home", "listing", "book", "cart", "checkout")


def _load_images(page: Page) -> None:
    """Covers are loading="lazy": load them all so the full-page screenshot shows them."""
    page.evaluate("document.querySelectorAll('img[loading=lazy]').forEach(img => img.loading = 'eager')")
    page.evaluate("""() => Promise.all([...document.images].filter(img => !img.complete)
        .map(img => new Promise(done => { img.onload = img.onerror = done; })))""")


def _shoot(page: Page, screenshot_dir, name: str, viewport: str) -> None:
    page.wait_for_load_state("load")
    _load_images(page)
    assert_accessible(page, f"{name} ({viewport})")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= VIEWPORTS[viewport]["width"], f"{name} scrolls sideways at {viewport} ({width}px)"
    page.screenshot(path=str(screenshot_dir / f"note-{name}-{viewport}.png"))
    page.screenshot(path=str(screenshot_dir / f"note-{name}-{viewport}-full.png"), full_page=True)


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_screens_for_the_closing_note(new_context, seeded_catalog, make_user, screenshot_dir, viewport):
    cat = seeded_catalog
    make_user("reader_noor")
    context = new_context(viewport=VIEWPORTS[viewport], device_scale_factor=1)
    context.set_default_timeout(10_000)
    page = context.new_page()
    sign_in_as(page, "reader_noor")

    page.goto("/")
    expect(page.locator("main h1")).to_be_visible()
    _shoot(page, screenshot_dir, "home", viewport)

    page.goto("/books?sort=price_asc")
    expect(page.locator("#results .book-card").first).to_be_visible()
    _shoot(page, screenshot_dir, "listing", viewport)

    page.goto(f"/books/{cat.needle_id}")
    expect(page.locator("main h1")).to_contain_text(cat.needle_title)
    page.get_by_test_id("add-to-cart").click()
    expect(page.get_by_test_id("cart-count")).to_have_text("1")
    page.reload()  # the page as a shopper first sees it (no "Added" line)
    _shoot(page, screenshot_dir, "book", viewport)

    page.goto("/books?q=garden")  # a second book in the cart, from a card
    page.locator("#results .book-card .card-add button").first.click()
    expect(page.get_by_test_id("cart-count")).to_have_text("2")
    page.goto("/cart")
    expect(page.locator("main h1")).to_be_visible()
    _shoot(page, screenshot_dir, "cart", viewport)

    page.goto("/checkout")
    expect(page.locator("main h1")).to_be_visible()
    _shoot(page, screenshot_dir, "checkout", viewport)

    for name in NOTE_PAGES:
        for suffix in ("", "-full"):
            assert (screenshot_dir / f"note-{name}-{viewport}{suffix}.png").stat().st_size > 0
