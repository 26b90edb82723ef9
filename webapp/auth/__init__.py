"""Signing up, in and out: registration with an emailed code, sign-in with a second factor, password resets."""
from flask import Blueprint

bp = Blueprint("auth", __name__)

from . import routes  # noqa: E402,F401
