"""The account area (/account): a signed-in person's profile, addresses, email and password, security
(devices, two-factor), holds, rentals, plan and wallet. Every route needs a signed-in user (account/routes.py)."""
from flask import Blueprint

bp = Blueprint("account", __name__, url_prefix="/account")

from . import loans, routes, security  # noqa: E402,F401
