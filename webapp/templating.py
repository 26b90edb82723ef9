"""Jinja filters and globals shared by all templates: money, links that keep the page's query, image URLs,
absolute links, and what the header shows on every page (the cart's count, the shop's name)."""
from __future__ import annotations

import base64

from flask import Flask, request, url_for

from . import cart_store
from .htmx import current_url
from .links import public_url
from .models.background import TaskStatus
from .models.membership import HoldStatus
from .models.orders import LineMode, OrderStatus, RentalStatus
from .models.payments import ChargeStatus
from .services.commerce.pricing import rental_day_cents
from .services.inventory.alerts import shelf_state
from .services.platform.money import money, plain, symbol
from .services.platform.uploads import url_args


def b64encode(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def url_with(**changes: str | int | None) -> str:
    """The current URL with some query arguments replaced (None removes one)."""
    return current_url({**request.args.to_dict(flat=True), **changes})


def url_only(**args: str | int | None) -> str:
    """The current page's URL with only the given query arguments."""
    return current_url(args)


def image_url(stored: str | None, size: str = "full") -> str | None:
    """URL of an uploaded image (cover, author photo) in one size, or None."""
    args = url_args(stored, size)
    return url_for("main.media", kind=args["kind"], name=args["name"]) if args else None


def install(app: Flask) -> None:
    app.add_template_filter(money, "money")
    app.add_template_filter(plain, "money_plain")  # "12.50": amounts in form fields
    app.add_template_global(symbol, "currency_symbol")
    app.add_template_filter(rental_day_cents, "rental_day_cents")  # rentals are worded by the day
    # The status enums, so templates compare with OrderStatus.PAID rather than a bare string
    for enum in (OrderStatus, LineMode, RentalStatus, HoldStatus, ChargeStatus, TaskStatus):
        app.add_template_global(enum, enum.__name__)
    app.add_template_filter(b64encode, "b64encode")
    app.add_template_global(image_url, "image_url")
    app.add_template_global(shelf_state, "shelf_state")  # the stock badge's state (the API's stock.state)
    app.add_template_global(public_url, "public_url")  # absolute links (canonical): PUBLIC_URL, not Host

    @app.context_processor
    def _globals() -> dict[str, object]:
        return {"url_with": url_with, "url_only": url_only, "cart_count": cart_store.count,
                "shop_name": app.config["SHOP_NAME"], "dev_outbox": app.config.get("DEV_OUTBOX_ENABLED", False)}
