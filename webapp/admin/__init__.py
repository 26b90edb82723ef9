"""Admin panel. Every route: signed in, admin role, and two-factor authentication on."""
from flask import Blueprint, abort, flash, redirect, url_for
from flask_login import current_user

from ..extensions import login_manager

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
def _admins_with_2fa_only():
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not current_user.is_admin:
        abort(403)
    if not current_user.has_2fa:
        flash("Admins must turn on two-factor authentication before using the admin panel.", "info")
        return redirect(url_for("account.setup_2fa"))
    return None


from . import (  # noqa: E402,F401  (the views register themselves on bp)
    audit,
    authors,
    books,
    customer,
    customer_actions,
    discounts,
    fees,
    holds,
    home,
    orders_admin,
    payments,
    rentals,
    reports,
    site_pages,
    tasks,
    users,
)
