"""Forms for the admin accounts screens: the list's filters and the role picker."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import Form, IntegerField, SearchField, SelectChoice, SelectField
from wtforms.validators import NumberRange, Optional

from ..models import ROLES
from ..services.people.staff import STATUSES


class UserFilterForm(Form):
    q = SearchField("Search", validators=[Optional()])
    role = SelectField("Role", validators=[Optional()],
                       choices=[SelectChoice("", "Any role")] + [SelectChoice(r, r.title()) for r in ROLES])
    status = SelectField("Status", validators=[Optional()],
                         choices=[SelectChoice("", "Any status")] + [SelectChoice(k, v) for k, v in STATUSES.items()])
    page = IntegerField("Page", validators=[Optional(), NumberRange(min=1, max=100000)])


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=[SelectChoice(r, r.title()) for r in ROLES])
