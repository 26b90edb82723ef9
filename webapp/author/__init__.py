"""The author area (/author): an author's own profile and sales figures.

Every route: signed in, role author (or an admin whose account is linked to an author profile), and an author
profile linked to the account. The profile always comes from the signed-in user (`g.author`); no route takes
an author id, so nobody reaches another author's figures or bank details through /author.
"""
from __future__ import annotations

from flask import Blueprint, abort, g, render_template
from flask.typing import ResponseReturnValue
from flask_login import current_user

from ..extensions import login_manager
from ..services.people import authors

bp = Blueprint("author", __name__, url_prefix="/author")


@bp.before_request
def _linked_authors_only() -> ResponseReturnValue | None:
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if current_user.role not in ("author", "admin"):
        abort(403)
    g.author = authors.for_user(current_user)
    if g.author is None:
        if current_user.role == "author":
            return render_template("author/not_linked.html")
        abort(403)  # an admin without an author profile of their own: the admin panel is the way in
    return None


from . import routes  # noqa: E402,F401
