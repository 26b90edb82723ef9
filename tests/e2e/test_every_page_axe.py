"""Every GET page of the shop, at phone and desktop sizes, for each kind of visitor: axe serious/critical = 0 and
no sideways scrolling of the page itself (wide tables scroll inside their own focusable box). A screenshot of
each page at each size goes to screenshot_dir as page-<name>-<phone|desktop>.png.

One browser context per viewport per role; the data (a customer with an order, a rental, a hold, a wallet and a
plan; an admin; an author; a report) is built through the services once per test (e2e tables are emptied after
each test). Add a page here when you add one to the shop: test_the_page_list_is_complete (a test-client guard at
the end) fails for a GET page no role visits.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import ADMIN_TOTP, Auth

from .axe import VIEWPORTS, AxeReport
from .conftest import sign_in_as

ROLES = ("anonymous", "customer", "admin", "author")
AUTHOR = "Imogen Trask"


@dataclass(frozen=True)
class Shop:
    book_id: int
    out_book_id: int
    genre_slug: str
    author_id: int
    customer: str
    customer_id: int
    address_id: int
    order_number: str
    discount_id: int
    report_id: int
    admin: str
    author_user: str


@pytest.fixture
def shop(app, run_jobs) -> Shop:
    from sqlalchemy import select

    from tests.checkout_helpers import settle, start
    from tests.factories import make_book
    from webapp.extensions import db
    from webapp.models import Author, Genre
    from webapp.models.wallet import WalletReason
    from webapp.services.circulation import holds, subscriptions, wallet
    from webapp.services.commerce import discounts
    from webapp.services.insight import rollups, runners
    from webapp.services.people import accounts

    with app.app_context():
        auth = Auth(app, None)
        boss = auth.user("boss", role="admin", totp_secret=ADMIN_TOTP)
        sold = make_book("The Orchard Accounts", authors=(AUTHOR,), genres=("History",), price_cents=1850, on_hand=6,
                         description="Three centuries of an apple orchard, told through its account books.")
        rented = make_book("The Ferryman's Almanac", authors=(AUTHOR,), genres=("Travel",), price_cents=2200,
                           on_hand=2, description="Tides, tolls and passengers of a river crossing.")
        out = make_book("A Winter Without Lamps", authors=("Pellam Oduya",), genres=("History",), price_cents=1400,
                        on_hand=0)
        rosa = auth.user("reader_rosa")
        address = accounts.save_address(rosa, {"full_name": "Rosa Reader", "line1": "1 Main Street",
                                               "city": "Springfield", "postcode": "12345", "country": "US"})
        wallet.credit(rosa.id, 5000, WalletReason.TOP_UP, reference="every-page-top-up")
        subscriptions.change(rosa, "plus")
        db.session.commit()
        order = start(rosa, [(sold, 2, "buy", 7), (rented, 1, "rent", 3)])
        settle(order, "pi_every_page", order.card_cents)
        holds.place(rosa, out)
        db.session.commit()
        short = start(auth.user("short_payer"), [(sold, 1, "buy", 7)])
        settle(short, "pi_every_page_short", amount=1)  # a payment issue for /admin/payments
        rollups.refresh_rollups(full=True)
        discount = discounts.create(boss, discounts.DiscountInput(code="SPRING10", kind="percent", value=10,
                                                                  description="Spring sale"))
        writer = auth.user("imogen_t", role="author")
        author = db.session.scalar(select(Author).where(Author.name == AUTHOR))
        author.user_id = writer.id
        report = runners.start("report:inventory", None, user_id=boss.id)
        db.session.commit()
        genre = db.session.scalar(select(Genre).where(Genre.name == "History"))
        seeded = Shop(book_id=sold.id, out_book_id=out.id, genre_slug=genre.slug, author_id=author.id,
                      customer=rosa.username, customer_id=rosa.id, address_id=address.id,
                      order_number=order.number, discount_id=discount.id, report_id=report.id,
                      admin=boss.username, author_user=writer.username)
        db.session.remove()
    run_jobs()  # the report (and the emails: the outbox has some)
    return seeded


def pages(role: str, s: Shop) -> dict[str, str]:
    """name -> path of every page the role sees (names make the screenshot files)."""
    if role == "anonymous":
        return {
            "home": "/", "books": "/books", "search": "/books?q=orchard&sort=price_asc", "genres": "/genres",
            "genre": f"/genres/{s.genre_slug}", "author": f"/authors/{s.author_id}", "book": f"/books/{s.book_id}",
            "book-out-of-stock": f"/books/{s.out_book_id}", "cart-empty": "/cart", "login": "/login",
            "register": "/register", "password-forgot": "/password/forgot", "outbox": "/dev/outbox",
            "about": "/about", "shipping-returns": "/shipping-returns", "privacy": "/privacy", "terms": "/terms",
            "faq": "/faq", "contact": "/contact", "order-lookup": "/orders/lookup",
        }
    if role == "customer":
        return {
            "account": "/account", "addresses": "/account/addresses", "address-new": "/account/addresses/new",
            "address-edit": f"/account/addresses/{s.address_id}/edit", "email": "/account/email",
            "password": "/account/password", "delete": "/account/delete", "security": "/account/security",
            "2fa-setup": "/account/2fa/setup", "holds": "/account/holds", "rentals": "/account/rentals",
            "wallet": "/account/wallet", "plan": "/account/subscription", "orders": "/orders",
            "order": f"/orders/{s.order_number}", "receipt": f"/orders/{s.order_number}/receipt",
            "book-held": f"/books/{s.out_book_id}", "notify": f"/books/{s.out_book_id}/notify", "verify": "/verify", "cart": "/cart", "checkout": "/checkout",
            "checkout-success": f"/checkout/success/{s.order_number}",
        }
    if role == "admin":
        user = f"/admin/users/{s.customer_id}"
        return {
            "admin-home": "/admin", "admin-books": "/admin/books", "admin-book-new": "/admin/books/new",
            "admin-book-edit": f"/admin/books/{s.book_id}/edit", "admin-stock": f"/admin/books/{s.book_id}/stock",
            "admin-import": "/admin/books/import", "admin-orders": "/admin/orders",
            "admin-order": f"/admin/orders/{s.order_number}", "admin-rentals": "/admin/rentals",
            "admin-holds": "/admin/holds", "admin-hold-queue": f"/admin/holds/books/{s.out_book_id}",
            "admin-users": "/admin/users", "admin-user": user, "admin-user-orders": f"{user}/orders",
            "admin-user-rentals": f"{user}/rentals", "admin-user-holds": f"{user}/holds",
            "admin-user-wallet": f"{user}/wallet", "admin-user-fees": f"{user}/fees", "admin-user-plan": f"{user}/plan",
            "admin-user-sessions": f"{user}/sessions", "admin-discounts": "/admin/discounts",
            "admin-discount-new": "/admin/discounts/new", "admin-discount-edit": f"/admin/discounts/{s.discount_id}/edit",
            "admin-reports": "/admin/reports", "admin-report": f"/admin/reports/{s.report_id}",
            "admin-payments": "/admin/payments", "admin-audit": "/admin/audit", "admin-authors": "/admin/authors",
            "admin-author-new": "/admin/authors/new", "admin-author-edit": f"/admin/authors/{s.author_id}/edit",
            "admin-pages": "/admin/pages", "admin-page-edit": "/admin/pages/faq",
        }
    return {"author-dashboard": "/author", "author-profile": "/author/profile"}


# What no role visits on purpose: machine endpoints, partials, downloads, one-time links and pages reached only
# in the middle of a flow (their own journeys audit them).
NOT_PAGES = {
    "/api/", "/static/", "/media/", "/healthz", "/readyz", "/favicon.ico", "/cart/mini", "/cover.svg", "/row",
    "/suggest/", "/export.csv", "/output.csv", "/admin/tasks/", "/admin/reports/list", "/dev/outbox/<",
    "/checkout/success/<number>/status", "/checkout/cancelled/", "/pay/test/", "/login/2fa", "/password/reset/",
    "/register/confirm", "/account/email/confirm", "/account/payments/", "/contact/sent",
    "/books/<int:book_id>/<slug>", "/authors/<int:author_id>/<slug>",  # the same pages as without the slug
}


def _audit_all(page: Page, role: str, viewport: str, shop: Shop, screenshot_dir) -> None:
    report = AxeReport()
    problems: list[str] = []
    for name, path in pages(role, shop).items():
        response = page.goto(path)
        if response is None or response.status >= 400:
            problems.append(f"{path}: HTTP {response.status if response else 'no response'}")
            continue
        report.audit(page, f"{name} at {viewport}")
        scroll_width = page.evaluate("document.documentElement.scrollWidth")
        if scroll_width > VIEWPORTS[viewport]["width"]:
            problems.append(f"{path} at {viewport}: the page scrolls sideways ({scroll_width}px wide)")
        page.screenshot(path=str(screenshot_dir / f"page-{name}-{viewport}.png"), full_page=True)
    assert not problems, "\n".join(problems)
    report.check()


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.parametrize("role", ROLES)
def test_every_page_is_accessible_and_fits(new_context, shop: Shop, screenshot_dir, role, viewport):
    context = new_context(viewport=VIEWPORTS[viewport], device_scale_factor=1)
    context.set_default_timeout(10_000)
    page = context.new_page()
    if role == "customer":
        sign_in_as(page, shop.customer)
        page.goto(f"/books/{shop.book_id}")  # something in the cart, for the cart and checkout pages
        page.get_by_test_id("add-to-cart").click()
        expect(page.get_by_test_id("cart-count")).to_have_text("1")
    elif role == "admin":
        sign_in_as(page, shop.admin, totp_secret=ADMIN_TOTP)
    elif role == "author":
        sign_in_as(page, shop.author_user)
    _audit_all(page, role, viewport, shop, screenshot_dir)


@pytest.mark.parametrize("role", ROLES)
def test_every_listed_page_answers(app, shop: Shop, role):
    """The same walk through the test client (fast, no browser): each page answers 200, maybe after a redirect."""
    client = app.test_client()
    auth = Auth(app, client)
    login = {"customer": (shop.customer, None), "admin": (shop.admin, ADMIN_TOTP), "author": (shop.author_user, None)}
    if role in login:
        name, totp = login[role]
        assert auth.login(name, totp_secret=totp).status_code == 303
    if role == "customer":
        assert auth.post("/cart/add", {"book_id": shop.book_id, "mode": "buy", "quantity": 1}).status_code == 303
    failed = {}
    for name, path in pages(role, shop).items():
        response = client.get(path, follow_redirects=True)
        if response.status_code != 200 or "<main" not in response.get_data(as_text=True):
            failed[name] = (path, response.status_code)
    assert failed == {}


def test_the_page_list_is_complete(app):
    """A guard (no browser): every GET page of the app is visited by a role above or listed in NOT_PAGES."""
    placeholders = Shop(book_id=0, out_book_id=0, genre_slug="x", author_id=0, customer="x", customer_id=0,
                        address_id=0, order_number="x", discount_id=0, report_id=0, admin="x", author_user="x")
    visited = {path.split("?")[0] for role in ROLES for path in pages(role, placeholders).values()}
    adapter = app.url_map.bind("localhost")
    matched = {adapter.match(path, method="GET", return_rule=True)[0].rule for path in visited}
    missing = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or any(skip in rule.rule for skip in NOT_PAGES):
            continue
        concrete = _concrete(rule.rule)
        if concrete == [rule.rule]:
            missing += [] if rule.rule in matched else [rule.rule]
        else:  # each of the shop's own pages is visited, not just one of them
            missing += [path for path in concrete if path not in visited]
    assert not missing, f"GET pages no role of test_every_page_axe.py visits: {sorted(missing)}"


def _concrete(rule: str) -> list[str]:
    """A rule with an `any(...)` part (the shop's own pages: /<any("about", ...):slug>) as one path per choice."""
    found = re.search(r"<any\(([^)]*)\):\w+>", rule)
    if not found:
        return [rule]
    choices = [choice.strip().strip("'\"") for choice in found.group(1).split(",")]
    return [rule[:found.start()] + choice + rule[found.end():] for choice in choices]
