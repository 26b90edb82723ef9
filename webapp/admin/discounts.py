"""Admin panel: discounts (routes registered on the admin blueprint)."""
from . import bp  # noqa: F401
