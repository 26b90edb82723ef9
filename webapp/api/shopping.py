"""API: Your cart, buy now and checkout."""
from __future__ import annotations

from flask_smorest import Blueprint

blp = Blueprint("api_shopping", __name__, url_prefix="/api/v1", description="Your cart, buy now and checkout.")
