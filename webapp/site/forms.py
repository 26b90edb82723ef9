"""The contact form."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from ..services.people.contact import MESSAGE_MAX, NAME_MAX, TOPICS


class ContactForm(FlaskForm):
    name = StringField("Your name", validators=[DataRequired("Tell us your name."), Length(max=NAME_MAX)])
    email = EmailField("Your email address", validators=[DataRequired("We need an address to answer you."),
                                                         Length(max=254)],
                       description="We only use it to answer you.")
    topic = SelectField("What is it about?", choices=[SelectChoice("", "Choose one…"), *(SelectChoice(k, v) for k, v in TOPICS.items())],
                        validators=[DataRequired("Choose what your message is about.")])
    message = TextAreaField("Your message", validators=[DataRequired("Write your message."),
                                                        Length(max=MESSAGE_MAX)])
    # A field people never see or fill: a bot that fills every field gives itself away (and is told "sent").
    website = StringField("Leave this empty")
