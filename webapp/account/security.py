"""The account's security pages: password, signed-in devices and API tokens (services.people.sessions: an API
token family is a session of kind "api", services.people.api_tokens) and two-factor sign-in."""
from __future__ import annotations

from flask import flash, redirect, render_template, session, url_for
from flask_login import current_user

from ..actions import FAILED, attempt, attempt_flash
from ..auth import session as auth_session
from ..clients import client_ip
from ..extensions import db
from ..services.people import accounts, api_tokens, sessions, twofactor
from ..services.people.accounts import AccountError
from ..services.platform import crypto
from . import bp
from .forms import PasswordChangeForm, PasswordConfirmForm, TwoFactorSetupForm

SETUP_KEY = "totp_setup_secret"  # the secret being set up, encrypted, until its first code is confirmed


@bp.route("/password", methods=["GET", "POST"])
def change_password():
    form = PasswordChangeForm()
    if form.validate_on_submit() and attempt(form, lambda: accounts.change_password(
            current_user, form.current_password.data, form.password.data, ip=client_ip())) is not FAILED:
        auth_session.refresh_login(current_user)
        flash("Your password is changed. Every other session has been signed out.", "success")
        return redirect(url_for("account.security"), 303)
    return render_template("account/password.html", form=form)


@bp.get("/security")
def security():
    return _security_page()


def _security_page(fresh_codes: list[str] | None = None) -> str:
    """The security page; freshly made recovery codes are shown in this one response only."""
    return render_template("account/security.html", logins=accounts.recent_logins(current_user),
                           recovery_left=twofactor.remaining_recovery_codes(current_user) if current_user.has_2fa else 0,
                           disable_form=PasswordConfirmForm(), fresh_codes=fresh_codes,
                           devices=sessions.active(current_user.id), device=sessions.device,
                           is_current=lambda s: sessions.is_current(s, auth_session.current_token()))


@bp.post("/security/sign-out-others")
def sign_out_others():
    ended = accounts.end_sessions(current_user, keep_token=auth_session.current_token(),
                                        reason="signed_out_elsewhere")
    db.session.commit()
    flash(f"Signed out {ended} other device{'s' if ended != 1 else ''} and API token{'s' if ended != 1 else ''}."
          if ended else "You were not signed in anywhere else.", "success")
    return redirect(url_for("account.security"), 303)


@bp.post("/security/sign-out-everywhere")
def sign_out_everywhere():
    accounts.end_sessions(current_user, reason="signed_out_everywhere")
    db.session.commit()
    auth_session.sign_out()
    flash("You are signed out on every device, this one included, and every API token is revoked.", "info")
    return redirect(url_for("auth.login"), 303)


@bp.post("/security/sessions/<int:session_id>/end")
def end_session(session_id: int):
    """End one browser session or revoke one API token (its whole family: access and refresh tokens)."""
    row = sessions.find_by_id(session_id, current_user.id)
    is_token = row is not None and row.kind == "api"
    if not sessions.end(current_user.id, session_id=session_id, reason="signed_out_from_another_device"):
        flash("That device was already signed out.", "info")
        return redirect(url_for("account.security"), 303)
    db.session.commit()
    token = auth_session.current_token()
    if token and sessions.find(current_user.id, token) is None:
        auth_session.sign_out()  # that was this device
        flash("You are signed out.", "info")
        return redirect(url_for("auth.login"), 303)
    flash("That API token is revoked." if is_token else "That device is signed out.", "success")
    return redirect(url_for("account.security"), 303)


@bp.post("/security/revoke-api-tokens")
def revoke_api_tokens():
    """Revoke every API token of the account (folio-cli, scripts); the browsers stay signed in."""
    ended = api_tokens.revoke_all(current_user.id, reason="revoked_by_user")
    db.session.commit()
    flash(f"Revoked {ended} API token{'s' if ended != 1 else ''}." if ended else "You had no API tokens.",
          "success")
    return redirect(url_for("account.security"), 303)


@bp.route("/2fa/setup", methods=["GET", "POST"])
def setup_2fa():
    if current_user.has_2fa:
        return redirect(url_for("account.security"))
    # The secret waits in the session until confirmed, encrypted (the session cookie is only signed).
    try:
        secret = crypto.decrypt(session[SETUP_KEY]) if session.get(SETUP_KEY) else None
    except ValueError:  # begun under a data key removed since (services.platform.keys): start again
        secret = None
    if not secret:
        secret = twofactor.new_secret()
        session[SETUP_KEY] = crypto.encrypt(secret)
    form = TwoFactorSetupForm()
    if form.validate_on_submit():
        codes = attempt(form, lambda: twofactor.enable(current_user, secret, form.code.data,
                                                       ip=client_ip()))
        if codes is not FAILED:
            session.pop(SETUP_KEY, None)
            flash("Two-factor authentication is on. Save your recovery codes now: they are shown only once.",
                  "success")
            return _security_page(codes)
    uri = twofactor.provisioning_uri(current_user, secret)
    return render_template("account/2fa_setup.html", form=form, secret=secret, qr_svg=twofactor.qr_svg(uri))


@bp.post("/2fa/recovery-codes")
def regenerate_codes():
    form = PasswordConfirmForm()
    if not current_user.has_2fa:
        return redirect(url_for("account.setup_2fa"))

    def make_codes() -> list[str]:
        if not form.validate_on_submit():
            raise AccountError("Enter your password to make new recovery codes.")
        return twofactor.new_recovery_codes(current_user, form.password.data, ip=client_ip())

    codes = attempt_flash(make_codes, AccountError, "New recovery codes are ready; the old ones no longer work.")
    if codes is not FAILED:
        return _security_page(codes)
    return redirect(url_for("account.security"), 303)


@bp.post("/2fa/disable")
def disable_2fa():
    form = PasswordConfirmForm()
    if form.validate_on_submit():
        attempt_flash(lambda: twofactor.disable(current_user, form.password.data, ip=client_ip()), AccountError,
                      "Two-factor authentication is off.", "info")
    else:
        flash("Enter your password to turn two-factor authentication off.", "error")
    return redirect(url_for("account.security"), 303)
