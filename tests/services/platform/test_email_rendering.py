"""Every email, rendered: subject, text and HTML parts, no template syntax or missing values left, every link
absolute on PUBLIC_URL (mailto: aside), the HTML part well formed and carrying the shop's logo.

The emails are found by listing templates/email (every NAME.txt but base.txt and the _partials), so a new email
fails here until it has a context in CONTEXTS below: add one (name -> a function returning the values its
sender passes; realistic values, every optional part switched on). Links must come from `public_url`.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace as NS

import pytest

from webapp.links import public_url
from webapp.models import Order, OrderLine
from webapp.models.orders import DeliveryMethod, LineMode
from webapp.services.platform import mail

PUBLIC = "http://shop.test"
EMAIL_DIR = Path(__file__).resolve().parents[3] / "webapp" / "templates" / "email"
NOW = datetime(2026, 3, 14, 15, 9, tzinfo=UTC)


def email_names() -> list[str]:
    return sorted(p.stem for p in EMAIL_DIR.glob("*.txt") if p.stem != "base" and not p.stem.startswith("_"))


# ---- realistic values, shaped like what the senders pass ----

def _order(**changes: object) -> Order:
    order = Order(number="FO-7K2M-9QXD-4WTB", email="ann@example.com", currency="usd", status="paid",
                  subtotal_cents=3297, member_discount_cents=150, discount_cents=450, shipping_cents=499,
                  tax_cents=212, total_cents=3558, wallet_cents=1000, refunded_cents=0, paid_at=NOW,
                  delivery_method=DeliveryMethod.POST, ship_name="Ann Reader", ship_line1="4 Elm Row",
                  ship_line2="Flat 2", ship_city="Springfield", ship_region="IL", ship_postcode="62701",
                  ship_country="US", ship_phone=None)
    order.lines = [
        OrderLine(title="The Left Hand of Darkness", isbn13="9780441478125", mode=LineMode.BUY, quantity=1,
                  unit_cents=1899, line_cents=1899),
        OrderLine(title="Middlemarch", isbn13="9780141439549", mode=LineMode.RENT, rental_days=14, quantity=1,
                  unit_cents=1398, line_cents=1398),
    ]
    for key, value in changes.items():
        setattr(order, key, value)
    return order


def _book() -> NS:
    return NS(id=42, title="The Left Hand of Darkness", isbn13="9780441478125")


def _hold() -> NS:
    return NS(id=7, book=_book(), book_id=42, expires_at=NOW + timedelta(days=4))


def _rental(**changes: object) -> NS:
    values = {"id": 9, "book": _book(), "book_id": 42, "due_at": NOW + timedelta(days=2), "renewed": False,
              "fee_cents": 350, "fee_paid_cents": 100, "fee_due_cents": 250, "replacement_cents": 1899}
    return NS(**(values | changes))


def _return_details() -> dict[str, object]:
    from webapp.services.circulation.rentals import return_details

    return return_details()


def _tier(name: str):
    from webapp.services.circulation.subscriptions import tier

    return tier(name)


def _weekly() -> dict[str, object]:
    from webapp.services.insight.weekly import REVENUE_DEFINITION, change

    sales = NS(revenue_cents=182_450, orders=61, aov_cents=2991, cancelled_orders=2, cancelled_cents=4100)
    figures = NS(sales=sales, previous=NS(revenue_cents=160_000, orders=55),
                 inventory=NS(low_stock=4, out_of_stock=1, value_cost_cents=1_250_000),
                 rentals=NS(active=23, overdue=3, outstanding_cents=1250), holds=NS(waiting=9, books_waited_for=5),
                 week={"from": "2026-03-09", "to": "2026-03-15"},
                 best=[NS(rank=1, title="Middlemarch", units_sold=12, units_rented=4, revenue_cents=30_000)],
                 most_held=[NS(title="Dune", waiting=4, available=0)])
    return {"name": "Boss", "week_start": "2026-03-09", "f": figures, "change": change,
            "revenue_definition": REVENUE_DEFINITION}


def _code() -> dict[str, object]:
    return {"name": "Ann", "code": "493021", "minutes": 15}


def _refund() -> dict[str, object]:
    return {"order": _order(status="refunded"), "wallet_cents": 1000, "card_cents": 2558, "rest_to": "your card"}


CONTEXTS: dict[str, Callable[[], dict[str, object]]] = {
    "account_new_email_code": _code,
    "account_verify_code": _code,
    "account_password_reset": lambda: {"name": "Ann", "link": public_url("auth.reset_password", token="t0k3n")},
    "account_password_reset_by_staff": lambda: {"name": "Ann", "link": public_url("auth.reset_password",
                                                                                  token="t0k3n")},
    "account_registration_attempt": lambda: {"name": "Ann", "username": "ann", "sign_in_url": public_url("auth.login"),
                                             "reset_url": public_url("auth.forgot_password")},
    "charge_plan_active": lambda: {"name": "Ann", "plan": "Plus", "reference": "CH-4F7Q", "amount_cents": 799},
    "charge_plan_kept_in_wallet": lambda: {"name": "Ann", "amount_cents": 799, "plan": "Plus"},
    "charge_refused": lambda: {"name": "Ann", "reference": "CH-4F7Q", "amount_cents": 799},
    "charge_top_up": lambda: {"name": "Ann", "reference": "CH-4F7Q", "amount_cents": 2000, "fees_paid_cents": 300,
                              "fees_due_cents": 50},
    "contact_message": lambda: {"name": "Ann Reader", "email": "ann@example.com", "topic": "An order",
                                "message": "Where is my order?\n\nThank you.", "user": NS(id=5, username="ann")},
    "contact_received": lambda: {"topic": "An order"},
    "fee_waived": lambda: {"name": "Ann", "title": "Middlemarch", "cents": 150, "reason": "Post strike",
                           "still_due_cents": 100},
    "hold_book_withdrawn": lambda: {"name": "Ann", "book": _book()},
    "hold_cancelled_by_staff": lambda: {"name": "Ann", "hold": _hold(), "reason": "Damaged copy", "was_ready": True},
    "hold_expired": lambda: {"name": "Ann", "hold": _hold(), "fee_cents": 200},
    "hold_extended": lambda: {"name": "Ann", "hold": _hold(), "days": 3},
    "hold_moved": lambda: {"name": "Ann", "hold": _hold(), "direction": "up", "position": 2},
    "hold_not_needed_closed": lambda: {"name": "Ann", "hold": _hold(), "day": NOW.date()},
    "hold_ready": lambda: {"name": "Ann", "hold": _hold()},
    "low_stock_digest": lambda: {"alerts": [NS(book=_book(), book_id=42, threshold=3)], "available": {42: 1}},
    "order_cancelled": lambda: {"order": _order(status="cancelled"), "refunded": True, "wallet_cents": 1000,
                                "card_cents": 2558, "rest_to": "your card"},
    "order_payment_returned": lambda: {"order": _order(status="expired"), "amount_cents": 3558,
                                       "why": "the order had expired and a book was sold out"},
    "order_receipt": lambda: {"order": _order()},
    "order_refunded": _refund,
    "order_shipped": lambda: {"order": _order(status="shipped"), "tracking": "1Z 999 AA1 01 2345 6784"},
    "plan_cancelled_by_staff": lambda: {"name": "Ann", "old": _tier("plus"), "now": True,
                                        "ends": NOW.date(), "refund_cents": 400},
    "plan_comped": lambda: {"name": "Ann", "plan": _tier("premium"), "periods": 2, "ends": NOW.date(),
                            "then": _tier("plus"), "refund_cents": 300},
    "rental_auto_renewed": lambda: {"name": "Ann", "rental": _rental(renewed=True), **_return_details()},
    "rental_due_soon": lambda: {"name": "Ann", "rental": _rental(), "fee_per_day_cents": 50, "fee_so_far_cents": 0,
                                **_return_details()},
    "rental_found": lambda: {"name": "Ann", "rental": _rental(), "refund_cents": 1549},
    "rental_lost": lambda: {"name": "Ann", "rental": _rental(), "lost_after_days": 30},
    "rental_overdue": lambda: {"name": "Ann", "rental": _rental(due_at=NOW - timedelta(days=3)),
                               "fee_per_day_cents": 50, "fee_so_far_cents": 150, **_return_details()},
    "rental_received": lambda: {"name": "Ann", "rental": _rental()},
    "subscription_changed": lambda: {"name": "Ann", "old": _tier("premium"), "new": _tier("plus"),
                                     "changed": NOW.date(), "comp_ended": False},
    "subscription_lapsed": lambda: {"name": "Ann", "old": _tier("plus"), "ended": NOW.date()},
    "subscription_renewed": lambda: {"name": "Ann", "plan": _tier("plus"), "period_days": 30, "comp_ended": True},
    "wallet_adjusted": lambda: {"name": "Ann", "credit": True, "amount_cents": 500, "reason": "Goodwill",
                                "settled_cents": 200, "balance_cents": 1300},
    "weekly_summary": _weekly,
    # Emails of issue 17's other parts (catalog: back in stock; guest checkout). Their contexts live here too.
    "book_back_in_stock": lambda: {"user": NS(id=5, username="ann", display_name="Ann", email="ann@example.com"),
                                   "name": "Ann", "book": _book(),
                                   "book_url": public_url("catalog.book", book_id=42)},
}

_URL = re.compile(r"""(?:https?|ftp|mailto|javascript|data):[^\s<>"']+""", re.IGNORECASE)
_LEFTOVERS = ("{{", "}}", "{%", "%}", "{#", "None", "Undefined", "undefined")


class _Html(HTMLParser):
    """Collects links and images, and checks that every element opened is closed in order."""

    VOID = {"meta", "img", "br", "hr", "link", "input"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.hrefs: list[str] = []
        self.images: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "a":
            self.hrefs.append(values.get("href") or "")
        if tag == "img":
            self.images.append(values.get("src") or "")
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()


def test_every_email_has_a_context():
    names = email_names()
    missing = [name for name in names if name not in CONTEXTS]
    assert not missing, f"add a context to CONTEXTS in {__name__} for: {', '.join(missing)}"
    assert len(names) >= 38  # the directory was read


def _own_or_mailto(url: str) -> bool:
    return url.startswith("mailto:") or url == PUBLIC or url.startswith(PUBLIC + "/") or url.startswith(PUBLIC + "?")


@pytest.mark.parametrize("name", email_names())
def test_email_renders_completely_with_links_on_the_public_url(app, name):
    if name not in CONTEXTS:
        pytest.fail(f"no context for the email {name!r}: add one to CONTEXTS")
    with app.app_context():
        assert app.config["PUBLIC_URL"] == PUBLIC
        subject, text, html = mail.render(name, **CONTEXTS[name]())
        logo = public_url("static", filename=mail.LOGO)
    assert subject.strip() and "\n" not in subject
    assert text.strip() and html.strip()
    for part, content in (("subject", subject), ("text", text), ("html", html)):
        for leftover in _LEFTOVERS:
            assert leftover not in content, f"{name} {part} part contains {leftover!r}"
    text_links = _URL.findall(text)
    assert text_links, f"{name}: the text part has no link at all (the signature or the main link)"
    assert all(_own_or_mailto(url.rstrip(".,;:!?)")) for url in text_links), text_links
    parser = _Html()
    parser.feed(html)
    parser.close()
    assert not parser.errors and parser.stack == [], (parser.errors, parser.stack)
    assert parser.hrefs and all(_own_or_mailto(href) for href in parser.hrefs), parser.hrefs
    assert logo.startswith(PUBLIC + "/static/") and logo in parser.images
    assert "<title>" in html and "Folio Books, 12 Market Street" in html  # the footer's address


def test_main_link_is_a_button_in_html_and_a_line_in_text(app):
    with app.app_context():
        _subject, text, html = mail.render("order_receipt", **CONTEXTS["order_receipt"]())
    url = f"{PUBLIC}/orders/FO-7K2M-9QXD-4WTB"
    assert f"See your order: {url}\n" in text
    assert re.search(rf'<a href="{re.escape(url)}" style="display:inline-block;[^"]*">See your order</a>', html)
    assert f'href="{PUBLIC}/contact"' in html and f'href="{PUBLIC}/privacy"' in html


def test_no_button_when_the_email_has_no_main_link(app):
    with app.app_context():
        _s, _t, html = mail.render("contact_message", name="A", email="a@example.com", topic="An order",
                                   message="Hello there", user=None)
    assert "display:inline-block" not in html  # no user: no customer page to open
