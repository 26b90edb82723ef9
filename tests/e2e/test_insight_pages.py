"""The admin home, the reports page and the author dashboard in a real browser, at phone and desktop sizes:
axe finds nothing serious or critical; the low-stock summary and its list agree; a report that just finished
shows up in "Recent reports" without a reload (the list refreshes on the reportsChanged event); the date labels
the browser draws on every chart keep apart and inside their chart; an author with no sales sees an empty
state. Background jobs run only when the test calls `run_jobs` (the e2e server has no worker)."""
from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import ADMIN_TOTP, Auth

from .axe import VIEWPORTS, AxeReport
from .conftest import sign_in_as

AUTHOR = "Wilhelmina Sorrel"
QUIET = "Quentin Hush"
SLOW = 10_000  # the report's polling (one request a second)


@dataclass(frozen=True)
class Shop:
    admin: str
    author_user: str
    quiet_user: str


@pytest.fixture
def shop(app) -> Shop:
    """Sales of one author's book (paid today), an author with none, books low on stock by their own threshold
    and the default (added low: no alert row), the sales rollups built."""
    from sqlalchemy import select

    from tests.checkout_helpers import settle, shopper, start
    from tests.factories import make_book
    from webapp.extensions import db
    from webapp.models import Author, Inventory
    from webapp.services.insight import rollups

    with app.app_context():
        auth = Auth(app, None)
        boss = auth.user("boss", role="admin", totp_secret=ADMIN_TOTP)
        sold = make_book("The Salt Marsh Ledger", authors=(AUTHOR,), price_cents=2400, on_hand=9)
        make_book("A Quiet Shelf", authors=(QUIET,), on_hand=9)
        make_book("Two Left Behind", on_hand=2)
        watched = make_book("Watched Closely", on_hand=7)
        db.session.get(Inventory, watched.id).low_stock_threshold = 8
        make_book("Nothing Left", on_hand=0)
        order = start(shopper("buyer_bea"), [(sold, 2, "buy", 0)])
        settle(order, "pi_insight_e2e", order.card_cents)
        db.session.commit()
        rollups.refresh_rollups(full=True)
        for username, name in (("wil_sorrel", AUTHOR), ("q_hush", QUIET)):
            user = auth.user(username, role="author")
            db.session.scalar(select(Author).where(Author.name == name)).user_id = user.id
        db.session.commit()
        seeded = Shop(admin=boss.username, author_user="wil_sorrel", quiet_user="q_hush")
        db.session.remove()
    return seeded


def _assert_chart_labels_apart(page: Page, charts: int) -> None:
    """Every chart's x-axis labels, as laid out by the browser: no two overlap, none sticks out of its chart."""
    found = page.locator("figure.chart svg[role=img]").evaluate_all("""svgs => svgs.map(svg => {
        const box = svg.getBoundingClientRect();
        const labels = [...svg.querySelectorAll('g[id^="xtick_"] text')].map(t => {
            const r = t.getBoundingClientRect();
            return {text: t.textContent, left: r.left, right: r.right, top: r.top, bottom: r.bottom};
        });
        return {left: box.left, right: box.right, top: box.top, bottom: box.bottom, labels};
    })""")
    assert len(found) == charts
    for chart in found:
        labels = chart["labels"]
        assert labels, "a chart without date labels"
        for a in labels:
            assert chart["left"] - 0.5 <= a["left"] and a["right"] <= chart["right"] + 0.5, (a, chart)
            assert chart["top"] - 0.5 <= a["top"] and a["bottom"] <= chart["bottom"] + 0.5, (a, chart)
        for a, b in zip(labels, labels[1:], strict=False):
            assert a["right"] <= b["left"], f"{a['text']!r} overlaps {b['text']!r}: {labels}"


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_admin_home_reports_and_author_dashboard(new_context, shop: Shop, run_jobs, viewport):
    context = new_context(viewport=VIEWPORTS[viewport])
    context.set_default_timeout(5_000)
    page = context.new_page()
    report = AxeReport()
    sign_in_as(page, shop.admin, totp_secret=ADMIN_TOTP)

    # --- the admin home: one definition of low stock for the summary and the list
    page.goto("/admin")
    expect(page.locator("[data-testid=low-stock]")).to_have_text("2")
    expect(page.locator("[data-testid=out-of-stock]")).to_have_text("1")
    expect(page.locator("[data-testid=alert-row]")).to_have_count(3)
    expect(page.locator("[data-testid=low-stock-summary]")).to_contain_text("3 books at or below their low-stock "
                                                                            "threshold now: 2 low, 1 out of stock")
    expect(page.get_by_text("No book is low on stock")).to_have_count(0)
    _assert_chart_labels_apart(page, 1)
    report.audit(page, "/admin (home)")

    # --- reports: the list under the form follows the report from queued to finished, without a reload
    page.goto("/admin/reports")
    listing = page.locator("#report-list")
    expect(listing).to_contain_text("No reports yet.")
    page.locator("[data-testid=report-form]").get_by_role("button", name="Run report").click()
    status = page.locator("#report-form [data-testid=task-status]")
    expect(status).to_have_attribute("data-status", "queued")
    expect(listing.locator("[data-testid=recent-reports] tbody tr")).to_have_count(1)
    expect(listing).to_contain_text("queued")
    run_jobs()
    expect(status).to_have_attribute("data-status", "finished", timeout=SLOW)
    expect(listing.locator("[data-testid=recent-reports] tbody tr")).to_contain_text("finished", timeout=SLOW)
    expect(listing).not_to_contain_text("No reports yet")
    _assert_chart_labels_apart(page, 2)  # the report's revenue and orders
    report.audit(page, "/admin/reports with a report that just finished")

    # --- the author dashboard, both periods, with sales; then an author with none
    context.clear_cookies()
    sign_in_as(page, shop.author_user)
    for period in ("12m", "30d"):
        page.goto(f"/author?period={period}")
        expect(page.locator("[data-testid=total-sold]")).to_have_text("2")
        expect(page.locator("[data-testid=no-sales]")).to_have_count(0)
        _assert_chart_labels_apart(page, 2)
        report.audit(page, f"/author?period={period}")
    context.clear_cookies()
    sign_in_as(page, shop.quiet_user)
    page.goto("/author")
    expect(page.locator("[data-testid=no-sales]")).to_be_visible()
    charts = page.locator("figure.chart svg[role=img]")
    expect(charts.first).to_have_attribute("aria-label", re.compile(r"; no copies sold or rented in this period$"))
    expect(charts.first.locator("text", has_text="No copies sold or rented in this period")).to_have_count(1)
    _assert_chart_labels_apart(page, 2)
    report.audit(page, "/author with no sales (empty state)")
    context.close()
    report.check()
