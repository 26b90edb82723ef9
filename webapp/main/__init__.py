"""Pages of no particular area: the health check, the favicon, uploaded images."""
from flask import Blueprint

bp = Blueprint("main", __name__)

from . import routes  # noqa: E402,F401
