"""API: Your rentals and holds."""
from __future__ import annotations

from flask_smorest import Blueprint

blp = Blueprint("api_circulation", __name__, url_prefix="/api/v1", description="Your rentals and holds.")
