"""Admin panel: audit (routes registered on the admin blueprint)."""
from . import bp  # noqa: F401
