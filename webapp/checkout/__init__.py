"""Checkout blueprint: from the cart to the payment page and back (routes in checkout.routes)."""
from flask import Blueprint

bp = Blueprint("checkout", __name__)

from . import routes  # noqa: E402,F401
