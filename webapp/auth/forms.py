"""Forms for registration, sign-in, the second factor and password resets."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, ValidationError

from ..services.people import accounts


class RegisterForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=30)],
                           description="3 to 30 letters, digits or underscores.")
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=accounts.MAX_PASSWORD)],
                             description=f"At least {accounts.MIN_PASSWORD} characters. A phrase of unrelated words works well.")
    confirm = PasswordField("Repeat password", validators=[DataRequired(), EqualTo("password", "The passwords do not match.")])

    def validate_username(self, field):
        for message in accounts.username_errors(field.data):
            raise ValidationError(message)

    def validate_email(self, field):
        """The address's form only: whether it has an account is never said here (see registration.register)."""
        for message in accounts.email_format_errors(field.data):
            raise ValidationError(message)

    def validate_password(self, field):
        check = accounts.check_password(field.data, username=self.username.data or "", email=self.email.data or "")
        if check.errors:
            raise ValidationError(" ".join(check.errors))


class CodeForm(FlaskForm):
    code = StringField("6-digit code", validators=[DataRequired(), Length(min=6, max=7)])


class LoginForm(FlaskForm):
    login = StringField("Username or email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=accounts.MAX_PASSWORD)])
    remember = BooleanField("Keep me signed in")


class SecondFactorForm(FlaskForm):
    code = StringField("Authentication code or recovery code", validators=[DataRequired(), Length(max=20)])


class ForgotForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])


class ResetForm(FlaskForm):
    password = PasswordField("New password", validators=[DataRequired(), Length(max=accounts.MAX_PASSWORD)])
    confirm = PasswordField("Repeat new password",
                            validators=[DataRequired(), EqualTo("password", "The passwords do not match.")])
