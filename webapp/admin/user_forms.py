"""Forms for the admin accounts screens: the list's filters, the role picker, and the customer page's tabs (paging,
wallet adjustments, comp and cancel a plan)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    Form,
    HiddenField,
    IntegerField,
    RadioField,
    SearchField,
    SelectChoice,
    SelectField,
    StringField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional

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


# ---- the customer page's tabs (admin/customer.py) ----

class TabPageForm(Form):
    """?page= on the paged tabs (orders, wallet); a bad value means page 1."""

    page = IntegerField("Page", validators=[Optional(), NumberRange(min=1, max=100000)])

    def page_number(self) -> int:
        return (self.page.data if self.validate() and self.page.data else None) or 1


class WalletAdjustForm(FlaskForm):
    kind = RadioField("Adjustment", choices=[SelectChoice("credit", "Credit (add money)"),
                                             SelectChoice("debit", "Debit (take money)")],
                      validators=[InputRequired("Choose credit or debit.")])
    amount = StringField("Amount", validators=[InputRequired("Enter an amount.")], description="Like 12.50.")
    reason = StringField("Reason", validators=[InputRequired("Say why: the customer reads this reason."),
                                               Length(max=200)],
                         description="Emailed to the customer and kept in the wallet statement and the audit log.")
    # One-time: the wallet applies an entry with this reference once (services.circulation.adjustments).
    reference = HiddenField()


class CompPlanForm(FlaskForm):
    tier = SelectField("Plan to give", validators=[InputRequired()])
    periods = IntegerField("Periods", validators=[InputRequired("Enter a number of periods."),
                                                  NumberRange(min=1, max=12, message="Between 1 and 12 periods.")],
                           description="1 to 12 periods, starting now.")
    stamp = HiddenField()  # the plan as the page showed it (services.circulation.plan_staff)


class CancelPlanForm(FlaskForm):
    when = RadioField("When", choices=[SelectChoice("period_end", "At the end of the period"),
                                       SelectChoice("now", "Now, refunding the unused part to the wallet")],
                      default="period_end", validators=[InputRequired()])
    stamp = HiddenField()
