"""The public catalog: home page, book listings with filters, book pages, genres, authors."""
from flask import Blueprint

bp = Blueprint("catalog", __name__)

from . import routes  # noqa: E402,F401
