"""Small request helpers shared by blueprints: where to go next, which page of a list, which file was sent."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import request
from werkzeug.datastructures import FileStorage
from wtforms import Field


def safe_next(default: str) -> str:
    """The ?next= target when it is a path on this site, else `default` (no open redirects)."""
    target = request.args.get("next") or request.form.get("next") or ""
    parts = urlsplit(target)
    if target.startswith("/") and not target.startswith("//") and not parts.scheme and not parts.netloc \
            and "\\" not in target:
        return target
    return default


def page_number(raw: str | None) -> int:
    """A ?page= value as a page number: anything that is not a plain small number means page 1."""
    raw = (raw or "").strip()
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 6 else 1


def uploaded_file(field: Field) -> FileStorage | None:
    """The file a form's file field received, or None when it was left empty (browsers still send a part)."""
    data = field.data
    return data if isinstance(data, FileStorage) and data.filename else None
