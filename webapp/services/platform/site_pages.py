"""The shop's own pages (About, Contact, Shipping & returns, Privacy, Terms, FAQ): Markdown that admins edit.

A page with no saved row shows its built-in text (site_page_texts, figures filled from the configuration).
Markdown becomes HTML in one place, `render`: markdown-it-py (CommonMark, raw HTML off: typed tags show as
text), then nh3 with an allow-list, so whatever an admin pastes cannot run script on a customer's page. Links
get rel="noopener noreferrer" and only http(s), mailto and relative URLs; images are not allowed at all (no
upload in the editor, and an image from another host would let that host track every visitor of the page).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup
from sqlalchemy import delete, select

from ...extensions import db
from ...models import SitePage, User, utcnow
from . import audit
from .errors import RuleError
from .site_page_texts import DEFAULTS, facts
from .upsert import insert

TITLE_MAX = 120
BODY_MAX = 20_000
SLUGS = tuple(DEFAULTS)

_ALLOWED_TAGS = {"p", "br", "hr", "h2", "h3", "h4", "h5", "h6", "strong", "em", "code", "pre", "blockquote",
                 "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td", "s", "del"}
_ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
_URL_SCHEMES = {"http", "https", "mailto"}


class SitePageError(RuleError):
    """A page that cannot be saved as given (an empty title, a text too long, a page that does not exist)."""


@dataclass(frozen=True)
class Page:
    slug: str
    title: str
    body_md: str
    customised: bool  # staff saved their own text (False: the built-in default)
    updated_at: datetime | None = None
    updated_by: str | None = None  # the username of whoever saved it last

    @property
    def html(self) -> Markup:
        return render(self.body_md)


def _shift_headings(state: Any) -> None:
    """A `# Heading` in a page becomes <h2>: the page's title is its one <h1>."""
    for token in state.tokens:
        if token.type in ("heading_open", "heading_close") and token.tag == "h1":
            token.tag = "h2"


_MD = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
    ["table", "strikethrough"])
_MD.core.ruler.push("folio_shift_headings", _shift_headings)


def render(markdown: str) -> Markup:
    """Safe HTML for a page's Markdown: raw HTML is shown as text, and nh3 keeps only the allow-listed tags,
    attributes and URL schemes whatever the Markdown produced."""
    html = _MD.render(markdown or "")
    return Markup(nh3.clean(html, tags=_ALLOWED_TAGS, attributes=_ALLOWED_ATTRIBUTES, url_schemes=_URL_SCHEMES,
                            link_rel="noopener noreferrer", strip_comments=True))


def default(slug: str) -> tuple[str, str]:
    """(title, Markdown) of the page's built-in text, its figures taken from the configuration now."""
    title, template = DEFAULTS[slug]
    return title, template.format(**facts())


def get(slug: str) -> Page | None:
    """The page as customers see it: the saved row, or the default text; None for an unknown slug."""
    if slug not in DEFAULTS:
        return None
    row = db.session.scalar(select(SitePage).where(SitePage.slug == slug))
    if row is None:
        title, body = default(slug)
        return Page(slug=slug, title=title, body_md=body, customised=False)
    editor = db.session.get(User, row.updated_by_id) if row.updated_by_id else None
    return Page(slug=slug, title=row.title, body_md=row.body_md, customised=True, updated_at=row.updated_at,
                updated_by=editor.username if editor else None)


def all_pages() -> list[Page]:
    """Every page, in the footer's order."""
    pages = [get(slug) for slug in SLUGS]
    return [page for page in pages if page is not None]


def check(slug: str, title: str, body_md: str) -> tuple[str, str]:
    """The title and text cleaned up for saving, or SitePageError naming the field that is wrong."""
    if slug not in DEFAULTS:
        raise SitePageError("There is no such page.")
    title = " ".join((title or "").split())
    body_md = (body_md or "").replace("\r\n", "\n").strip()
    errors: dict[str, list[str]] = {}
    if not title:
        errors["title"] = ["Give the page a title."]
    elif len(title) > TITLE_MAX:
        errors["title"] = [f"Keep the title to {TITLE_MAX} characters (it has {len(title)})."]
    if not body_md:
        errors["body_md"] = ["The page needs some text (or restore the default text)."]
    elif len(body_md) > BODY_MAX:
        errors["body_md"] = [f"Keep the text to {BODY_MAX:,} characters (it has {len(body_md):,})."]
    if errors:
        raise SitePageError(errors)
    return title, body_md


def save(slug: str, title: str, body_md: str, by_user: User, *, ip: str | None = None) -> Page:
    """Save staff's title and Markdown for the page, audited. One INSERT ... ON CONFLICT (slug) DO UPDATE: two
    admins saving at once both succeed and the later write is the page (no duplicate row, no error)."""
    title, body_md = check(slug, title, body_md)
    before = get(slug)
    now = utcnow()
    stmt = insert(SitePage).values(slug=slug, title=title, body_md=body_md, updated_at=now,
                                   updated_by_id=by_user.id)
    db.session.execute(stmt.on_conflict_do_update(
        index_elements=[SitePage.slug],
        set_={"title": title, "body_md": body_md, "updated_at": now, "updated_by_id": by_user.id}))
    audit.record("site_page.saved", actor_id=by_user.id, object_type="site_page", object_id=slug, ip=ip,
                 before=_audit_values(before), after={"title": title, "length": len(body_md)})
    saved = get(slug)
    assert saved is not None  # the slug was checked above
    return saved


def restore_default(slug: str, by_user: User, *, ip: str | None = None) -> Page:
    """Drop staff's text so the page shows its built-in default again (with today's figures), audited."""
    if slug not in DEFAULTS:
        raise SitePageError("There is no such page.")
    before = get(slug)
    db.session.execute(delete(SitePage).where(SitePage.slug == slug))
    audit.record("site_page.restored", actor_id=by_user.id, object_type="site_page", object_id=slug, ip=ip,
                 before=_audit_values(before), after={"default": True})
    restored = get(slug)
    assert restored is not None
    return restored


def _audit_values(page: Page | None) -> dict[str, object] | None:
    if page is None:
        return None
    return {"title": page.title, "length": len(page.body_md), "default": not page.customised}
