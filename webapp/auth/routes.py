from __future__ import annotations

import math
import time

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..extensions import db, limiter
from ..models import User
from ..services import accounts, twofactor
from ..services.accounts import AccountError
from ..utils import FAILED, attempt, confirm_code, safe_next
from ..utils import resend_code as send_new_code
from . import bp
from . import session as auth_session
from .forms import CodeForm, ForgotForm, LoginForm, RegisterForm, ResetForm, SecondFactorForm


def _account_key() -> str:
    return "login:" + (request.form.get("login") or "").strip().lower()[:254]


def _pending_key() -> str:
    data = auth_session.pending() or {}
    return f"2fa:{data.get('uid', request.remote_addr)}"


def _failed(response) -> bool:
    return response.status_code == 200  # the form came back with an error


@bp.after_request
def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit("20 per hour", methods=["POST"])
def register():
    if current_user.is_authenticated:
        return redirect(url_for("account.index"))
    form = RegisterForm()
    if form.validate_on_submit():
        user = attempt(form, lambda: accounts.register(form.username.data, form.email.data, form.password.data,
                                                       ip=auth_session.client_ip()))
        if user is not FAILED:
            auth_session.sign_in(user)
            flash("Welcome to Folio! We sent a 6-digit code to your email address.", "success")
            return redirect(url_for("auth.verify"), 303)
    hint = None
    if form.password.data:
        hint = accounts.check_password(form.password.data, username=form.username.data or "",
                                       email=form.email.data or "").hint
    return render_template("auth/register.html", form=form, password_hint=hint)


@bp.post("/register/validate/<field>")
@limiter.limit("60 per minute")
def validate_field(field: str):
    """htmx inline validation: returns only the message for one field."""
    form = RegisterForm(meta={"csrf": True})
    if field not in ("username", "email", "password", "confirm"):
        abort(404)
    form.validate()
    errors = getattr(form, field).errors
    hint = None
    if field == "password" and form.password.data:
        hint = accounts.check_password(form.password.data, username=form.username.data or "",
                                       email=form.email.data or "").hint
    return render_template("auth/_field_feedback.html", errors=errors, hint=hint,
                           ok=not errors and bool(getattr(form, field).data))


@bp.route("/verify", methods=["GET", "POST"])
@login_required
def verify():
    if current_user.is_verified:
        return redirect(url_for("account.index"))
    form = CodeForm()
    if form.validate_on_submit() and confirm_code(form, current_user, "verify"):
        flash("Your email address is confirmed. Thank you!", "success")
        return redirect(safe_next(url_for("account.index")), 303)
    return render_template("auth/verify.html", form=form)


@bp.post("/verify/resend")
@login_required
def resend_code():
    if current_user.is_verified:
        return redirect(url_for("account.index"))
    send_new_code(current_user, "verify")
    return redirect(url_for("auth.verify"), 303)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("30 per 10 minutes", methods=["POST"], deduct_when=_failed)
@limiter.limit("5 per 15 minutes", methods=["POST"], key_func=_account_key, deduct_when=_failed)
def login():
    if current_user.is_authenticated:
        return redirect(safe_next(url_for("catalog.home")))
    form = LoginForm()
    if form.validate_on_submit():
        user = accounts.authenticate(form.login.data, form.password.data)
        if user is None:
            found = accounts.find_by_login(form.login.data)
            if found is not None:
                accounts.record_login(found, success=False, method="password", ip=auth_session.client_ip(),
                                      user_agent=auth_session.user_agent())
                db.session.commit()
            form.form_errors = ["That username/email and password do not match an active account."]
        elif user.has_2fa:
            db.session.commit()  # a rehash, if any
            auth_session.set_pending(user, bool(form.remember.data))
            return redirect(url_for("auth.second_factor", next=request.args.get("next")), 303)
        else:
            accounts.record_login(user, success=True, method="password", ip=auth_session.client_ip(),
                                  user_agent=auth_session.user_agent())
            db.session.commit()
            auth_session.sign_in(user, remember=bool(form.remember.data))
            flash(f"Welcome back, {user.display_name}.", "success")
            return redirect(safe_next(url_for("catalog.home")), 303)
    return render_template("auth/login.html", form=form)


@bp.route("/login/2fa", methods=["GET", "POST"])
@limiter.limit("5 per 5 minutes", methods=["POST"], key_func=_pending_key, deduct_when=_failed)
def second_factor():
    pending = auth_session.pending()
    if pending is None:
        flash("Please sign in again.", "error")
        return redirect(url_for("auth.login"))
    user = db.session.get(User, pending["uid"])
    if user is None or not user.is_active or user.session_version != pending["v"] or not user.has_2fa:
        auth_session.clear_pending()
        return redirect(url_for("auth.login"))
    form = SecondFactorForm()
    if form.validate_on_submit():
        method = twofactor.verify(user, form.code.data)
        accounts.record_login(user, success=bool(method), method=method or "totp", ip=auth_session.client_ip(),
                              user_agent=auth_session.user_agent())
        db.session.commit()
        if method:
            auth_session.sign_in(user, remember=pending.get("remember", False))
            if method == "recovery_code":
                left = twofactor.remaining_recovery_codes(user)
                flash(f"Signed in with a recovery code. {left} left: make new ones on your security page if you "
                      "are running low.", "info")
            else:
                flash(f"Welcome back, {user.display_name}.", "success")
            return redirect(safe_next(url_for("catalog.home")), 303)
        form.code.errors = ["That code is not right (or was already used)."]
    return render_template("auth/second_factor.html", form=form)


@bp.post("/logout")
def logout():
    auth_session.sign_out()
    flash("You are signed out.", "info")
    return redirect(url_for("catalog.home"), 303)


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit("5 per 15 minutes", methods=["POST"])
def forgot_password():
    form = ForgotForm()
    if form.validate_on_submit():
        accounts.send_password_reset(form.email.data,
                                     lambda token: url_for("auth.reset_password", token=token, _external=True))
        db.session.commit()
        flash("If that address belongs to an account, we sent it a link to reset the password. "
              "It is valid for one hour.", "info")
        return redirect(url_for("auth.login"), 303)
    return render_template("auth/forgot.html", form=form)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@limiter.limit("10 per 15 minutes", methods=["POST"])
def reset_password(token: str):
    try:
        user = accounts.user_for_reset_token(token)
    except AccountError as exc:
        flash(str(exc), "error")
        return redirect(url_for("auth.forgot_password"))
    form = ResetForm()
    if form.validate_on_submit() and attempt(
            form, lambda: accounts.reset_password(token, form.password.data, ip=auth_session.client_ip())) is not FAILED:
        auth_session.sign_out()
        flash("Your password is changed and every other session is signed out. Please sign in.", "success")
        return redirect(url_for("auth.login"), 303)
    return render_template("auth/reset.html", form=form, user=user)


def retry_message() -> str:
    """'Try again in N minutes' for the limit that was just hit."""
    current = limiter.current_limit
    seconds = max(0.0, current.reset_at - time.time()) if current is not None else 60
    minutes = max(1, math.ceil(seconds / 60))
    return f"Too many attempts. Please try again in {minutes} minute{'s' if minutes != 1 else ''}."


def too_many_attempts():
    """429 on the sign-in forms: the same form again, saying when to retry (None for other pages)."""
    forms = {"auth.login": (LoginForm, "auth/login.html"), "auth.second_factor": (SecondFactorForm,
                                                                                  "auth/second_factor.html")}
    if request.endpoint not in forms:
        return None
    form_cls, template = forms[request.endpoint]
    form = form_cls()
    form.form_errors = [retry_message()]
    return render_template(template, form=form), 429
