"""A customer's orders: list, detail, receipt, cancel (routes in orders.routes)."""
from flask import Blueprint

bp = Blueprint("orders", __name__, url_prefix="/orders")

from . import routes  # noqa: E402,F401
