"""API: Your account: details and addresses."""
from __future__ import annotations

from flask_smorest import Blueprint

blp = Blueprint("api_account", __name__, url_prefix="/api/v1", description="Your account: details and addresses.")
