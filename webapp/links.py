"""Absolute links that leave the site: in emails, and the return addresses given to the payment provider.

They are built from the configured PUBLIC_URL, never from the request: a request's Host (or X-Forwarded-Host)
header is whatever the client sent, so `url_for(..., _external=True)` would let anyone who can ask for a
password reset mail a victim a link to their own site carrying a valid reset token, or send a shopper back
from Stripe to a look-alike shop. The URL adapter here is bound to PUBLIC_URL alone, so it gives the same
answer inside a request, in a worker and in a CLI command.
"""
from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

from flask import current_app

if TYPE_CHECKING:
    from .models import Order


def public_url(endpoint: str, **values) -> str:
    """The absolute URL of `endpoint` (a full endpoint name, e.g. "auth.reset_password") on PUBLIC_URL."""
    base = urlsplit(current_app.config["PUBLIC_URL"].rstrip("/"))
    adapter = current_app.url_map.bind(base.netloc, script_name=base.path or "/", url_scheme=base.scheme)
    current_app.inject_url_defaults(endpoint, values)
    return adapter.build(endpoint, values, force_external=True)


def absolute(url: str) -> str:
    """`url` made absolute on PUBLIC_URL when it is a path (the offline test gateway's payment pages are); an
    absolute URL (Stripe's) is kept. For clients that cannot follow a relative link: the JSON API."""
    return urljoin(current_app.config["PUBLIC_URL"].rstrip("/") + "/", url)


def charge_done_url(charge_reference: str) -> str:
    """Where the payment page sends the customer back after paying a top-up or a plan by card (the account
    page that confirms the charge with the provider)."""
    return public_url("account.charge_done", reference=charge_reference)


def checkout_success_url(order: Order) -> str:
    """Where the payment provider sends the customer back after paying (the web checkout and the API alike)."""
    return public_url("checkout.success", number=order.number)


def checkout_cancel_url(order: Order) -> str:
    """Where the payment provider sends the customer who leaves the payment page."""
    return public_url("checkout.cancelled", number=order.number)
