"""Forms several admin screens share: the bare action button, and the date range of the list filters."""
from __future__ import annotations

from datetime import date

from flask_wtf import FlaskForm
from wtforms import DateField
from wtforms.validators import ValidationError


class ActionForm(FlaskForm):
    """A bare POST with a CSRF token (deactivate, resend verification, force reset, return a rental ...)."""


class DateRange:
    """For a filter form with `date_from` and `date_to` fields: the end may not come before the start."""

    date_from: DateField

    def validate_date_to(self, field: DateField) -> None:
        start: date | None = self.date_from.data
        if field.data and start and field.data < start:
            raise ValidationError("The end date is before the start date.")
