"""API: The catalog: books, authors and genres. No token needed."""
from __future__ import annotations

from flask_smorest import Blueprint

blp = Blueprint("api_catalog", __name__, url_prefix="/api/v1", description="The catalog: books, authors and genres. No token needed.")
