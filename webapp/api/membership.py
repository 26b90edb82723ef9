"""API: Your plan and wallet."""
from __future__ import annotations

from flask_smorest import Blueprint

blp = Blueprint("api_membership", __name__, url_prefix="/api/v1", description="Your plan and wallet.")
