"""The public catalog: home page, book listings with filters, book pages, genres, authors."""
from flask import Blueprint, request

from ..extensions import limiter

bp = Blueprint("catalog", __name__)


def _catalog_reads_unlimited() -> bool:
    """The catalog's GETs carry no rate limit (they are served from the cache, or cost one page of SQL): skip the
    limiter's per-request work for them. POSTs, and every other blueprint, are checked as before."""
    return request.blueprint == "catalog" and request.method in ("GET", "HEAD")


limiter.request_filter(_catalog_reads_unlimited)

from . import card_actions, routes  # noqa: E402,F401
