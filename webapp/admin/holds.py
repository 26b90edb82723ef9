"""Admin panel: holds (copies set aside for readers, the queues still waiting, and closed holds)."""
from __future__ import annotations

from flask import request

from ..htmx import render_page_or_partial
from ..services.circulation import holds as hold_service
from ..utils import page_number
from . import bp


@bp.get("/holds")
def holds_list():
    view = request.args.get("view", "ready")
    view = view if view in hold_service.ADMIN_VIEWS else "ready"
    page = request.args.get("page", "1")
    result = hold_service.admin_list(view, page_number(page))
    return render_page_or_partial("admin/holds.html", "admin/_holds_table.html", result=result, view=view,
                                  views=hold_service.ADMIN_VIEWS, positions=hold_service.positions(result.items))
