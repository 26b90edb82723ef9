"""Admin panel: the home dashboard."""
from flask import redirect, url_for

from . import bp


@bp.get("")
def home():
    return redirect(url_for("admin.users"))
