"""The shop's own pages (About, Shipping & returns, Privacy, Terms, FAQ) and the contact form (routes in
site.routes; the texts are services.platform.site_pages, edited in the admin panel)."""
from flask import Blueprint

bp = Blueprint("site", __name__)

from . import routes  # noqa: E402,F401
