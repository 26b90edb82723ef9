"""Admin panel: orders_admin (routes registered on the admin blueprint)."""
from . import bp  # noqa: F401
