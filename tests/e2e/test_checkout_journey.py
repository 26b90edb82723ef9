"""The buying journey in a real browser: cart (htmx and plain forms), discount, checkout, the
offline test gateway, the success page's polling, the receipt email, declines and Buy now.

Background work (the payment webhook and the receipt email) only runs when a test calls
`run_jobs` (tests/conftest.py), exactly as a worker would; nothing runs it behind the test's back.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.conftest import PASSWORD, Auth
from webapp.services.platform.money import money

from .axe import VIEWPORTS, assert_accessible
from .conftest import assert_same_document, in_app, mark_document

GOOD_CARD = "4242 4242 4242 4242"
DECLINED_CARD = "4000 0000 0000 0002"
CARD_YEAR = str(date.today().year + 3)
SLOW = 10_000  # htmx round trips and the success page's 1 s polling



@dataclass(frozen=True)
class Shop:
    username: str
    email: str
    user_id: int
    buy_id: int  # found by searching for its author
    buy_title: str
    buy_price: int
    buy_on_hand: int
    rent_id: int
    rent_title: str
    rent_week: int
    rent_on_hand: int
    other_id: int
    other_title: str
    code: str


@pytest.fixture
def shop(app) -> Shop:
    """A few books, one verified shopper and a 10 % discount code, all committed through services."""
    from tests.factories import make_book
    from webapp.extensions import db
    from webapp.models import DiscountCode

    with app.app_context():
        buy = make_book("The Lighthouse Almanac", authors=("Ottoline Quarrendon",), genres=("Travel",),
                        price_cents=1800, on_hand=8)
        rent = make_book("Winter Orchard Letters", authors=("Bartholomew Ashgrove",), genres=("Fiction",),
                         price_cents=2500, on_hand=6)
        other = make_book("Salt and Cedar", authors=("Mira Feldt",), genres=("Fiction",), price_cents=1200, on_hand=4)
        make_book("A Quiet Harbour", authors=("Jon Pell",), genres=("Travel",), price_cents=900, on_hand=3)
        db.session.add(DiscountCode(code="SAVE10", kind="percent", value=10, description="Ten percent off"))
        user = Auth(app, None).user("ann", email="ann@example.com")
        shop = Shop(username="ann", email=user.email, user_id=user.id,
                    buy_id=buy.id, buy_title=buy.title, buy_price=buy.price_cents, buy_on_hand=8,
                    rent_id=rent.id, rent_title=rent.title, rent_week=rent.rental_week_cents, rent_on_hand=6,
                    other_id=other.id, other_title=other.title, code="SAVE10")
        db.session.remove()
    assert shop.rent_week == 500
    return shop


# ---- helpers ----

def _stock(app, book_id: int) -> tuple[int, int]:
    from webapp.services.inventory import stock

    state = in_app(app, lambda db: stock.state(book_id))
    return state.on_hand, state.reserved


def _order(app, number: str) -> dict:
    from webapp.models import Order
    from webapp.services.commerce import orders

    def read(db):
        order = orders.by_number(number)
        assert isinstance(order, Order), f"no order {number}"
        return {"status": order.status, "total": order.total_cents, "discount": order.discount_cents,
                "lines": sorted((line.book_id, line.mode, line.quantity, line.rental_days) for line in order.lines),
                "code": order.discount_code.code if order.discount_code else None}

    return in_app(app, read)


def _background(app, number: str) -> dict:
    """What the jobs have done so far: receipt emails for the order (by status) and payment events seen."""
    from sqlalchemy import select

    from webapp.models import OutboundEmail, PaymentEvent

    def read(db):
        emails = db.session.scalars(select(OutboundEmail.status)
                                    .where(OutboundEmail.subject == f"Folio receipt for order {number}")).all()
        events = db.session.scalars(select(PaymentEvent.type)).all()
        return {"receipts": sorted(emails), "events": sorted(events)}

    return in_app(app, read)


def _seed_cart(app, user_id: int, lines: list[tuple[int, str, int, int]]) -> None:
    """Put lines [(book_id, mode, quantity, rental days)] in the shopper's saved cart, through services."""
    from webapp.services.commerce import cart

    def seed(db):
        items: list[cart.CartItem] = []
        for book_id, mode, quantity, days in lines:
            cart.add(items, book_id, mode=mode, quantity=quantity, days=days)
        cart.save_user_items(user_id, items)
        db.session.commit()

    in_app(app, seed)


def _audit(page: Page, what: str) -> None:
    """axe-core on the page as it is now: no serious or critical violations."""
    page.wait_for_load_state("load")
    assert_accessible(page, what)


def _sign_in(page: Page, shop: Shop) -> None:
    page.goto("/login")
    page.locator("#login").fill(shop.username)
    page.locator("#password").fill(PASSWORD)
    page.locator("main form button[type=submit]", has_text="Sign in").click()
    expect(page.locator(".flashes")).to_contain_text("Welcome back")
    expect(page.locator(".site-header")).to_contain_text(shop.username)


def _fill_new_address(page: Page) -> None:
    expect(page.get_by_label("A new address")).to_have_count(0)  # no saved addresses yet: the fields only
    expect(page.locator("[data-testid=new-address]")).to_be_visible()
    page.locator("#full_name").fill("Ann Reader")
    page.locator("#line1").fill("1 Main Street")
    page.locator("#city").fill("Springfield")
    page.locator("#postcode").fill("12345")
    page.locator("#country").select_option("US")


def _fill_card(page: Page, number: str) -> None:
    page.locator("#card_number").fill(number)
    page.locator("#exp_month").fill("12")
    page.locator("#exp_year").fill(CARD_YEAR)
    page.locator("#cvc").fill("123")
    page.locator("#name").fill("Ann Reader")


def _order_number_on_gateway(page: Page) -> str:
    """The gateway page's cancel link is the shop's cancel_url, which names the order."""
    expect(page).to_have_url(re.compile(r"/pay/test/cs_test_[\w-]+$"))
    href = page.locator("[data-testid=pay-cancel]").get_attribute("href")
    found = re.search(r"/checkout/cancelled/(FO-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4})$", href or "")
    assert found, f"unexpected cancel link {href!r}"
    return found.group(1)


def _new_page(new_context, **options) -> tuple[BrowserContext, Page]:
    context = new_context(**options)
    context.set_default_timeout(5_000)
    return context, context.new_page()


# ---- 1. the acceptance journey ----

def test_search_cart_discount_checkout_pay_and_receipt(e2e_page: Page, shop: Shop, app, run_jobs):
    page = e2e_page
    badge = page.locator("[data-testid=cart-count]")
    _sign_in(page, shop)
    expect(badge).to_have_text("0")

    # --- search, then add the book to buy from its card (htmx: no page load)
    page.goto("/books")
    mark_document(page)
    page.locator("#q").press_sequentially("Quarrendon", delay=30)
    cards = page.locator("#results .book-card")
    expect(cards).to_have_count(1)
    card = cards.first
    expect(card.locator(".book-title")).to_have_text(shop.buy_title)
    card.get_by_role("button", name=re.compile(r"^Add to cart")).click()
    expect(card.locator(f"#add-status-{shop.buy_id}")).to_contain_text("Added")
    expect(badge).to_have_text("1")
    assert_same_document(page, "adding to the cart from a card")

    # --- rent the other book for 3 days from its detail page
    page.goto(f"/books/{shop.rent_id}")
    expect(page.locator("main h1")).to_have_text(shop.rent_title)
    mark_document(page)
    page.locator("#rent-days").select_option("3")
    page.locator("[data-testid=rent]").click()
    expect(page.locator("#add-status")).to_contain_text("Added")
    expect(badge).to_have_text("2")
    assert_same_document(page, "renting from the detail page")

    # --- the cart: change a quantity, apply a discount (htmx swaps #cart)
    page.goto("/cart")
    lines = page.locator("[data-testid=cart-line]")
    total = page.locator("[data-testid=total]")
    expect(lines).to_have_count(2)
    expect(lines.filter(has_text=shop.rent_title)).to_contain_text("for 3 days")
    rent_cents = round(shop.rent_week * 3 / 7)  # 3 days, pro rata: $2.14
    before = shop.buy_price + rent_cents  # $20.14: under the free-shipping threshold
    expect(total).to_have_text(money(before + 499))
    _audit(page, "the cart with items")
    mark_document(page)

    qty = page.locator(f"#qty-{shop.buy_id}-buy")
    qty.fill("2")
    qty.press("Tab")  # `change` fires on blur
    subtotal = 2 * shop.buy_price + rent_cents  # $38.14: free shipping now
    expect(total).to_have_text(money(subtotal), timeout=SLOW)
    expect(page.locator(f"#qty-{shop.buy_id}-buy")).to_have_value("2")
    expect(badge).to_have_text("3")

    page.locator("#code").fill("save10")
    page.locator(".discount-form button", has_text="Apply").click()
    discount = round(subtotal * 0.10)
    grand = subtotal - discount + 499  # $34.33 after the code: under the free-shipping threshold again
    totals = page.locator("[data-testid=totals]")
    expect(totals.locator("dt", has_text="Discount")).to_have_text(f"Discount ({shop.code})", timeout=SLOW)
    expect(totals).to_contain_text(f"-{money(discount)}")
    expect(page.locator("#cart")).to_contain_text("Discount applied.")
    expect(total).to_have_text(money(grand))
    assert_same_document(page, "changing the quantity or applying a code")
    _audit(page, "the cart after a discount (htmx-swapped)")

    # --- checkout: a new shipping address, then the payment page
    page.get_by_role("button", name="Check out").click()
    expect(page).to_have_url(re.compile(r"/checkout$"))
    expect(page.locator("main h1")).to_have_text("Checkout")
    expect(page.locator(".review-lines li")).to_have_count(2)
    expect(page.locator("[data-testid=total]")).to_have_text(money(grand))
    _audit(page, "checkout")
    _fill_new_address(page)
    pay_button = page.locator("[data-testid=pay-button]")
    expect(pay_button).to_have_text(f"Pay {money(grand)}")
    pay_button.click()
    number = _order_number_on_gateway(page)
    expect(page.locator("h1")).to_have_text(f"Pay {money(grand)}")
    assert _stock(app, shop.buy_id) == (shop.buy_on_hand, 2), "2 copies to buy are reserved during payment"
    assert _stock(app, shop.rent_id) == (shop.rent_on_hand, 1)
    _audit(page, "the test gateway page")

    # A second tab already on the success page waits for the payment and must notice it by polling.
    watcher = page.context.new_page()
    watcher.goto(f"/checkout/success/{number}")
    expect(watcher.locator("#order-status .waiting")).to_contain_text("Waiting for the payment to be confirmed")
    mark_document(watcher)

    # --- pay with the test card that succeeds
    _fill_card(page, GOOD_CARD)
    page.locator("[data-testid=pay-submit]").click()
    expect(page).to_have_url(re.compile(rf"/checkout/success/{number}$"))
    paid = page.locator("[data-testid=order-paid]")
    expect(paid.or_(page.locator("#order-status .waiting"))).to_be_visible()
    # Nothing has run in the background yet: the receipt waits in the queue, no webhook arrived.
    assert _background(app, number) == {"receipts": ["queued"], "events": []}
    run_jobs()  # the webhook delivery and the receipt email
    assert _background(app, number) == {"receipts": ["outbox"], "events": ["checkout.session.completed"]}
    expect(paid).to_contain_text("Payment received", timeout=SLOW)
    expect(paid).to_contain_text(number)
    expect(badge).to_have_text("0")  # the paid lines left the cart
    _audit(page, "the success page")

    expect(watcher.locator("[data-testid=order-paid]")).to_contain_text("Payment received", timeout=SLOW)
    expect(watcher.locator("#order-status")).not_to_have_attribute("hx-get", re.compile(".*"))  # polling stopped
    assert_same_document(watcher, "the success page's polling")
    watcher.close()

    # --- the receipt email in the development outbox
    page.goto("/dev/outbox")
    receipt = page.get_by_role("link", name=f"Folio receipt for order {number}")
    expect(receipt).to_have_count(1)
    expect(page.locator("tr", has=receipt)).to_contain_text("outbox")
    receipt.click()
    body = page.locator("pre.email-body")
    expect(body).to_contain_text(f"Order {number}, paid")
    expect(body).to_contain_text(f"2 x {shop.buy_title} (Buy)")
    expect(body).to_contain_text(f"1 x {shop.rent_title} (Rent 3 days)")
    expect(body).to_contain_text(f"Total     {money(grand)}")
    expect(body).to_contain_text("1 Main Street")

    # --- the order pages
    page.goto("/orders")
    row = page.locator("tr", has_text=number)
    expect(row.locator(".status-pill")).to_have_text("paid")
    _audit(page, "the orders list")
    row.get_by_role("link", name=number).click()
    expect(page).to_have_url(re.compile(rf"/orders/{number}$"))
    expect(page.locator("[data-testid=order-status]")).to_have_text("paid")
    expect(page.locator(".totals")).to_contain_text(f"Discount ({shop.code})")
    _audit(page, "an order's page")

    # --- the database agrees
    assert _order(app, number) == {"status": "paid", "total": grand, "discount": discount,
                                   "code": shop.code,
                                   "lines": sorted([(shop.buy_id, "buy", 2, None), (shop.rent_id, "rent", 1, 3)])}
    assert _stock(app, shop.buy_id) == (shop.buy_on_hand - 2, 0)
    assert _stock(app, shop.rent_id) == (shop.rent_on_hand - 1, 0)  # the rented copy is out on loan


# ---- 2. a declined card, then back to the cart ----

def test_declined_card_then_back_to_cart_leaves_stock_as_it_was(e2e_page: Page, shop: Shop, app, run_jobs):
    page = e2e_page
    _seed_cart(app, shop.user_id, [(shop.other_id, "buy", 1, 1)])
    before = _stock(app, shop.other_id)
    _sign_in(page, shop)
    page.goto("/checkout")
    _fill_new_address(page)
    page.locator("[data-testid=pay-button]").click()
    number = _order_number_on_gateway(page)
    assert _stock(app, shop.other_id) == (before[0], before[1] + 1), "the copy is reserved while paying"

    _fill_card(page, DECLINED_CARD)
    page.locator("[data-testid=pay-submit]").click()
    expect(page.locator("[data-testid=payment-error]")).to_have_text("Your card was declined.")
    expect(page).to_have_url(re.compile(r"/pay/test/cs_test_"))
    _audit(page, "the gateway page showing a decline")
    assert _order(app, number)["status"] == "pending_payment"

    page.get_by_role("link", name="Cancel and return to the shop").click()
    expect(page).to_have_url(re.compile(rf"/checkout/cancelled/{number}$"))
    expect(page.locator("main h1")).to_have_text("Payment not completed")
    _audit(page, "the payment-not-completed page")
    page.locator("[data-testid=back-to-cart]").click()
    expect(page).to_have_url(re.compile(r"/cart$"))
    expect(page.locator(".flashes")).to_contain_text("No payment was taken")
    line = page.locator("[data-testid=cart-line]")
    expect(line).to_have_count(1)
    expect(line).to_contain_text(shop.other_title)
    expect(page.locator("[data-testid=cart-count]")).to_have_text("1")

    assert _stock(app, shop.other_id) == before
    assert _order(app, number)["status"] == "cancelled"
    run_jobs()  # the gateway's "session expired" event changes nothing more
    assert _stock(app, shop.other_id) == before
    assert _order(app, number)["status"] == "cancelled"


# ---- 3. Buy now ----

def test_buy_now_goes_straight_to_checkout_with_only_that_book(e2e_page: Page, shop: Shop, app):
    page = e2e_page
    _seed_cart(app, shop.user_id, [(shop.other_id, "buy", 2, 1)])
    _sign_in(page, shop)
    page.goto(f"/books/{shop.buy_id}")
    page.locator("[data-testid=buy-now]").click()
    expect(page).to_have_url(re.compile(r"/checkout\?buy_now=1$"))
    review = page.locator(".review-lines li")
    expect(review).to_have_count(1)
    expect(review).to_contain_text(f"1 × {shop.buy_title}")
    expect(page.locator("[data-testid=pay-button]")).to_have_text(f"Pay {money(shop.buy_price + 499)}")
    expect(page.get_by_role("link", name="Edit cart")).to_have_count(0)
    expect(page.locator("[data-testid=cart-count]")).to_have_text("2")  # the cart is kept as it was


# ---- 4. without JavaScript ----

def test_cart_checkout_and_payment_without_javascript(new_context, shop: Shop, app, run_jobs):
    _, page = _new_page(new_context, java_script_enabled=False)
    _sign_in(page, shop)

    page.goto(f"/books/{shop.buy_id}")
    page.locator("[data-testid=add-to-cart]").click()  # a plain form post, redirected back
    expect(page).to_have_url(re.compile(rf"/books/{shop.buy_id}$"))
    expect(page.locator(".flashes")).to_contain_text("Added to your cart.")
    expect(page.locator("[data-testid=cart-count]")).to_have_text("1")

    page.goto("/cart")
    qty_form = page.locator("form", has=page.locator(f"#qty-{shop.buy_id}-buy"))
    update = qty_form.get_by_role("button", name="Update")
    expect(update).to_be_visible()  # <noscript> renders: this context really has no JS
    page.locator(f"#qty-{shop.buy_id}-buy").fill("3")
    update.click()
    expect(page).to_have_url(re.compile(r"/cart$"))
    expect(page.locator(f"#qty-{shop.buy_id}-buy")).to_have_value("3")
    expect(page.locator("[data-testid=total]")).to_have_text(money(3 * shop.buy_price))  # free shipping
    expect(page.locator("[data-testid=cart-count]")).to_have_text("3")

    page.get_by_role("button", name="Check out").click()
    expect(page).to_have_url(re.compile(r"/checkout$"))
    _fill_new_address(page)
    page.locator("[data-testid=pay-button]").click()
    number = _order_number_on_gateway(page)
    _fill_card(page, GOOD_CARD)
    page.locator("[data-testid=pay-submit]").click()
    expect(page).to_have_url(re.compile(rf"/checkout/success/{number}$"))
    run_jobs()
    page.reload()
    expect(page.locator("[data-testid=order-paid]")).to_contain_text("Payment received")
    expect(page.locator("[data-testid=cart-count]")).to_have_text("0")

    page.goto(f"/orders/{number}")
    expect(page.locator("[data-testid=order-status]")).to_have_text("paid")
    assert _order(app, number)["status"] == "paid"
    assert _stock(app, shop.buy_id) == (shop.buy_on_hand - 3, 0)


# ---- 5. layout: screenshots of the cart and checkout on a phone and a desktop ----

@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_cart_and_checkout_layout(new_context, shop: Shop, app, screenshot_dir, viewport):
    size = VIEWPORTS[viewport]
    _seed_cart(app, shop.user_id, [(shop.buy_id, "buy", 2, 1), (shop.rent_id, "rent", 1, 3)])
    _, page = _new_page(new_context, viewport=size, device_scale_factor=1)
    _sign_in(page, shop)
    for name, path in (("cart", "/cart"), ("checkout", "/checkout")):
        page.goto(path)
        expect(page.locator("main h1")).to_be_visible()
        page.wait_for_load_state("load")
        page.screenshot(path=str(screenshot_dir / f"{name}-{viewport}-{size['width']}x{size['height']}.png"),
                        full_page=True)  # first, so a failing layout can be looked at
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{path} at {viewport} scrolls sideways by {overflow}px"
        for selector in ("[data-testid=total]", "main h1"):
            box = page.locator(selector).first.bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= size["width"], (path, selector, box)
        if name == "cart":  # each Buy/Rent select must be wide enough to show its chosen option
            squeezed = page.evaluate("""() => [...document.querySelectorAll('.cart-table select')].filter(el => {
                const css = getComputedStyle(el);
                const ctx = document.createElement('canvas').getContext('2d');
                ctx.font = `${css.fontWeight} ${css.fontSize} ${css.fontFamily}`;
                const room = el.clientWidth - parseFloat(css.paddingLeft) - parseFloat(css.paddingRight);
                return ctx.measureText(el.selectedOptions[0].text).width > room;
            }).map(el => el.id)""")
            assert squeezed == [], f"selects too narrow for their text at {viewport}: {squeezed}"
    assert {p.name for p in screenshot_dir.glob(f"*-{viewport}-*.png")} >= {
        f"{n}-{viewport}-{size['width']}x{size['height']}.png" for n in ("cart", "checkout")}
