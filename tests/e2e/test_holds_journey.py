"""The holds queue in a real browser: a Premium customer jumps ahead of an earlier Free customer,
an admin marks the rental returned, and the copy is set aside for the Premium customer, who buys it.

Three browser contexts (three people): the Free customer, the Premium customer and the admin.
The seed goes through the services: one book with one copy, rented out through a real checkout
(tests/checkout_helpers.start + orders.fulfil), so an active Rental exists and nothing is available.
Background jobs (emails, the payment webhook) only run when the test calls `run_jobs`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.conftest import ADMIN_TOTP, Auth

from .axe import AxeReport
from .conftest import in_app, sign_in_as

TITLE = "The Tidewater Ledger"
GOOD_CARD = "4242 4242 4242 4242"
CARD_YEAR = str(date.today().year + 3)
SLOW = 10_000  # htmx round trips and the success page's polling


@dataclass(frozen=True)
class Queue:
    book_id: int
    rental_id: int
    renter: str
    free: str
    free_email: str
    premium: str
    premium_email: str
    admin: str


@pytest.fixture
def queue(app) -> Queue:
    """One copy rented out by a third reader, a Free and a Premium customer, and an admin with 2FA."""
    from sqlalchemy import select

    from tests.checkout_helpers import settle, start
    from tests.factories import make_book
    from webapp.extensions import db
    from webapp.models import Rental, Subscription, utcnow
    from webapp.services.inventory import stock

    with app.app_context():
        auth = Auth(app, None)
        book = make_book(TITLE, authors=("Perpetua Vantongeren",), genres=("Fiction",), price_cents=2000,
                         on_hand=1, description="A harbour master's accounts, kept through a century of tides.")
        renter = auth.user("renter_rex")
        order = start(renter, [(book, 1, "rent", 3)])
        settle(order, "pi_holds_e2e", order.total_cents)
        db.session.commit()
        rental = db.session.scalars(select(Rental).where(Rental.book_id == book.id)).one()
        assert rental.status == "active"
        assert stock.state(book.id).available == 0, "the only copy is out on loan"

        free = auth.user("free_fay", email="fay@example.com")
        premium = auth.user("premium_pia", email="pia@example.com")
        now = utcnow()
        db.session.add(Subscription(user_id=premium.id, tier="premium", current_period_start=now,
                                    current_period_end=now + timedelta(days=30)))
        auth.user("boss", role="admin", totp_secret=ADMIN_TOTP)
        db.session.commit()
        seeded = Queue(book_id=book.id, rental_id=rental.id, renter=renter.username,
                       free=free.username, free_email=free.email,
                       premium=premium.username, premium_email=premium.email, admin="boss")
        db.session.remove()
    return seeded


# ---- helpers ----

def _holds(app, book_id: int) -> dict[str, str]:
    """{username: hold status} for the book."""
    from sqlalchemy import select

    from webapp.models import Hold, User

    return in_app(app, lambda db: dict(db.session.execute(
        select(User.username, Hold.status).join(User, User.id == Hold.user_id).where(Hold.book_id == book_id)).all()))


def _emails(app, subject_contains: str) -> list[tuple[str, str]]:
    """[(recipient, status)] of the emails whose subject contains the text."""
    from sqlalchemy import select

    from webapp.models import OutboundEmail

    return in_app(app, lambda db: sorted((recipient, status) for recipient, status in db.session.execute(
        select(OutboundEmail.recipient, OutboundEmail.status).where(OutboundEmail.subject.contains(subject_contains)))))


def _stock(app, book_id: int) -> tuple[int, int]:
    from webapp.services.inventory import stock

    state = in_app(app, lambda db: stock.state(book_id))
    return state.on_hand, state.reserved


def _rental_status(app, rental_id: int) -> str:
    from webapp.models import Rental

    return in_app(app, lambda db: db.session.get(Rental, rental_id).status)


def _new_page(new_context) -> tuple[BrowserContext, Page]:
    context = new_context()
    context.set_default_timeout(5_000)
    return context, context.new_page()


def _open_book(page: Page, book_id: int) -> None:
    page.goto(f"/books/{book_id}")
    expect(page.locator("main h1")).to_have_text(TITLE)


def _hold_row(page: Page):
    """The book's row among the open holds on /account/holds (reloaded)."""
    page.goto("/account/holds")
    expect(page.locator("main h1")).to_have_text("My holds")
    return page.locator("[data-testid=open-hold]", has_text=TITLE)




# ---- the acceptance journey ----

def test_premium_jumps_the_queue_and_collects_the_returned_copy(e2e_page: Page, new_context, queue: Queue, app,
                                                                 run_jobs):
    report = AxeReport()
    book_path = f"/books/{queue.book_id}"

    # --- the Free customer finds the book out of stock and joins the queue: number 1
    free = e2e_page
    sign_in_as(free, queue.free)
    _open_book(free, queue.book_id)
    buy_box = free.locator(".buy-box")
    expect(buy_box).to_contain_text("Out of stock for now.")
    expect(buy_box.locator("[data-testid=add-to-cart]")).to_have_count(0)
    expect(buy_box.locator("[data-testid=rent]")).to_have_count(0)
    report.audit(free, "book page, out of stock, with the Place hold button")
    free.locator("[data-testid=place-hold]").click()
    expect(free).to_have_url(re.compile(rf"{book_path}(/[\w-]+)?$"))
    expect(free.locator(".flashes")).to_contain_text(f"You are number 1 in the queue for “{TITLE}”")
    expect(free.locator("[data-testid=hold-position]")).to_contain_text("number 1")
    expect(free.locator("[data-testid=place-hold]")).to_have_count(0)
    expect(free.locator("[data-testid=cancel-hold]")).to_be_visible()
    report.audit(free, "book page with the hold panel (waiting)")
    free_row = _hold_row(free)
    expect(free_row.locator("[data-testid=hold-position]")).to_have_text("Number 1 in the queue")
    assert _holds(app, queue.book_id) == {queue.free: "waiting"}

    # --- later, the Premium customer holds the same book and goes straight to the front
    premium_context, premium = _new_page(new_context)
    sign_in_as(premium, queue.premium)
    _open_book(premium, queue.book_id)
    expect(premium.locator(".buy-box")).to_contain_text("Out of stock for now. 1 reader waiting.")
    premium.locator("[data-testid=place-hold]").click()
    expect(premium.locator(".flashes")).to_contain_text(f"You are number 1 in the queue for “{TITLE}”")
    expect(premium.locator("[data-testid=hold-position]")).to_contain_text("number 1")
    expect(premium.locator(".buy-box")).to_contain_text("2 readers waiting.")
    premium_row = _hold_row(premium)
    expect(premium_row.locator("[data-testid=hold-position]")).to_have_text("Number 1 in the queue")
    expect(premium.locator("main")).to_contain_text("Your Premium plan allows")

    # ... and the Free customer, who was first, is now number 2
    free_row = _hold_row(free)
    expect(free_row.locator("[data-testid=hold-position]")).to_have_text("Number 2 in the queue")
    expect(free.locator("main")).to_contain_text("Your Free plan allows")
    report.audit(free, "/account/holds (waiting, number 2)")
    _open_book(free, queue.book_id)
    expect(free.locator("[data-testid=hold-position]")).to_contain_text("number 2")
    assert _holds(app, queue.book_id) == {queue.free: "waiting", queue.premium: "waiting"}

    # --- the admin marks the rental returned on /admin/rentals
    _, admin = _new_page(new_context)
    sign_in_as(admin, queue.admin, totp_secret=ADMIN_TOTP)
    admin.goto("/admin/rentals")
    expect(admin.locator("main h1")).to_have_text("Rentals & returns")
    row = admin.locator("[data-testid=rental-row]", has_text=TITLE)
    expect(row).to_have_count(1)
    expect(row.locator("td").nth(3)).to_have_text("on its way (order not delivered)")  # paid, not delivered
    report.audit(admin, "/admin/rentals (out now)")
    row.get_by_role("button", name=re.compile(r"^Mark returned")).click()
    expect(admin.locator(".flashes")).to_contain_text(
        f"“{TITLE}” is set aside for the next reader in its holds queue (an email to them is on its way).")
    expect(admin.locator("[data-testid=rental-row]", has_text=TITLE)).to_have_count(0)  # no longer out
    admin.goto("/admin/rentals?view=returned")
    expect(admin.locator("[data-testid=rental-row]", has_text=TITLE).locator("td").nth(3)).to_contain_text("returned")
    admin.goto("/admin/holds?view=ready")
    expect(admin.locator("#holds-table")).to_contain_text(TITLE)

    assert _rental_status(app, queue.rental_id) == "returned"
    assert _holds(app, queue.book_id) == {queue.free: "waiting", queue.premium: "ready"}
    assert _stock(app, queue.book_id) == (1, 1), "the returned copy is reserved for the Premium customer's hold"
    subject = f"“{TITLE}” is waiting for you"
    assert _emails(app, subject) == [(queue.premium_email, "queued")], "only the Premium customer is emailed"

    # --- the Premium customer: the hold is ready in the account, and the book page offers the copy
    premium_row = _hold_row(premium)
    expect(premium_row.locator("[data-testid=hold-ready-status]")).to_contain_text("Ready: set aside until")
    expect(premium_row.locator("[data-testid=hold-position]")).to_have_count(0)
    report.audit(premium, "/account/holds (ready)")
    premium_row.get_by_role("link", name="Buy or rent it now").click()
    expect(premium.locator("main h1")).to_have_text(TITLE)
    expect(premium.locator("[data-testid=hold-ready]")).to_contain_text("A copy is set aside for you until")
    expect(premium.locator("[data-testid=add-to-cart]")).to_be_visible()
    expect(premium.locator("[data-testid=rent]")).to_be_visible()
    expect(premium.locator("[data-testid=place-hold]")).to_have_count(0)
    report.audit(premium, "book page with the set-aside notice")

    # Nobody else can have that copy: the Free customer still sees the book out of stock, number 1 now.
    _open_book(free, queue.book_id)
    expect(free.locator(".buy-box")).to_contain_text("Out of stock for now.")
    expect(free.locator("[data-testid=add-to-cart]")).to_have_count(0)
    expect(free.locator("[data-testid=hold-position]")).to_contain_text("number 1")
    free_row = _hold_row(free)
    expect(free_row.locator("[data-testid=hold-position]")).to_have_text("Number 1 in the queue")
    expect(free_row.locator("[data-testid=hold-ready-status]")).to_have_count(0)

    # --- the email, delivered by the worker, in the development outbox
    run_jobs()
    assert _emails(app, subject) == [(queue.premium_email, "outbox")]
    premium.goto("/dev/outbox")
    email_link = premium.get_by_role("link", name=subject)
    expect(email_link).to_have_count(1)
    expect(premium.locator("tr", has=email_link)).to_contain_text(queue.premium_email)
    email_link.click()
    expect(premium.locator("pre.email-body")).to_contain_text(f"a copy of “{TITLE}” is set aside for you until")

    # --- the Premium customer buys the held copy: cart, checkout, the test gateway
    _open_book(premium, queue.book_id)
    premium.locator("[data-testid=add-to-cart]").click()
    expect(premium.locator("#add-status")).to_contain_text("Added")
    expect(premium.locator("[data-testid=cart-count]")).to_have_text("1")
    premium.goto("/cart")
    lines = premium.locator("[data-testid=cart-line]")
    expect(lines).to_have_count(1)
    expect(lines).to_contain_text(TITLE)

    premium.get_by_role("button", name="Check out").click()
    expect(premium).to_have_url(re.compile(r"/checkout$"))
    expect(premium.locator(".review-lines li")).to_have_count(1)
    expect(premium.locator(".review-lines li")).to_contain_text(TITLE)
    expect(premium.get_by_label("A new address")).to_have_count(0)  # no saved address: the fields only
    premium.locator("#full_name").fill("Pia Premium")
    premium.locator("#line1").fill("2 Harbour Row")
    premium.locator("#city").fill("Springfield")
    premium.locator("#postcode").fill("12345")
    premium.locator("#country").select_option("US")
    premium.locator("[data-testid=pay-button]").click()
    expect(premium).to_have_url(re.compile(r"/pay/test/cs_test_[\w-]+$"))
    cancel_href = premium.locator("[data-testid=pay-cancel]").get_attribute("href") or ""
    found = re.search(r"/checkout/cancelled/(FO-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4})$", cancel_href)
    assert found, f"unexpected cancel link {cancel_href!r}"
    number = found.group(1)
    # The held copy passed to the order: the hold is collected, the copy reserved for the order.
    assert _holds(app, queue.book_id) == {queue.free: "waiting", queue.premium: "fulfilled"}
    assert _stock(app, queue.book_id) == (1, 1)

    premium.locator("#card_number").fill(GOOD_CARD)
    premium.locator("#exp_month").fill("12")
    premium.locator("#exp_year").fill(CARD_YEAR)
    premium.locator("#cvc").fill("123")
    premium.locator("#name").fill("Pia Premium")
    premium.locator("[data-testid=pay-submit]").click()
    expect(premium).to_have_url(re.compile(rf"/checkout/success/{number}$"))
    run_jobs()  # the payment webhook and the receipt
    paid = premium.locator("[data-testid=order-paid]")
    expect(paid).to_contain_text("Payment received", timeout=SLOW)
    expect(paid).to_contain_text(number)
    expect(premium.locator("[data-testid=cart-count]")).to_have_text("0")
    assert _stock(app, queue.book_id) == (0, 0), "the copy is sold"

    # The Premium customer's hold is in the past holds; the Free customer still waits, number 1.
    premium.goto("/account/holds")
    expect(premium.locator("[data-testid=open-hold]")).to_have_count(0)
    expect(premium.locator("#closed-heading ~ ul")).to_contain_text(f"{TITLE}: collected")
    free_row = _hold_row(free)
    expect(free_row.locator("[data-testid=hold-position]")).to_have_text("Number 1 in the queue")
    report.audit(free, "/account/holds (waiting, number 1)")
    assert _holds(app, queue.book_id) == {queue.free: "waiting", queue.premium: "fulfilled"}
    assert _emails(app, subject) == [(queue.premium_email, "outbox")], "the Free customer was never emailed"
    premium_context.close()

    report.check()
