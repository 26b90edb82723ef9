"""The audit log's filters (a GET form read from request.args)."""
from __future__ import annotations

from wtforms import DateField, Form, SearchField, SelectChoice, SelectField, StringField
from wtforms.validators import Length, Optional

from ..services.platform.audit import OBJECT_TYPES
from .forms import DateRange


class AuditFilterForm(DateRange, Form):
    action = SearchField("Action", validators=[Optional(), Length(max=60)],
                         description="“order.” for every order action, or an exact one such as order.shipped")
    actor = SearchField("Who", validators=[Optional(), Length(max=254)],
                        description="Username, email, #id, or “system”")
    object_type = SelectField("Object", validators=[Optional()],
                              choices=[SelectChoice("", "Any object")] + [SelectChoice(t, t.replace("_", " ").capitalize()) for t in OBJECT_TYPES])
    object_id = SearchField("Object id", validators=[Optional(), Length(max=40)],
                            description="e.g. a user id or an order number")
    date_from = DateField("From", validators=[Optional()])
    date_to = DateField("To", validators=[Optional()])
    before = StringField("Older than", validators=[Optional(), Length(max=60)])
