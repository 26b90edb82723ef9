"""API: Authors: their own profile and sales."""
from __future__ import annotations

from flask_smorest import Blueprint

blp = Blueprint("api_author", __name__, url_prefix="/api/v1", description="Authors: their own profile and sales.")
