from __future__ import annotations

from flask import abort, flash, redirect, render_template, session, url_for
from flask_login import current_user, login_required

from ..auth import session as auth_session
from ..authz import owned_or_404
from ..extensions import db
from ..links import public_url
from ..models import Address
from ..services import accounts, crypto, payments, registration, twofactor
from ..services.accounts import AccountError
from ..utils import FAILED, attempt, attempt_flash, confirm_code, page_number, resend_code, safe_next
from . import bp
from .forms import (
    AddressForm,
    CodeForm,
    DeleteAccountForm,
    EmailChangeForm,
    HoldForm,
    PasswordChangeForm,
    PasswordConfirmForm,
    PlanForm,
    ProfileForm,
    TopUpForm,
    TwoFactorSetupForm,
)

SETUP_KEY = "totp_setup_secret"


@bp.before_request
@login_required
def _signed_in():
    """Every /account page needs a signed-in user."""


@bp.route("", methods=["GET", "POST"])
def index():
    form = ProfileForm(obj=current_user)
    if form.validate_on_submit() and attempt(
            form, lambda: accounts.update_profile(current_user, form.full_name.data)) is not FAILED:
        flash("Your details are saved.", "success")
        return redirect(url_for("account.index"), 303)
    return render_template("account/index.html", form=form, pending_email=registration.pending_email_change(current_user))


@bp.get("/addresses")
def addresses():
    return render_template("account/addresses.html", addresses=current_user.addresses)


@bp.route("/addresses/new", methods=["GET", "POST"])
@bp.route("/addresses/<int:address_id>/edit", methods=["GET", "POST"])
def edit_address(address_id: int | None = None):
    address = owned_or_404(db.session.get(Address, address_id)) if address_id else None
    form = AddressForm(obj=address)
    if form.validate_on_submit():
        accounts.save_address(current_user, form.data, address)
        db.session.commit()
        flash("Address saved.", "success")
        return redirect(url_for("account.addresses"), 303)
    return render_template("account/address_form.html", form=form, address=address)


@bp.post("/addresses/<int:address_id>/delete")
def delete_address(address_id: int):
    address = owned_or_404(db.session.get(Address, address_id))
    accounts.delete_address(current_user, address)
    db.session.commit()
    flash("Address removed.", "info")
    return redirect(url_for("account.addresses"), 303)


@bp.route("/email", methods=["GET", "POST"])
def change_email():
    form = EmailChangeForm()
    if form.validate_on_submit() and attempt(form, lambda: registration.request_email_change(
            current_user, form.email.data, form.password.data)) is not FAILED:
        flash("We sent a code to your new address. Enter it to finish the change.", "info")
        return redirect(url_for("account.confirm_email"), 303)
    return render_template("account/email.html", form=form)


@bp.route("/email/confirm", methods=["GET", "POST"])
def confirm_email():
    pending = registration.pending_email_change(current_user)
    if pending is None:
        flash("There is no email change waiting.", "info")
        return redirect(url_for("account.index"))
    form = CodeForm()
    if form.validate_on_submit() and confirm_code(form, current_user, "change_email"):
        flash("Your email address is changed.", "success")
        return redirect(url_for("account.index"), 303)
    return render_template("account/email_confirm.html", form=form, new_email=pending.new_email)


@bp.post("/email/resend")
def resend_email_code():
    pending = registration.pending_email_change(current_user)
    if pending is None:
        return redirect(url_for("account.change_email"))
    resend_code(current_user, "change_email", new_email=pending.new_email)
    return redirect(url_for("account.confirm_email"), 303)


@bp.route("/password", methods=["GET", "POST"])
def change_password():
    form = PasswordChangeForm()
    if form.validate_on_submit() and attempt(form, lambda: accounts.change_password(
            current_user, form.current_password.data, form.password.data, ip=auth_session.client_ip())) is not FAILED:
        auth_session.refresh_login(current_user)
        flash("Your password is changed. Every other session has been signed out.", "success")
        return redirect(url_for("account.security"), 303)
    return render_template("account/password.html", form=form)


@bp.get("/security")
def security():
    return _security_page()


def _security_page(fresh_codes: list[str] | None = None):
    """The security page; freshly made recovery codes are shown in this one response only."""
    from ..services import sessions

    return render_template("account/security.html", logins=accounts.recent_logins(current_user),
                           recovery_left=twofactor.remaining_recovery_codes(current_user) if current_user.has_2fa else 0,
                           disable_form=PasswordConfirmForm(), fresh_codes=fresh_codes,
                           devices=sessions.active(current_user.id), device=sessions.device,
                           is_current=lambda s: sessions.is_current(s, auth_session.current_token()))


@bp.post("/security/sign-out-others")
def sign_out_others():
    ended = accounts.end_other_sessions(current_user, keep_token=auth_session.current_token(),
                                        reason="signed_out_elsewhere")
    db.session.commit()
    flash(f"Signed out on {ended} other device{'s' if ended != 1 else ''}." if ended else
          "You were not signed in anywhere else.", "success")
    return redirect(url_for("account.security"), 303)


@bp.post("/security/sign-out-everywhere")
def sign_out_everywhere():
    accounts.end_other_sessions(current_user, reason="signed_out_everywhere")
    db.session.commit()
    auth_session.sign_out()
    flash("You are signed out on every device, this one included.", "info")
    return redirect(url_for("auth.login"), 303)


@bp.post("/security/sessions/<int:session_id>/end")
def end_session(session_id: int):
    from ..services import sessions

    if not sessions.end(current_user.id, session_id=session_id, reason="signed_out_from_another_device"):
        flash("That device was already signed out.", "info")
        return redirect(url_for("account.security"), 303)
    db.session.commit()
    if auth_session.current_token() and sessions.find(current_user.id, auth_session.current_token()) is None:
        auth_session.sign_out()  # that was this device
        flash("You are signed out.", "info")
        return redirect(url_for("auth.login"), 303)
    flash("That device is signed out.", "success")
    return redirect(url_for("account.security"), 303)


@bp.route("/2fa/setup", methods=["GET", "POST"])
def setup_2fa():
    if current_user.has_2fa:
        return redirect(url_for("account.security"))
    # The secret waits in the session until confirmed, encrypted (the session cookie is only signed).
    try:
        secret = crypto.decrypt(session[SETUP_KEY]) if session.get(SETUP_KEY) else None
    except ValueError:  # begun under a data key removed since (services.keys): start again
        secret = None
    if not secret:
        secret = twofactor.new_secret()
        session[SETUP_KEY] = crypto.encrypt(secret)
    form = TwoFactorSetupForm()
    if form.validate_on_submit():
        codes = attempt(form, lambda: twofactor.enable(current_user, secret, form.code.data,
                                                       ip=auth_session.client_ip()))
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
    try:
        if not form.validate_on_submit():
            raise AccountError("Enter your password to make new recovery codes.")
        codes = twofactor.new_recovery_codes(current_user, form.password.data, ip=auth_session.client_ip())
    except AccountError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()
        flash("New recovery codes are ready; the old ones no longer work.", "success")
        return _security_page(codes)
    return redirect(url_for("account.security"), 303)


@bp.post("/2fa/disable")
def disable_2fa():
    form = PasswordConfirmForm()
    if form.validate_on_submit():
        try:
            twofactor.disable(current_user, form.password.data, ip=auth_session.client_ip())
        except AccountError as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            db.session.commit()
            flash("Two-factor authentication is off.", "info")
    else:
        flash("Enter your password to turn two-factor authentication off.", "error")
    return redirect(url_for("account.security"), 303)


@bp.route("/delete", methods=["GET", "POST"])
def delete():
    form = DeleteAccountForm()
    blockers = accounts.deletion_blockers(current_user)
    if form.validate_on_submit() and attempt(form, lambda: accounts.delete_account(
            current_user, form.password.data, ip=auth_session.client_ip())) is not FAILED:
        auth_session.sign_out()
        flash("Your account is deleted. Thank you for shopping with us.", "info")
        return redirect(url_for("catalog.home"), 303)
    return render_template("account/delete.html", form=form, blockers=blockers)


@bp.get("/wallet")
def wallet():
    from flask import request

    from ..htmx import render_page_or_partial
    from ..services import wallet as wallet_service

    page = request.args.get("page", "1")
    result = wallet_service.statement(current_user.id, page_number(page))
    return render_page_or_partial("account/wallet.html", "account/_wallet_statement.html", result=result,
                                  balance_cents=wallet_service.balance(current_user.id),
                                  describe=wallet_service.describe, top_up_form=TopUpForm(formdata=None))


@bp.get("/rentals")
def rentals():
    from ..services import rentals as rental_service

    active, past = rental_service.for_user(current_user)
    return render_template("account/rentals.html", active=active, past=past, rentals=rental_service,
                           blocked=rental_service.rental_block_reason(current_user))


@bp.post("/rentals/<int:rental_id>/renew")
def renew_rental(rental_id: int):
    from ..models import Rental
    from ..services import rentals as rental_service

    rental = owned_or_404(db.session.get(Rental, rental_id))
    attempt_flash(lambda: rental_service.renew(rental, current_user), rental_service.RentalError,
                  lambda _: (f"Renewed: “{rental.book.title}” is now due {rental.due_at:%-d %B %Y}.", "success"))
    return redirect(url_for("account.rentals"), 303)


# ---- holds ----

@bp.get("/holds")
def holds():
    from ..services import holds as hold_service
    from ..services import subscriptions

    open_holds, closed = hold_service.for_user(current_user.id)
    plan = subscriptions.tier_of(current_user)
    return render_template("account/holds.html", open_holds=open_holds, closed=closed, plan=plan,
                           in_use=hold_service.books_in_use(current_user.id))


@bp.post("/holds")
def place_hold():
    from ..models import Book
    from ..services import holds as hold_service

    form = HoldForm()
    book = db.session.get(Book, form.book_id.data) if form.validate() else None
    if book is None or not book.active:
        abort(404)

    def placed(hold):
        if hold.status == "ready":
            return f"Good timing: a copy of “{book.title}” is set aside for you.", "success"
        return (f"You are number {hold_service.position(hold)} in the queue for “{book.title}”. "
                "We will email you when a copy is set aside for you.", "success")

    attempt_flash(lambda: hold_service.place(current_user, book), hold_service.HoldError, placed)
    return redirect(url_for("catalog.book", book_id=book.id, slug=book.slug), 303)


@bp.post("/holds/<int:hold_id>/cancel")
def cancel_hold(hold_id: int):
    from ..models import Hold
    from ..services import holds as hold_service

    hold = owned_or_404(db.session.get(Hold, hold_id))
    attempt_flash(lambda: hold_service.cancel(hold, current_user), hold_service.HoldError,
                  lambda _: (f"Your hold on “{hold.book.title}” is cancelled.", "info"))
    return redirect(safe_next(url_for("account.holds")), 303)


# ---- subscription ----

@bp.get("/subscription")
def subscription():
    from ..services import subscriptions
    from ..services import wallet as wallet_service

    return render_template("account/subscription.html", plans=subscriptions.all_tiers(),
                           current=subscriptions.tier_of(current_user),
                           sub=subscriptions.subscription_of(current_user.id),
                           quotes={t.name: subscriptions.quote_change(current_user, t.name)
                                   for t in subscriptions.all_tiers()},
                           balance_cents=wallet_service.balance(current_user.id), form=PlanForm(formdata=None))


@bp.post("/subscription")
def change_subscription():
    from ..services import subscriptions
    from ..services import wallet as wallet_service
    from ..services.money import money

    form = PlanForm()
    if not form.validate():
        flash("Please choose a plan.", "error")
        return redirect(url_for("account.subscription"), 303)
    q = subscriptions.quote_change(current_user, form.tier.data)
    if q.charge_cents and form.pay_with.data == "card":
        return _start_charge("subscription", q.charge_cents, "account.subscription", tier=q.tier.name)
    try:
        q = subscriptions.change(current_user, form.tier.data, ip=auth_session.client_ip())
    except (subscriptions.SubscriptionError, wallet_service.InsufficientFunds) as exc:
        db.session.rollback()
        flash(f"{exc} Pay by card or top up your wallet." if isinstance(exc, wallet_service.InsufficientFunds)
              else str(exc), "error")
        return redirect(url_for("account.subscription"), 303)
    db.session.commit()
    messages = {
        "subscribe": lambda: f"Welcome to {q.tier.label}! {money(q.charge_cents)} was taken from your wallet.",
        "upgrade": lambda: f"You are on {q.tier.label} now. {money(q.charge_cents)} was taken from your wallet.",
        "downgrade": lambda: f"Your plan becomes {q.tier.label} on {q.effective:%-d %B %Y}.",
        "cancel": lambda: f"Your plan ends on {q.effective:%-d %B %Y}; you keep its benefits until then.",
        "resume": lambda: "Your plan will renew as before.",
    }
    flash(messages[q.kind](), "success")
    return redirect(url_for("account.subscription"), 303)


# ---- wallet top-up and gateway payments ----

@bp.post("/wallet/top-up")
def top_up():

    form = TopUpForm()
    if not form.validate():
        flash("; ".join(form.amount.errors) or "Enter an amount.", "error")
        return redirect(url_for("account.wallet"), 303)
    cents = int((form.amount.data * 100).to_integral_value())
    return _start_charge("top_up", cents, "account.wallet")


def _start_charge(kind: str, cents: int, back_endpoint: str, **details):
    """Open a payment page for a top-up or a plan; on failure say why and go back where we came from."""
    from ..services import charges

    try:
        _, url = charges.start(current_user, kind, cents, success_url=_charge_done_url,
                               cancel_url=lambda c: public_url(back_endpoint), **details)
    except (charges.ChargeError, payments.PaymentError) as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for(back_endpoint), 303)
    db.session.commit()
    return redirect(url, 303)


def _charge_done_url(charge) -> str:
    return public_url("account.charge_done", reference=charge.reference)


@bp.get("/payments/<reference>")
def charge_done(reference: str):
    """Where the payment page returns to: confirm with the provider (the webhook may not have arrived yet)."""
    from ..services import charges

    charge = owned_or_404(charges.by_reference(current_user.id, reference))
    try:
        charges.confirm_from_provider(charge)
        db.session.commit()
    except payments.PaymentError:
        db.session.rollback()
    db.session.refresh(charge)
    return render_template("account/charge_done.html", charge=charge)
