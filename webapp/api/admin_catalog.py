"""API: Staff: books and stock."""
from __future__ import annotations

from flask_smorest import Blueprint

blp = Blueprint("api_admin_catalog", __name__, url_prefix="/api/v1", description="Staff: books and stock.")
