"""The cart pages and buttons (add, change, remove, discount code, buy now); the cart itself is cart_store."""
from flask import Blueprint

bp = Blueprint("cart", __name__)

from . import routes  # noqa: E402,F401
