"""Admin panel: the audit log (every admin action and security event), filterable, newest first."""
from __future__ import annotations

import json
import re
from typing import Any

from flask import current_app, request, url_for
from sqlalchemy import select
from werkzeug.routing import Rule

from ..extensions import db
from ..htmx import render_page_or_partial
from ..models import AuditLog, DiscountCode
from ..services.platform import audit as audit_service
from ..services.platform.money import money
from . import bp
from .audit_forms import AuditFilterForm


def _show(key: str, value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int) and key.endswith("_cents"):
        return money(value)
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return str(value)


def changes(entry: AuditLog) -> list[tuple[str, str, str]]:
    """(field, before, after) rows for an entry, as plain text (the template escapes it)."""
    before = entry.before if isinstance(entry.before, dict) else ({"value": entry.before} if entry.before else {})
    after = entry.after if isinstance(entry.after, dict) else ({"value": entry.after} if entry.after else {})
    keys = list(before) + [k for k in after if k not in before]
    return [(key.replace("_", " "), _show(key, before.get(key)) if key in before else "",
             _show(key, after.get(key)) if key in after else "") for key in keys]


_BOOK_EDIT = re.compile(r"/admin/books/<[^>/]+>/edit")


def _book_edit_rule() -> Rule | None:
    """The book editor's route, if the admin books screen provides one (/admin/books/<id>/edit)."""
    for rule in current_app.url_map.iter_rules():
        if _BOOK_EDIT.fullmatch(rule.rule) and "GET" in (rule.methods or ()) and len(rule.arguments) == 1:
            return rule
    return None


def object_links(entries: list[AuditLog]) -> dict[int, str]:
    """{entry id: URL of its object's admin page} where there is one (one query for all discount codes)."""
    discount_ids = {int(e.object_id) for e in entries if e.object_type == "discount" and e.object_id
                    and e.object_id.isdigit()}
    live = set(db.session.scalars(select(DiscountCode.id).where(DiscountCode.id.in_(discount_ids)))) \
        if discount_ids else set()
    book_rule = _book_edit_rule()
    links: dict[int, str] = {}
    for e in entries:
        oid = e.object_id or ""
        if e.object_type == "user" and oid.isdigit():
            links[e.id] = url_for("admin.user", user_id=int(oid))
        elif e.object_type == "order" and oid:
            links[e.id] = url_for("admin.order", number=oid)
        elif e.object_type == "discount" and oid.isdigit() and int(oid) in live:
            links[e.id] = url_for("admin.discount_edit", discount_id=int(oid))
        elif e.object_type == "book" and oid.isdigit() and book_rule is not None:
            book_id: dict[str, Any] = {next(iter(book_rule.arguments)): int(oid)}  # Any: url_for's **values
            links[e.id] = url_for(book_rule.endpoint, **book_id)
    return links


@bp.get("/audit")
def audit_log():
    form = AuditFilterForm(request.args)
    form.validate()
    result = audit_service.search(
        action=form.action.data or "", actor=form.actor.data or "",
        object_type=form.object_type.data or "", object_id=form.object_id.data or "",
        date_from=form.date_from.data, date_to=form.date_to.data if not form.date_to.errors else None,
        before=form.before.data or None)
    return render_page_or_partial("admin/audit.html", "admin/_audit_table.html", form=form, result=result,
                                  changes=changes, links=object_links(result.items))
