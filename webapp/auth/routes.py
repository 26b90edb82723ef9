"""Sign-up (with an emailed code), sign-in (password, then the second factor for accounts that have one), sign-out
and password resets. Wrong passwords are rate-limited per account and per address."""
from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from werkzeug.exceptions import HTTPException

from ..actions import FAILED, apply_errors, attempt, attempt_flash, confirm_code
from ..actions import resend_code as send_new_code
from ..clients import client_ip, client_key, user_agent
from ..errors import http_error, retry_message, wants_json
from ..extensions import db, limiter
from ..links import public_url
from ..models import User
from ..services.people import accounts, registration, twofactor
from ..services.people.accounts import AccountError
from ..utils import safe_next
from . import bp
from . import session as auth_session
from .forms import CodeForm, ForgotForm, LoginForm, RegisterForm, ResetForm, SecondFactorForm


def _account_key() -> str:
    """Wrong passwords count per account and per address: one bucket for the account however it is named
    (username or email), so naming it twice does not double the guesses; and per address, so a stranger
    elsewhere cannot lock the owner out by failing on purpose. (Spraying one account from many addresses is
    slowed by the per-address limit and the password hash's cost; admins also need their second factor.)"""
    if "folio_login_key" not in g:  # asked once per limit and again when counting a failure: look up once
        login = (request.form.get("login") or "").strip().lower()[:254]
        found = accounts.find_by_login(login)
        g.folio_login_key = f"login:{f'user:{found.id}' if found else f'name:{login}'}:{client_key()}"
    return g.folio_login_key


def _pending_key() -> str:
    data = auth_session.pending() or {}
    return f"2fa:{data.get('uid', client_key())}"


def _failed(response) -> bool:
    return response.status_code == 200  # the form came back with an error


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit("20 per hour", methods=["POST"])
def register():
    if current_user.is_authenticated:
        return redirect(url_for("account.index"))
    form = RegisterForm()
    if request.method == "GET" and request.args.get("email"):
        form.email.data = request.args["email"][:254]  # "Create an account" after a guest checkout
    if form.validate_on_submit():
        code_id = attempt(form, lambda: registration.sign_up(
            form.username.data, form.email.data, form.password.data, ip=client_ip(),
            sign_in_url=public_url("auth.login"), reset_url=public_url("auth.forgot_password")))
        if code_id is not FAILED:
            # The same answer and the same next page whether the address was new or already had an account (its
            # owner was emailed instead): this form tells no one who has one. Nobody is signed in until the
            # emailed code is entered.
            auth_session.start_registration(code_id, accounts.normalize_email(form.email.data))
            flash("Welcome to Folio! We sent a 6-digit code to your email address.", "success")
            return redirect(url_for("auth.confirm_registration"), 303)
    hint = None
    if form.password.data:
        hint = accounts.check_password(form.password.data, username=form.username.data or "",
                                       email=form.email.data or "").hint
    return render_template("auth/register.html", form=form, password_hint=hint)


@bp.route("/register/confirm", methods=["GET", "POST"])
@limiter.limit("30 per 10 minutes", methods=["POST"])
def confirm_registration():
    """The code from the registration email signs the new account in (for an address that already had an
    account, the code is a decoy that answers the same way and is never right: services.people.registration)."""
    pending = auth_session.registration()
    if pending is None:
        flash("Please register, or sign in if you already have an account.", "info")
        return redirect(url_for("auth.register"))
    form = CodeForm()
    if form.validate_on_submit():
        try:
            user = registration.confirm_sign_up(pending["code"], form.code.data)
        except AccountError as exc:
            db.session.commit()  # the try counts
            apply_errors(form, exc)
        else:
            db.session.commit()
            auth_session.sign_in(user)
            flash("Your email address is confirmed. Welcome to Folio!", "success")
            return redirect(url_for("account.index"), 303)
    return render_template("auth/confirm_registration.html", form=form, email=pending["email"])


@bp.post("/register/confirm/resend")
@limiter.limit("10 per 10 minutes")
def resend_registration_code():
    pending = auth_session.registration()
    if pending is None:
        return redirect(url_for("auth.register"))
    code_id = attempt_flash(lambda: registration.resend_sign_up(pending["code"]), AccountError,
                            "We sent you a new code.")
    if code_id is not FAILED:
        auth_session.registration_code_sent(code_id)
    return redirect(url_for("auth.confirm_registration"), 303)


@bp.post("/register/validate/<field>")
@limiter.limit("60 per minute")
def validate_field(field: str):
    """htmx inline validation: returns only the message for one field. The email field's is about its form only:
    whether an address has an account is never said (RegisterForm.validate_email, registration.register)."""
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
@limiter.limit("60 per 10 minutes", methods=["POST"], scope="login-address-attempts")  # bursts, counted first
@limiter.limit("5 per 15 minutes", methods=["POST"], key_func=_account_key, deduct_when=_failed)
# Failures are counted after the answer, so guesses sent all at once would pass the check together: every
# attempt also counts, atomically, before it is tried (a person signing in needs far fewer).
@limiter.limit("10 per 15 minutes", methods=["POST"], key_func=_account_key, scope="login-attempts")
def login():
    if current_user.is_authenticated:
        return redirect(safe_next(url_for("catalog.home")))
    form = LoginForm()
    if form.validate_on_submit():
        user = accounts.authenticate(form.login.data, form.password.data)
        if user is None:
            found = accounts.find_by_login(form.login.data)
            if found is not None:
                accounts.record_login(found, success=False, method="password", ip=client_ip(),
                                      user_agent=user_agent())
                db.session.commit()
            form.form_errors = ["That username/email and password do not match an active account."]
            return render_template("auth/login.html", form=form)
        checked_version = user.session_version  # before anything commits
        if user.has_2fa:
            db.session.commit()  # a rehash, if any
            auth_session.set_pending(user, bool(form.remember.data), checked_version)
            return redirect(url_for("auth.second_factor", next=request.args.get("next")), 303)
        accounts.record_login(user, success=True, method="password", ip=client_ip(), user_agent=user_agent())
        db.session.commit()
        auth_session.sign_in(user, remember=bool(form.remember.data), version=checked_version)
        flash(f"Welcome back, {user.display_name}.", "success")
        return redirect(safe_next(url_for("catalog.home")), 303)
    return render_template("auth/login.html", form=form)


@bp.route("/login/2fa", methods=["GET", "POST"])
@limiter.limit("5 per 5 minutes", methods=["POST"], key_func=_pending_key)  # every try counts, atomically
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
        accounts.record_login(user, success=bool(method), method=method or "totp", ip=client_ip(),
                              user_agent=user_agent())
        db.session.commit()
        if method:
            auth_session.sign_in(user, remember=pending.get("remember", False), version=pending["v"])
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
                                     lambda token: public_url("auth.reset_password", token=token))
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
            form, lambda: accounts.reset_password(token, form.password.data, ip=client_ip())) is not FAILED:
        auth_session.sign_out()
        flash("Your password is changed and every other session is signed out. Please sign in.", "success")
        return redirect(url_for("auth.login"), 303)
    return render_template("auth/reset.html", form=form, user=user)


@bp.errorhandler(429)
def too_many_attempts(exc: HTTPException) -> ResponseReturnValue:
    """429 on the sign-in forms: the same form again, saying when to retry (the site's error page elsewhere)."""
    forms: dict[str, tuple[type[FlaskForm], str]] = {
        "auth.login": (LoginForm, "auth/login.html"),
        "auth.second_factor": (SecondFactorForm, "auth/second_factor.html")}
    if wants_json() or request.endpoint not in forms:
        return http_error(exc)
    form_cls, template = forms[request.endpoint]
    form = form_cls()
    form.form_errors = [retry_message()]
    return render_template(template, form=form), 429
