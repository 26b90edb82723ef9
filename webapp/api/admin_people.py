"""API: Staff: users, holds and rentals."""
from __future__ import annotations

from flask_smorest import Blueprint

blp = Blueprint("api_admin_people", __name__, url_prefix="/api/v1", description="Staff: users, holds and rentals.")
