"""The offline test gateway's hosted checkout page (only when Stripe keys are not set; never registered in
production)."""
from flask import Blueprint, abort

from ..services.commerce import payments

bp = Blueprint("pay", __name__, url_prefix="/pay/test")


@bp.before_request
def _only_offline():
    if payments.provider_name() != "test":
        abort(404)


from . import routes  # noqa: E402,F401
