"""The account pages: profile, addresses, email change, closing the account; the reader's holds, rentals, plan
and wallet (top-ups and plans paid by card go through the payment page: services.commerce.charges)."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..actions import FAILED, attempt, attempt_flash, confirm_code, resend_code
from ..auth import session as auth_session
from ..authz import owned_or_404
from ..clients import client_ip
from ..extensions import db
from ..htmx import render_page_or_partial
from ..links import charge_done_url, public_url
from ..models import Address, Book, Hold, Rental
from ..services.catalog import back_in_stock
from ..services.circulation import hold_dates, subscriptions
from ..services.circulation import holds as hold_service
from ..services.circulation import rentals as rental_service
from ..services.circulation import wallet as wallet_service
from ..services.closure import deletion
from ..services.commerce import charges, payments
from ..services.people import accounts, registration
from ..services.platform import money
from ..utils import page_number, safe_next
from . import bp
from .forms import (
    AddressForm,
    CodeForm,
    DeleteAccountForm,
    EmailChangeForm,
    HoldForm,
    PlanForm,
    ProfileForm,
    TopUpForm,
)
from .loans import AutoRenewForm


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
    return render_template("account/index.html", form=form, pending_email=registration.pending_email_change(current_user),
                           back_in_stock=back_in_stock.waiting_for(current_user.id))


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


@bp.route("/delete", methods=["GET", "POST"])
def delete():
    form = DeleteAccountForm()
    blockers = deletion.deletion_blockers(current_user)
    if form.validate_on_submit() and attempt(form, lambda: deletion.delete_account(
            current_user, form.password.data, ip=client_ip())) is not FAILED:
        auth_session.sign_out()
        flash("Your account is deleted. Thank you for shopping with us.", "info")
        return redirect(url_for("catalog.home"), 303)
    return render_template("account/delete.html", form=form, blockers=blockers)


@bp.get("/wallet")
def wallet():
    page = request.args.get("page", "1")
    result = wallet_service.statement(current_user.id, page_number(page))
    return render_page_or_partial("account/wallet.html", "account/_wallet_statement.html", result=result,
                                  balance_cents=wallet_service.balance(current_user.id),
                                  describe=wallet_service.describe, top_up_form=TopUpForm(formdata=None))


@bp.get("/rentals")
def rentals():
    active, past = rental_service.for_user(current_user)
    return render_template("account/rentals.html", active=active, past=past, rentals=rental_service,
                           blocked=rental_service.rental_block_reason(current_user),
                           auto_renew_form=AutoRenewForm(formdata=None, auto_renew=current_user.auto_renew_rentals),
                           **rental_service.return_details())


@bp.post("/rentals/<int:rental_id>/renew")
def renew_rental(rental_id: int):
    rental = owned_or_404(db.session.get(Rental, rental_id))
    attempt_flash(lambda: rental_service.renew(rental, current_user), rental_service.RentalError,
                  lambda _: (f"Renewed: “{rental.book.title}” is now due {rental.due_at:%-d %B %Y}."
                             if rental.due_at else "Renewed.", "success"))
    return redirect(url_for("account.rentals"), 303)


# ---- holds ----

@bp.get("/holds")
def holds():
    open_holds, closed = hold_service.for_user(current_user.id)
    plan = subscriptions.tier_of(current_user)
    return render_template("account/holds.html", open_holds=open_holds, closed=closed, plan=plan,
                           in_use=hold_service.books_in_use(current_user.id), dates=hold_dates.limits())


@bp.post("/holds")
def place_hold():
    form = HoldForm()
    book = db.session.get(Book, form.book_id.data) if form.validate() else None
    if book is None or not book.active:
        abort(404)

    def placed(hold: Hold) -> str:
        if hold.status == "ready":
            return f"Good timing: a copy of “{book.title}” is set aside for you."
        return (f"You are number {hold_service.position(hold)} in the queue for “{book.title}”. "
                "We will email you when a copy is set aside for you.")

    attempt_flash(lambda: hold_service.place(current_user, book), hold_service.HoldError, placed)
    return redirect(url_for("catalog.book", book_id=book.id, slug=book.slug), 303)


@bp.post("/holds/<int:hold_id>/cancel")
def cancel_hold(hold_id: int):
    hold = owned_or_404(db.session.get(Hold, hold_id))
    attempt_flash(lambda: hold_service.cancel(hold, current_user), hold_service.HoldError,
                  lambda _: (f"Your hold on “{hold.book.title}” is cancelled.", "info"))
    return redirect(safe_next(url_for("account.holds")), 303)


# ---- subscription ----

@bp.get("/subscription")
def subscription():
    sub = subscriptions.subscription_of(current_user.id)
    return render_template("account/subscription.html", plans=subscriptions.all_tiers(),
                           current=subscriptions.tier_of(current_user), sub=sub,
                           free_until=sub.comped_until if sub is not None and subscriptions.is_comped(sub) else None,
                           quotes={t.name: subscriptions.quote_change(current_user, t.name)
                                   for t in subscriptions.all_tiers()},
                           balance_cents=wallet_service.balance(current_user.id), form=PlanForm(formdata=None))


@bp.post("/subscription")
def change_subscription():
    form = PlanForm()
    if not form.validate():
        flash("Please choose a plan.", "error")
        return redirect(url_for("account.subscription"), 303)
    q = subscriptions.quote_change(current_user, form.tier.data)
    if q.charge_cents and form.pay_with.data == "card":
        return _start_charge("subscription", q.charge_cents, "account.subscription", tier=q.tier.name)
    attempt_flash(lambda: subscriptions.change(current_user, form.tier.data, ip=client_ip()),
                  (subscriptions.SubscriptionError, wallet_service.InsufficientFunds), _plan_changed,
                  explain=_why_not)
    return redirect(url_for("account.subscription"), 303)


def _plan_changed(q: subscriptions.ChangeQuote) -> str:
    """The flash after a plan change, in the words of the kind of change."""
    messages = {
        "subscribe": lambda: f"Welcome to {q.tier.label}! {money.money(q.charge_cents)} was taken from your wallet.",
        "upgrade": lambda: f"You are on {q.tier.label} now. {money.money(q.charge_cents)} was taken from your wallet.",
        "downgrade": lambda: f"Your plan becomes {q.tier.label} on {q.effective:%-d %B %Y}.",
        "cancel": lambda: f"Your plan ends on {q.effective:%-d %B %Y}; you keep its benefits until then.",
        "resume": lambda: "Your plan will renew as before.",
    }
    return messages[q.kind]()


def _why_not(exc: Exception) -> str:
    return f"{exc} Pay by card or top up your wallet." if isinstance(exc, wallet_service.InsufficientFunds) else str(exc)


# ---- wallet top-up and gateway payments ----

@bp.post("/wallet/top-up")
def top_up():
    form = TopUpForm()
    if not form.validate() or form.amount.data is None:
        flash("; ".join(form.amount.errors) or "Enter an amount.", "error")
        return redirect(url_for("account.wallet"), 303)
    cents = money.from_decimal(form.amount.data)
    return _start_charge("top_up", cents, "account.wallet")


def _start_charge(kind: str, cents: int, back_endpoint: str, **details):
    """Open a payment page for a top-up or a plan; on failure say why and go back where we came from."""
    started = attempt_flash(lambda: charges.start(current_user, kind, cents,
                                                  success_url=lambda c: charge_done_url(c.reference),
                                                  cancel_url=lambda c: public_url(back_endpoint), **details),
                            (charges.ChargeError, payments.PaymentError), None)
    if started is FAILED:
        return redirect(url_for(back_endpoint), 303)
    _, url = started
    return redirect(url, 303)


@bp.get("/payments/<reference>")
def charge_done(reference: str):
    """Where the payment page returns to: confirm with the provider (the webhook may not have arrived yet)."""
    charge = owned_or_404(charges.by_reference(current_user.id, reference))
    try:  # the provider may not know yet: the webhook or the reconciler settles it, the page says so
        charges.confirm_from_provider(charge)
        db.session.commit()
    except payments.PaymentError:
        db.session.rollback()
    db.session.refresh(charge)
    return render_template("account/charge_done.html", charge=charge)
