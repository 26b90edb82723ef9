"""Development-only pages (the email outbox). Registered only outside production and with DEV_OUTBOX_ENABLED
(webapp.create_app); the check below is a second guard."""
from flask import Blueprint, abort, current_app

bp = Blueprint("dev", __name__, url_prefix="/dev")


@bp.before_request
def _only_in_development():
    if not current_app.config.get("DEV_OUTBOX_ENABLED"):
        abort(404)


from . import routes  # noqa: E402,F401
