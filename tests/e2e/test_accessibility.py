"""axe-core audits of the catalog pages, and screenshots for a human eye (not compared)."""
from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from .axe import VIEWPORTS, assert_accessible


def _pages(cat) -> dict[str, str]:
    return {
        "home": "/",
        "listing": "/books",
        "search": "/books?q=garden",
        "detail": f"/books/{cat.needle_id}",
    }


def _ready(page: Page, path: str) -> None:
    page.goto(path)
    expect(page.locator("main h1")).to_be_visible()
    page.wait_for_load_state("load")


@pytest.mark.parametrize("name", ["home", "listing", "search", "detail"])
def test_no_serious_axe_violations(e2e_page: Page, seeded_catalog, name):
    page = e2e_page
    path = _pages(seeded_catalog)[name]
    _ready(page, path)
    if name == "search":
        expect(page.locator("#results .book-card").first).to_be_visible()  # audit a page with results
    assert_accessible(page, path)


def test_no_serious_axe_violations_after_live_search(e2e_page: Page, seeded_catalog):
    """The htmx-swapped results (and the 'no results' state) are audited too."""
    page = e2e_page
    _ready(page, "/books")
    page.locator("#q").press_sequentially("zzqx", delay=20)
    expect(page.locator("#results .result-count")).to_have_text("No books found")
    assert_accessible(page, "the listing after a live search")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_serious_axe_violations_in_filter_errors(new_context, seeded_catalog, scheme):
    """Open filters showing validation errors, in both colour schemes (Pico follows the OS setting)."""
    context = new_context(color_scheme=scheme)
    context.set_default_timeout(5_000)
    page = context.new_page()
    _ready(page, "/books?min_price=abc&max_price=-3&in_stock=y")
    expect(page.locator("#filters details.filter-panel")).to_have_attribute("open", "")
    expect(page.locator("#filters small.error").first).to_be_visible()
    assert_accessible(page, f"the filters with errors ({scheme} scheme)")


def _load_lazy_images(page: Page) -> None:
    """Covers are loading="lazy": load them all so a full-page screenshot shows them."""
    page.evaluate("document.querySelectorAll('img[loading=lazy]').forEach(img => img.loading = 'eager')")
    # (page.evaluate, not wait_for_function: the app's CSP forbids the eval the latter needs)
    page.evaluate("""() => Promise.all([...document.images].filter(img => !img.complete)
        .map(img => new Promise(done => { img.onload = img.onerror = done; })))""")


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_screenshots_and_layout(new_context, seeded_catalog, screenshot_dir, viewport):
    size = VIEWPORTS[viewport]
    context = new_context(viewport=size, device_scale_factor=1)
    context.set_default_timeout(5_000)
    page = context.new_page()
    for name in ("home", "listing", "detail"):
        _ready(page, _pages(seeded_catalog)[name])
        _load_lazy_images(page)
        # Nothing may stick out sideways (a sign of a broken phone layout).
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{name} at {viewport} scrolls sideways by {overflow}px"
        if name == "listing":
            q = page.locator("#q").bounding_box()
            summary = page.locator("#filters summary").bounding_box()
            assert q["width"] >= size["width"] * 0.5, f"the search box is squeezed to {q['width']}px at {viewport}"
            assert summary["y"] >= q["y"] + q["height"], "'Filters' should sit below the search box"
        page.screenshot(path=str(screenshot_dir / f"{name}-{viewport}-{size['width']}x{size['height']}.png"),
                        full_page=True)
    # The listing again with its filter panel open.
    _ready(page, "/books")
    page.locator("#filters summary").click()
    expect(page.locator("#sort")).to_be_visible()
    boxes = [page.locator(sel).bounding_box() for sel in ("#filters #genre", "#filters #language", "#sort")]
    assert all(b["x"] >= 0 and b["x"] + b["width"] <= size["width"] for b in boxes), boxes
    page.screenshot(path=str(screenshot_dir / f"listing-filters-{viewport}-{size['width']}x{size['height']}.png"))
    assert {p.name for p in screenshot_dir.glob(f"*-{viewport}-*.png")} >= {
        f"{n}-{viewport}-{size['width']}x{size['height']}.png" for n in ("home", "listing", "detail", "listing-filters")
    }
