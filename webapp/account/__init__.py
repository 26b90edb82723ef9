"""The account area (/account): a signed-in person's profile, addresses, email and password, security
(devices, two-factor), holds, rentals, plan and wallet. Every route needs a signed-in user (account/routes.py)."""
from flask import Blueprint

bp = Blueprint("account", __name__, url_prefix="/account")

# fees: Pay now; holds: pause, resume, not needed after; loans: sent back, automatic renewal
from . import fees, holds, loans, routes, security  # noqa: E402,F401
