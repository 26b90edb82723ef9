"""The guest checkout journey in a real browser, at phone and desktop sizes: a visitor adds a book, checks out
without an account (a postcode that does not fit its country is refused first), pays on the offline test
gateway, sees the success page and the receipt (and the receipt email in the outbox), looks the order up by
number + email in a fresh browser (a wrong email refused), then creates an account from the offer, confirms the
emailed code and finds the order under Orders. axe on every page; screenshots in test-artifacts/screenshots."""
from __future__ import annotations

import re
from datetime import date

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD

from .axe import VIEWPORTS, assert_accessible
from .conftest import in_app

TITLE = "The Lantern Keeper's Daughter"
EMAIL = "Juniper.Guest@example.com"
SLOW = 10_000  # the success page polls every second until the webhook lands


@pytest.fixture
def book_id(app) -> int:
    from tests.factories import make_book

    def seed(db):
        book = make_book(TITLE, authors=("Mirela Stoica",), genres=("Fiction",), price_cents=1650, on_hand=5)
        db.session.commit()
        return book.id

    return in_app(app, seed)


def _shot(page: Page, screenshot_dir, step: str, viewport: str) -> None:
    page.wait_for_load_state("load")
    page.screenshot(path=str(screenshot_dir / f"guest-checkout-{step}-{viewport}.png"), full_page=True)


def _check(page: Page, screenshot_dir, step: str, viewport: str) -> None:
    """Screenshot first (so a failure can be looked at), then axe: no serious or critical problem."""
    _shot(page, screenshot_dir, step, viewport)
    assert_accessible(page, f"{step} ({viewport})")


def _outbox(app, subject_part: str) -> list[tuple[str, str, str]]:
    from sqlalchemy import select

    from webapp.models import OutboundEmail

    def read(db):
        rows = db.session.execute(select(OutboundEmail.recipient, OutboundEmail.status, OutboundEmail.body_text)
                                  .where(OutboundEmail.subject.contains(subject_part))
                                  .order_by(OutboundEmail.id)).all()
        return [tuple(r) for r in rows]

    return in_app(app, read)


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_guest_checkout_lookup_and_claim(new_context, app, book_id, deliver_mail, screenshot_dir, viewport):
    context = new_context(viewport=VIEWPORTS[viewport])
    context.set_default_timeout(5_000)
    page = context.new_page()

    # --- a visitor adds the book and checks out without an account
    page.goto(f"/books/{book_id}")
    page.locator("[data-testid=add-to-cart]").click()
    expect(page.locator("[data-testid=cart-count]").first).to_have_text("1")
    page.goto("/cart")
    page.locator("main .checkout-button").click()
    expect(page).to_have_url(re.compile(r"/checkout$"))
    expect(page.locator("[data-testid=guest-intro]")).to_be_visible()
    expect(page.get_by_label("A new address")).to_have_count(0)  # a first-time buyer: the fields only
    _check(page, screenshot_dir, "form", viewport)

    page.locator("#email").fill(EMAIL)
    page.locator("#full_name").fill("Juniper Guest")
    page.locator("#line1").fill("10 Downing Street")
    page.locator("#city").fill("London")
    page.locator("#country").select_option("GB")
    page.locator("#postcode").fill("12345")
    page.locator("[data-testid=pay-button]").click()
    expect(page.locator("#postcode-feedback")).to_contain_text("That doesn’t look like a UK postcode")
    expect(page.locator("#email")).to_have_value(EMAIL)  # what was typed is still there
    _check(page, screenshot_dir, "postcode-error", viewport)
    page.locator("#postcode").fill("SW1A 2AA")
    page.locator("[data-testid=pay-button]").click()

    # --- the offline gateway
    expect(page).to_have_url(re.compile(r"/pay/test/cs_test_[\w-]+$"))
    page.locator("#card_number").fill("4242 4242 4242 4242")
    page.locator("#exp_month").fill("12")
    page.locator("#exp_year").fill(str(date.today().year + 3))
    page.locator("#cvc").fill("123")
    page.locator("#name").fill("Juniper Guest")
    page.locator("[data-testid=pay-submit]").click()
    expect(page).to_have_url(re.compile(r"/checkout/success/FO-[A-Z0-9-]+$"))
    number = page.url.rsplit("/", 1)[1]
    deliver_mail()  # the webhook delivery, then the receipt email
    deliver_mail()
    paid = page.locator("[data-testid=order-paid]")
    expect(paid).to_contain_text("Payment received", timeout=SLOW)
    expect(paid).to_contain_text(number)
    expect(page.locator("[data-testid=account-offer]")).to_be_visible()
    _check(page, screenshot_dir, "success", viewport)
    receipts = _outbox(app, f"receipt for order {number}")
    assert [(r[0], r[1]) for r in receipts] == [("juniper.guest@example.com", "outbox")], receipts
    assert TITLE in receipts[0][2] and "/orders/lookup" in receipts[0][2]

    page.locator("[data-testid=receipt-link]").first.click()
    expect(page.locator("main")).to_contain_text(number)
    expect(page.locator("main")).to_contain_text(TITLE)
    _check(page, screenshot_dir, "receipt", viewport)

    # --- another browser looks the order up: a wrong email is refused, the right one shows it
    other = new_context(viewport=VIEWPORTS[viewport]).new_page()
    other.set_default_timeout(5_000)
    other.goto("/orders/lookup")
    _check(other, screenshot_dir, "lookup", viewport)
    other.locator("#number").fill(number.lower())
    other.locator("#email").fill("someone.else@example.com")
    other.locator("[data-testid=lookup-submit]").click()
    expect(other.locator("[data-testid=lookup-not-found]")).to_contain_text("We couldn’t find an order with those details")
    _check(other, screenshot_dir, "lookup-refused", viewport)
    other.locator("#number").fill(number)
    other.locator("#email").fill(EMAIL.upper())
    other.locator("[data-testid=lookup-submit]").click()
    expect(other).to_have_url(re.compile(rf"/orders/{number}$"))
    expect(other.locator("[data-testid=order-status]")).to_have_text("paid")
    expect(other.locator("main")).to_contain_text(TITLE)
    _check(other, screenshot_dir, "lookup-order", viewport)

    # --- the first browser creates an account from the offer and confirms the emailed code
    page.goto(f"/checkout/success/{number}")
    page.locator("[data-testid=create-account]").click()
    expect(page.locator("#email")).to_have_value("juniper.guest@example.com")
    page.locator("#username").fill(f"juniper_{viewport}")
    page.locator("#password").fill(PASSWORD)
    page.locator("#confirm").fill(PASSWORD)
    _check(page, screenshot_dir, "register", viewport)
    page.locator("main").get_by_role("button", name="Create account").click()
    expect(page).to_have_url(re.compile(r"/register/confirm$"))
    assert deliver_mail(), "registering queued no email"
    codes = _outbox(app, "verification code")
    assert codes and codes[-1][0] == "juniper.guest@example.com", codes
    code = re.search(r"\b(\d{6})\b", codes[-1][2]).group(1)
    page.locator("#code").fill(code)
    page.locator("main").get_by_role("button", name="Confirm").click()
    expect(page.locator(".flashes")).to_contain_text("We added 1 order you placed without an account")
    page.goto("/orders")
    expect(page.locator("main")).to_contain_text(number)
    _check(page, screenshot_dir, "claimed-orders", viewport)
