"""API: Your orders."""
from __future__ import annotations

from flask_smorest import Blueprint

blp = Blueprint("api_orders", __name__, url_prefix="/api/v1", description="Your orders.")
