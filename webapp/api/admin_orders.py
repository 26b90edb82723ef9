"""API: Staff: orders."""
from __future__ import annotations

from flask_smorest import Blueprint

blp = Blueprint("api_admin_orders", __name__, url_prefix="/api/v1", description="Staff: orders.")
