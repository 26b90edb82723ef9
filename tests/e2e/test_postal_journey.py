"""A rental by post in a real browser (issue 16): a Free customer rents a book, chooses post at checkout (rental
shipping) and pays on the offline test gateway; the admin ships it and marks it delivered, which starts the loan;
time passes (the rental's dates are moved back in the database: the live server shares the test process, and
moving the clock would also expire the browser sessions); the customer, two days late, marks it sent back on
/account/rentals; the admin receives it from the "Sent back" view and the late fee counts only the days until
it was sent back. axe (serious/critical) at phone and desktop sizes on the checkout page, /account/rentals with
the book on its way, with the customer and sent back, and the admin rentals views.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import ADMIN_TOTP, Auth

from .axe import VIEWPORTS, AxeReport
from .conftest import in_app, sign_in_as

TITLE = "The Postbox Chronicles"
GOOD_CARD = "4242 4242 4242 4242"
CARD_YEAR = str(date.today().year + 3)
SLOW = 10_000


@dataclass(frozen=True)
class Shop:
    book_id: int
    customer: str
    admin: str


@pytest.fixture
def shop(app) -> Shop:
    from tests.factories import make_book

    with app.app_context():
        from webapp.extensions import db

        auth = Auth(app, None)
        book = make_book(TITLE, authors=("Rosalind Mailer",), genres=("Fiction",), price_cents=1800, on_hand=2,
                         description="Letters that took the long way round.")
        auth.user("free_fred", email="fred@example.com")
        auth.user("boss", role="admin", totp_secret=ADMIN_TOTP)
        seeded = Shop(book_id=book.id, customer="free_fred", admin="boss")
        db.session.remove()
    return seeded


def _audit_sizes(report: AxeReport, page: Page, label: str) -> None:
    """axe at phone and desktop sizes, then back to desktop."""
    for name, size in VIEWPORTS.items():
        page.set_viewport_size(size)
        report.audit(page, f"{label} ({name})")
    page.set_viewport_size(VIEWPORTS["desktop"])


def _rental(app, book_id: int) -> dict:
    from sqlalchemy import select

    from webapp.models import Rental

    def read(db):
        r = db.session.scalars(select(Rental).where(Rental.book_id == book_id)).one()
        return {"id": r.id, "status": r.status, "starts_at": r.starts_at, "due_at": r.due_at,
                "sent_back_at": r.sent_back_at, "fee_cents": r.fee_cents}

    return in_app(app, read)


def _time_passes(app, rental_id: int, span: timedelta) -> None:
    """Move the loan's dates back by `span` (as if that much time had passed since delivery)."""
    from sqlalchemy import update

    from webapp.models import Rental

    def move(db):
        rental = db.session.get(Rental, rental_id)
        db.session.execute(update(Rental).where(Rental.id == rental_id).values(
            starts_at=rental.starts_at - span, due_at=rental.due_at - span))
        db.session.commit()

    in_app(app, move)


def test_a_free_customer_rents_by_post_and_sends_it_back(e2e_page: Page, new_context, shop: Shop, app, run_jobs):
    report = AxeReport()
    page = e2e_page
    page.set_default_timeout(SLOW)  # a long journey on a shared machine: room for a slow page under load
    page.set_viewport_size(VIEWPORTS["desktop"])

    # --- the customer rents the book for 3 days and checks out by post
    sign_in_as(page, shop.customer)
    page.goto(f"/books/{shop.book_id}")
    expect(page.locator("main h1")).to_have_text(TITLE)
    page.locator("#rent-days").select_option("3")
    page.locator("[data-testid=rent]").click()
    expect(page.get_by_test_id("cart-count")).to_have_text("1")  # the rental is in the cart before moving on
    page.goto("/checkout")
    expect(page.locator("main h1")).to_have_text("Checkout")
    expect(page.locator("[data-testid=delivery-post]")).to_be_checked()
    expect(page.locator("#delivery-form")).to_contain_text("By post ($1.99, rental shipping)")
    expect(page.locator("[data-testid=shipping]")).to_have_text("$1.99")
    _audit_sizes(report, page, "checkout by post")
    # Choosing collect reprices the page in place (htmx); back to post for this journey.
    page.locator("[data-testid=delivery-collect]").check()
    expect(page.locator("[data-testid=collect-note]")).to_be_visible(timeout=SLOW)
    expect(page.locator("[data-testid=shipping]")).to_have_text("Collect in store, free")
    _audit_sizes(report, page, "checkout, collect in store")
    page.locator("[data-testid=delivery-post]").check()
    expect(page.locator("[data-testid=shipping]")).to_have_text("$1.99", timeout=SLOW)
    page.locator("#full_name").fill("Fred Reader")
    page.locator("#line1").fill("1 Main Street")
    page.locator("#city").fill("Springfield")
    page.locator("#postcode").fill("12345")
    page.locator("#country").select_option("US")
    page.locator("[data-testid=pay-button]").click()
    expect(page).to_have_url(re.compile(r"/pay/test/cs_test_[\w-]+$"))
    page.locator("#card_number").fill(GOOD_CARD)
    page.locator("#exp_month").fill("12")
    page.locator("#exp_year").fill(CARD_YEAR)
    page.locator("#cvc").fill("123")
    page.locator("#name").fill("Fred Reader")
    page.locator("[data-testid=pay-submit]").click()
    expect(page).to_have_url(re.compile(r"/checkout/success/FO-[A-Z0-9-]+$"))
    number = page.url.rsplit("/", 1)[1]
    run_jobs()  # the gateway's webhook: the order is paid
    expect(page.locator("[data-testid=order-paid]")).to_contain_text("Payment received", timeout=SLOW)

    rental = _rental(app, shop.book_id)
    assert (rental["status"], rental["starts_at"], rental["due_at"]) == ("active", None, None)  # on its way
    page.goto("/account/rentals")
    row = page.locator("[data-testid=active-rental]", has_text=TITLE)
    expect(row.locator("[data-testid=loan-state]")).to_have_text("On its way to you")
    expect(row).to_contain_text("starts on delivery")
    expect(row.get_by_role("button")).to_have_count(0)  # nothing to renew or send back yet
    _audit_sizes(report, page, "/account/rentals (on its way)")

    # --- the admin sees it on its way, ships it and marks it delivered
    admin_context = new_context()
    admin_context.set_default_timeout(SLOW)
    admin = admin_context.new_page()
    sign_in_as(admin, shop.admin, totp_secret=ADMIN_TOTP)
    admin.goto("/admin/rentals?view=on_its_way")
    expect(admin.locator("[data-testid=rental-row]", has_text=TITLE)).to_contain_text("on its way")
    _audit_sizes(report, admin, "/admin/rentals?view=on_its_way")
    admin.goto(f"/admin/orders/{number}")
    expect(admin.locator("[data-testid=delivery-method]")).to_have_text("By post")
    admin.locator("main").get_by_role("button", name="Mark shipped and email the customer").click()
    expect(admin.locator("[data-testid=order-status]")).to_have_text("shipped")
    admin.locator("main").get_by_role("button", name="Mark delivered").click()
    expect(admin.locator(".flashes")).to_contain_text(f"Order {number} is marked delivered; any rental loans start now.")
    expect(admin.locator("[data-testid=order-status]")).to_have_text("delivered")
    rental = _rental(app, shop.book_id)
    assert rental["due_at"] - rental["starts_at"] == timedelta(days=3)

    page.goto("/account/rentals")
    row = page.locator("[data-testid=active-rental]", has_text=TITLE)
    expect(row.locator("[data-testid=loan-state]")).to_have_text("With you")
    expect(page.locator("[data-testid=return-details]")).to_contain_text("12 Market Street")
    expect(row.get_by_role("button", name=re.compile(r"^Renew"))).to_be_visible()
    _audit_sizes(report, page, "/account/rentals (with the customer)")

    # --- almost five days pass: into the second day late, the customer posts it back
    _time_passes(app, rental["id"], timedelta(days=5) - timedelta(hours=1))
    page.goto("/account/rentals")
    row = page.locator("[data-testid=active-rental]", has_text=TITLE)
    expect(row).to_contain_text("2 days overdue")
    expect(row.get_by_role("button", name=re.compile(r"^Renew"))).to_have_count(0)  # overdue: no renewal
    row.locator("[data-testid=sent-back-button]").click()
    expect(page.locator(".flashes")).to_contain_text(f"“{TITLE}” is marked as sent back")
    row = page.locator("[data-testid=active-rental]", has_text=TITLE)
    expect(row.locator("[data-testid=loan-state]")).to_contain_text("awaiting receipt")
    _audit_sizes(report, page, "/account/rentals (sent back)")
    assert _rental(app, shop.book_id)["sent_back_at"] is not None

    # --- the post takes three more days; the admin receives it from the "Sent back" view
    from sqlalchemy import update

    from webapp.models import Rental

    def post_is_slow(db):
        rental_row = db.session.get(Rental, rental["id"])
        db.session.execute(update(Rental).where(Rental.id == rental["id"]).values(
            starts_at=rental_row.starts_at - timedelta(days=3), due_at=rental_row.due_at - timedelta(days=3),
            sent_back_at=rental_row.sent_back_at - timedelta(days=3)))
        db.session.commit()

    in_app(app, post_is_slow)
    admin.goto("/admin/rentals")
    admin.locator("nav[aria-label='Rental lists']").get_by_role("link", name="Sent back").click()
    expect(admin).to_have_url(re.compile(r"/admin/rentals\?view=sent_back$"))
    sent_row = admin.locator("[data-testid=rental-row]", has_text=TITLE)
    expect(sent_row).to_contain_text("awaiting receipt", timeout=SLOW)
    _audit_sizes(report, admin, "/admin/rentals?view=sent_back")
    sent_row.get_by_role("button", name=f"Received {TITLE}").click()
    expect(admin.locator(".flashes")).to_contain_text(f"“{TITLE}” is back on the shelf. Late fee $1.00")
    done = _rental(app, shop.book_id)
    assert done["status"] == "returned" and done["fee_cents"] == 100  # 2 days until sent back, not 5
    admin_context.close()

    report.check()
