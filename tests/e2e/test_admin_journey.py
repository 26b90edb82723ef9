"""The admin panel in a real browser: an admin signs in with 2FA, adds a book with a cover, edits its price in the
table row, adjusts its stock with a reason, ships a paid order, takes back a rental and runs the sales report
(a background job: the page polls until the job is done, then shows the chart and the CSV link). Then axe audits
of the admin and author pages the journey does not pass through.

The seed goes through the services: a customer's paid order (tests/checkout_helpers.start + orders.fulfil), a
rental out with another reader (the same way), the sales rollups built, a discount code, and an author account
linked to the author of the books sold. Background jobs (the report, emails) only run when the test calls
`run_jobs`: the e2e server has no worker.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from tests.conftest import ADMIN_TOTP, Auth

from .axe import VIEWPORTS, AxeReport
from .conftest import assert_same_document, in_app, mark_document, sign_in_as

AUTHOR = "Imogen Trask"
SOLD_TITLE = "The Orchard Accounts"
RENTED_TITLE = "The Ferryman's Almanac"
NEW_TITLE = "Salt Roads of the North"
NEW_ISBN = "9780306406157"  # a valid ISBN-13 check digit
BAD_ISBN = "9780306406158"
SLOW = 10_000  # htmx round trips and the report's polling (one request a second)


@dataclass(frozen=True)
class Shop:
    admin: str
    author_user: str
    order_number: str
    rental_id: int
    revenue_cents: int  # both orders, paid today
    today: str


@pytest.fixture
def shop(app) -> Shop:
    """A paid order to ship, a rental out, sales rollups up to date, a discount code and a linked author."""
    from sqlalchemy import select

    from tests.checkout_helpers import settle, start
    from tests.factories import make_book
    from webapp.extensions import db
    from webapp.models import Author, Rental, utcnow
    from webapp.services.commerce import discounts
    from webapp.services.insight import rollups

    with app.app_context():
        auth = Auth(app, None)
        boss = auth.user("boss", role="admin", totp_secret=ADMIN_TOTP)
        sold = make_book(SOLD_TITLE, authors=(AUTHOR,), genres=("History",), price_cents=1850, on_hand=6,
                         description="Three centuries of an apple orchard, told through its account books.")
        rented = make_book(RENTED_TITLE, authors=(AUTHOR,), genres=("Travel",), price_cents=2200, on_hand=2,
                           description="Tides, tolls and passengers of a river crossing.")

        buyer = auth.user("reader_rosa")
        order = start(buyer, [(sold, 2, "buy", 7)])
        settle(order, "pi_admin_e2e_1", order.total_cents)
        renter = auth.user("renter_rex")
        rental_order = start(renter, [(rented, 1, "rent", 3)])
        settle(rental_order, "pi_admin_e2e_2", rental_order.total_cents)
        db.session.commit()
        short = start(auth.user("short_payer"), [(sold, 1, "buy", 7)])
        assert settle(short, "pi_admin_e2e_short", amount=1) == "mismatch"  # a payment issue for /admin/payments
        db.session.commit()
        rental = db.session.scalars(select(Rental).where(Rental.book_id == rented.id)).one()
        assert rental.status == "active"
        rollups.refresh_rollups(full=True)

        discounts.create(boss, discounts.DiscountInput(code="SPRING10", kind="percent", value=10,
                                                       description="Spring sale"))
        writer = auth.user("imogen_t", role="author")
        author = db.session.scalar(select(Author).where(Author.name == AUTHOR))
        author.user_id = writer.id
        db.session.commit()
        seeded = Shop(admin=boss.username, author_user=writer.username, order_number=order.number,
                      rental_id=rental.id, revenue_cents=order.total_cents + rental_order.total_cents,
                      today=utcnow().date().isoformat())
        db.session.remove()
    return seeded


# ---- helpers ----

def _cover_png(tmp_path: Path) -> Path:
    path = tmp_path / "salt-roads-cover.png"
    Image.new("RGB", (300, 450), (30, 90, 140)).save(path, "PNG")
    return path


def _book(app, title: str) -> dict:
    """The book's id, price and stock on hand, read through a fresh session."""
    from sqlalchemy import select

    from webapp.models import Book
    from webapp.services.inventory import stock

    def read(db):
        book = db.session.scalars(select(Book).where(Book.title == title)).one()
        return {"id": book.id, "price": book.price_cents, "on_hand": stock.state(book.id).on_hand,
                "cover": book.cover_path}

    return in_app(app, read)


def _order_status(app, number: str) -> str:
    from webapp.services.commerce import orders

    return in_app(app, lambda db: orders.by_number(number).status)


def _rental_status(app, rental_id: int) -> str:
    from webapp.models import Rental

    return in_app(app, lambda db: db.session.get(Rental, rental_id).status)


def _admin_nav(page: Page, name: str):
    return page.get_by_role("navigation", name="Admin").get_by_role("link", name=name, exact=True)


def _dollars(cents: int) -> str:
    return f"{cents / 100:.2f}"


# ---- the acceptance journey ----

def test_admin_adds_a_book_edits_it_inline_ships_returns_and_runs_a_report(e2e_page: Page, shop: Shop, app,
                                                                           run_jobs, tmp_path):
    page = e2e_page
    report = AxeReport()

    # --- sign in with 2FA; the header's Admin link opens the dashboard
    sign_in_as(page, shop.admin, totp_secret=ADMIN_TOTP)
    page.locator(".site-header").get_by_role("link", name="Admin", exact=True).click()
    expect(page).to_have_url(re.compile(r"/admin$"))
    expect(page.locator("main h1")).to_have_text("Shop at a glance")
    expect(page.locator("[data-testid=orders-today]")).to_have_text("2")
    expect(page.locator("main figure.chart svg[role=img]")).to_have_count(1)
    report.audit(page, "/admin (home with the revenue chart)")

    # --- add a book: first with a wrong ISBN and no title (errors shown), then right, with a cover
    _admin_nav(page, "Books").click()
    expect(page.locator("main h1")).to_have_text("Books")
    expect(page.locator("#books-table tbody tr")).to_have_count(2)
    page.locator("main").get_by_role("button", name="Add a book").click()  # a link styled as a button
    expect(page).to_have_url(re.compile(r"/admin/books/new$"))
    report.audit(page, "/admin/books/new")
    page.locator("#isbn").fill(BAD_ISBN)
    page.locator("#authors").fill("Mira Okafor")
    page.locator("#price").fill("16.40")
    page.locator("main").get_by_role("button", name="Add the book").click()
    expect(page.locator("#isbn")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#isbn-feedback .error-text")).to_be_visible()
    expect(page.locator("#title")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#authors")).to_have_value("Mira Okafor")  # the rest of the form is kept
    report.audit(page, "/admin/books/new with validation errors")

    page.locator("#isbn").fill(NEW_ISBN)
    page.locator("#title").fill(NEW_TITLE)
    page.locator("#authors").fill("Mira Okafor, Tom Lane")
    page.locator("#genres").fill("Travel, History")
    page.locator("#price").fill("16.40")
    page.locator("#stock").fill("4")
    page.locator("#cover").set_input_files(_cover_png(tmp_path))
    page.locator("main").get_by_role("button", name="Add the book").click()
    expect(page.locator(".flashes")).to_contain_text(f"Added “{NEW_TITLE}”.")
    expect(page).to_have_url(re.compile(r"/admin/books/\d+/edit$"))
    expect(page.locator("main img.book-cover")).to_have_attribute("src", re.compile(r"^/media/covers/"))
    added = _book(app, NEW_TITLE)
    assert (added["price"], added["on_hand"]) == (1640, 4)
    assert added["cover"] and added["cover"].startswith("covers/")

    # --- it is in the list; edit its price in the row (htmx swaps the row, no page load)
    _admin_nav(page, "Books").click()
    rows = page.locator("#books-table tbody tr")
    expect(rows).to_have_count(3)
    row = page.locator(f"#book-{added['id']}")
    expect(row).to_contain_text(NEW_TITLE)
    expect(row).to_contain_text("Mira Okafor, Tom Lane")
    expect(row.locator("td.num").first).to_have_text("$16.40")
    expect(row.locator("[data-testid=stock]")).to_have_text("4")
    report.audit(page, "/admin/books")
    mark_document(page)
    row.get_by_role("link", name=f"Edit price and stock of {NEW_TITLE}").click()
    price = row.locator(f"#price-{added['id']}")
    expect(price).to_be_focused()
    expect(price).to_have_value("16.40")

    price.fill("twelve")
    row.get_by_role("button", name=f"Save {NEW_TITLE}").click()
    expect(row.locator(f"#price-{added['id']}-feedback .error-text")).to_be_visible()
    expect(row.locator(f"#price-{added['id']}")).to_have_attribute("aria-invalid", "true")
    expect(row.locator(f"#price-{added['id']}")).to_have_value("twelve")
    report.audit(page, "/admin/books with an error in the edited row")
    assert _book(app, NEW_TITLE)["price"] == 1640, "nothing saved"

    row.locator(f"#price-{added['id']}").fill("21.50")
    row.get_by_role("button", name=f"Save {NEW_TITLE}").click()
    expect(row.locator(f"#price-{added['id']}")).to_have_count(0)  # back to the plain row
    expect(row.locator("td.num").first).to_have_text("$21.50")
    expect(row.get_by_role("status")).to_have_text("Saved.")
    expect(row.get_by_role("link", name=f"Edit price and stock of {NEW_TITLE}")).to_be_focused()
    assert_same_document(page, "editing the price in the row")
    assert _book(app, NEW_TITLE)["price"] == 2150

    # --- adjust the stock with a reason: the ledger shows the movement
    row.get_by_role("link", name=f"Stock history of {NEW_TITLE}").click()
    expect(page).to_have_url(re.compile(rf"/admin/books/{added['id']}/stock$"))
    on_hand = page.locator("[data-testid=on-hand]")
    expect(on_hand).to_have_text("4")
    page.locator("#delta").fill("+3")
    page.locator("#reason").select_option("restock")
    page.locator("#note").fill("Delivery from the distributor, invoice 2231")
    page.locator("main").get_by_role("button", name="Record the change").click()
    expect(page.locator(".flashes")).to_contain_text(f"Stock of “{NEW_TITLE}” is now 7 on hand (7 available).")
    expect(on_hand).to_have_text("7")
    movement = page.locator("#ledger-heading ~ .table-wrap tbody tr", has_text="invoice 2231")
    expect(movement).to_have_count(1)
    expect(movement.locator("td").nth(1)).to_have_text("+3")
    expect(movement.locator("td").nth(3)).to_have_text("restock")
    expect(movement.locator("td").nth(5)).to_have_text(shop.admin)
    assert _book(app, NEW_TITLE)["on_hand"] == 7
    report.audit(page, "/admin/books/<id>/stock with a movement")

    # --- the uploaded cover on the public book page
    page.goto(f"/books/{added['id']}")
    expect(page.locator("main h1")).to_have_text(NEW_TITLE)
    cover = page.locator("main img.book-cover")
    expect(cover).to_have_attribute("src", re.compile(r"^/media/covers/[^/]+\.jpg$"))
    assert page.evaluate("img => img.complete && img.naturalWidth > 0", cover.element_handle()), "cover not loaded"

    # --- ship the paid order
    page.goto("/admin/orders")
    order_row = page.locator("[data-testid=order-row]", has_text=shop.order_number)
    expect(order_row.locator(".status-pill")).to_have_text("paid")
    report.audit(page, "/admin/orders")
    order_row.get_by_role("link", name=shop.order_number).click()
    expect(page.locator("main h1")).to_have_text(f"Order {shop.order_number}")
    expect(page.locator("[data-testid=order-status]")).to_have_text("paid")
    report.audit(page, "/admin/orders/<number> (paid)")
    page.locator("#tracking").fill("TRACK-0042")
    page.locator("main").get_by_role("button", name="Mark shipped and email the customer").click()
    expect(page.locator(".flashes")).to_contain_text(
        f"Order {shop.order_number} is marked shipped and the customer was emailed.")
    expect(page.locator("[data-testid=order-status]")).to_have_text("shipped")
    expect(page.locator("ol.timeline")).to_contain_text("TRACK-0042")
    assert _order_status(app, shop.order_number) == "shipped"

    # --- take back the rental
    page.goto("/admin/rentals")  # the order page has no admin nav, only its "← Orders" link
    rental_row = page.locator("[data-testid=rental-row]", has_text=RENTED_TITLE)
    expect(rental_row.locator("td").nth(3)).to_have_text("on its way (order not delivered)")  # paid, not delivered
    rental_row.get_by_role("button", name=f"Mark returned {RENTED_TITLE}").click()
    expect(page.locator(".flashes")).to_contain_text(f"“{RENTED_TITLE}” is back on the shelf.")
    expect(page.locator("[data-testid=rental-row]", has_text=RENTED_TITLE)).to_have_count(0)
    assert _rental_status(app, shop.rental_id) == "returned"

    # --- the sales report: queued by the form, run by the worker, shown when the polling sees it done
    _admin_nav(page, "Reports").click()
    expect(page.locator("main h1")).to_have_text("Reports")
    report.audit(page, "/admin/reports")
    form = page.locator("[data-testid=report-form]")
    expect(form.locator("#report")).to_have_value("report:sales")
    mark_document(page)
    form.get_by_role("button", name="Run report").click()
    status = page.locator("#report-form [data-testid=task-status]")
    expect(status).to_have_attribute("data-status", "queued")
    expect(status.get_by_role("status")).to_contain_text("Waiting for a worker")
    run_jobs()  # the worker's turn: the page is still polling
    expect(status).to_have_attribute("data-status", "finished", timeout=SLOW)
    expect(status.get_by_role("status")).to_contain_text("Done")
    output = status.locator("[data-testid=report-output]")
    expect(output.locator("svg[role=img]")).to_have_count(2)  # revenue and orders
    expect(output.locator("[data-testid=sales-totals]")).to_contain_text(f"${_dollars(shop.revenue_cents)}")
    assert_same_document(page, "the report's progress polling")

    with page.expect_download() as download_info:
        status.get_by_role("link", name="Download CSV").click()
    csv_text = Path(download_info.value.path()).read_text(encoding="utf-8")
    lines = csv_text.splitlines()
    assert lines[0] == ("period_start,orders,revenue,average_order_value,units,cancelled_or_refunded_orders,"
                        "cancelled_or_refunded_amount")
    assert any(line.startswith(f"{shop.today},2,{_dollars(shop.revenue_cents)},") for line in lines), csv_text

    page.locator("#report-form").get_by_role("link", name="Open this report on its own page").click()
    expect(page).to_have_url(re.compile(r"/admin/reports/\d+$"))
    expect(page.locator("main [data-testid=report-output] svg[role=img]")).to_have_count(2)
    report.audit(page, "a finished sales report")

    report.check()


# ---- axe audits of the other admin and author pages, in both colour schemes ----

@pytest.mark.parametrize(("scheme", "viewport"), [("light", "desktop"), ("dark", "phone")])
def test_no_serious_axe_violations_on_admin_and_author_pages(new_context, shop: Shop, scheme, viewport):
    """The pages the journey does not audit, plus (in the dark scheme, on a phone) the admin home and the books
    table with an error in an edited row, where Pico's muted grey sits on a darker background."""
    context = new_context(color_scheme=scheme, viewport=VIEWPORTS[viewport])
    context.set_default_timeout(5_000)
    page = context.new_page()
    report = AxeReport()
    sign_in_as(page, shop.admin, totp_secret=ADMIN_TOTP)

    if scheme == "dark":
        page.goto("/admin")
        expect(page.locator("main figure.chart svg[role=img]")).to_have_count(1)
        report.audit(page, "/admin (home with the revenue chart)")
        page.goto("/admin/books")
        row = page.locator("#books-table tbody tr", has_text=SOLD_TITLE)
        row.get_by_role("link", name=f"Edit price and stock of {SOLD_TITLE}").click()
        row.get_by_role("textbox", name=f"Price of {SOLD_TITLE} ($)").fill("-1")
        row.get_by_role("button", name=f"Save {SOLD_TITLE}").click()
        expect(row.locator(".error-text")).to_be_visible()
        save = row.get_by_role("button", name=f"Save {SOLD_TITLE}")
        save.hover()  # Pico's dark hover colour was 4.4:1 under white text
        save.evaluate("button => Promise.all(button.getAnimations().map(a => a.finished))")  # its colour transition
        report.audit(page, "/admin/books with an error in the edited row, Save hovered")

    page.goto("/admin/books/import")
    expect(page.locator("main h1")).to_be_visible()
    report.audit(page, "/admin/books/import")

    page.goto("/admin/discounts")
    expect(page.locator("main")).to_contain_text("SPRING10")
    report.audit(page, "/admin/discounts")
    page.goto("/admin/discounts/new")
    report.audit(page, "/admin/discounts/new")
    page.locator("main form button[type=submit]").last.click()
    expect(page.locator("main [aria-invalid=true]").first).to_be_visible()
    report.audit(page, "/admin/discounts/new with validation errors")

    page.goto("/admin/authors")
    expect(page.locator("#authors-table")).to_contain_text(AUTHOR)
    report.audit(page, "/admin/authors")
    page.goto("/admin/authors/new")
    report.audit(page, "/admin/authors/new")

    page.goto("/admin/audit")
    expect(page.locator("main h1")).to_be_visible()
    report.audit(page, "/admin/audit")

    page.goto("/admin/payments")
    expect(page.locator("[data-testid=payment-issue]")).to_have_count(1)
    report.audit(page, "/admin/payments (an amount that did not match)")

    # --- the author area, signed in as the account linked to the author of the books sold
    context.clear_cookies()
    author = page
    sign_in_as(author, shop.author_user)
    author.goto("/author")
    expect(author.locator("main h1")).to_have_text("Author dashboard")
    expect(author.locator("#figures svg[role=img]")).to_have_count(2)
    expect(author.locator("#figures [data-testid=book-row]", has_text=SOLD_TITLE)).to_be_visible()
    report.audit(author, "/author (dashboard with charts)")
    author.goto("/author/profile")
    expect(author.locator("main h1")).to_be_visible()
    report.audit(author, "/author/profile")
    context.close()

    report.check()
