"""Forms for the admin page editor (the shop's own pages)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField

from ..services.platform.site_pages import BODY_MAX, TITLE_MAX


class SitePageForm(FlaskForm):
    # Lengths are checked by services.platform.site_pages.check (one place, with the counts in the message).
    title = StringField("Title", description=f"Up to {TITLE_MAX} characters; the page's heading.")
    body_md = TextAreaField("Text (Markdown)", description=(
        f"Up to {BODY_MAX:,} characters. ## Heading, **bold**, *italic*, - lists, [a link](https://…), and "
        "tables. HTML is shown as typed and images are not shown."))


class SitePageActionForm(FlaskForm):
    """A button's form (restore the default text): the CSRF token only."""
