from flask import Blueprint

bp = Blueprint("account", __name__, url_prefix="/account")

from . import routes, security  # noqa: E402,F401
