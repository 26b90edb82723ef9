"""Fees in a real browser: a customer whose rental came back late (a fee due) and who has money in the wallet
pays it with "Pay now" on /account/rentals and sees it settled; staff open another customer's fees tab and
waive part of a fee with a reason. axe (serious/critical) on both pages, at phone and desktop sizes.

The seed goes through the services (tests/fee_helpers: a real checkout, then the return a late day count after
the due date), so the fee rows and the wallet are what the shop would have."""
from __future__ import annotations

from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import ADMIN_TOTP, Auth

from .axe import VIEWPORTS, AxeReport
from .conftest import assert_same_document, in_app, mark_document, sign_in_as


@dataclass(frozen=True)
class Seeded:
    payer: str
    payer_id: int
    payer_rental_id: int
    owner_id: int
    owner_rental_id: int


@pytest.fixture
def seeded(app) -> Seeded:
    from tests.fee_helpers import late_return
    from webapp.extensions import db
    from webapp.services.circulation import wallet

    with app.app_context():
        auth = Auth(app, None)
        payer = auth.user("fee_fred")
        paid_late = late_return(payer, days_late=4, title="The Overdue Atlas")  # $2.00, the wallet was empty
        wallet.credit(payer.id, 500, "adjustment", reference="e2e-gift")  # then $5.00 arrived (no settle here)
        owner = auth.user("fee_wendy")
        owed = late_return(owner, days_late=6, title="A Lingering Loan")  # $3.00
        auth.user("boss", role="admin", totp_secret=ADMIN_TOTP)
        db.session.commit()
        result = Seeded(payer.username, payer.id, paid_late.id, owner.id, owed.id)
        db.session.remove()
    return result


def _fee(app, rental_id: int) -> tuple[int, int, int]:
    from webapp.models import Rental

    return in_app(app, lambda db: (lambda r: (r.fee_cents, r.fee_paid_cents, r.fee_waived_cents))(
        db.session.get(Rental, rental_id)))


def _audit_at_both_sizes(page: Page, report: AxeReport, label: str) -> None:
    for name, size in VIEWPORTS.items():
        page.set_viewport_size(size)
        report.audit(page, f"{label} ({name})")
    page.set_viewport_size(VIEWPORTS["desktop"])


def test_customer_pays_a_late_fee_from_the_wallet(e2e_page: Page, seeded: Seeded, app):
    from webapp.services.circulation import wallet

    page, report = e2e_page, AxeReport()
    sign_in_as(page, seeded.payer)
    page.goto("/account/rentals")
    box = page.locator("#fees-due")
    expect(box.get_by_role("heading", name="Fees to pay")).to_be_visible()
    expect(box.locator("[data-testid=fees-total]")).to_have_text("$2.00")
    expect(box.locator("[data-testid=fee-item]", has_text="The Overdue Atlas")).to_contain_text("Late return")
    expect(page.locator("main")).to_contain_text("Please settle your late fees ($2.00)")
    _audit_at_both_sizes(page, report, "/account/rentals with a fee due")

    mark_document(page)
    box.get_by_role("button", name="Pay now from my wallet").click()
    expect(page.locator("[data-testid=fees-notice]")).to_have_text("Paid $2.00 from your wallet. Your fees are settled.")
    assert_same_document(page, "Pay now (htmx)")
    report.audit(page, "/account/rentals after paying")
    assert _fee(app, seeded.payer_rental_id) == (200, 200, 0)
    assert in_app(app, lambda db: wallet.balance(seeded.payer_id)) == 300

    page.reload()
    expect(page.locator("main")).not_to_contain_text("Fees to pay")
    expect(page.locator("main")).not_to_contain_text("Please settle your late fees")
    report.check()


def test_staff_waive_part_of_a_fee_on_the_customer_fees_tab(e2e_page: Page, seeded: Seeded, app):
    page, report = e2e_page, AxeReport()
    sign_in_as(page, "boss", totp_secret=ADMIN_TOTP)
    page.goto(f"/admin/users/{seeded.owner_id}/fees")
    tab = page.locator("#user-fees")
    expect(tab.locator("[data-testid=fees-total]")).to_contain_text("$3.00")
    _audit_at_both_sizes(page, report, "the admin fees tab")

    row = tab.locator("[data-testid=fee-row]", has_text="A Lingering Loan")
    mark_document(page)
    row.get_by_label("Amount (empty: all $3.00)").fill("1.00")
    row.get_by_label("Reason (the customer is told)").fill("The post office lost a week")
    row.get_by_role("button", name="Waive").click()
    expect(tab.locator("[role=status]")).to_contain_text("Waived $1.00 of the fee for “A Lingering Loan”")
    assert_same_document(page, "Waive (htmx)")
    expect(page.locator("#user-fees [data-testid=fees-total]")).to_contain_text("$2.00")
    assert _fee(app, seeded.owner_rental_id) == (300, 0, 100)
    _audit_at_both_sizes(page, report, "the admin fees tab after a waiver")
    report.check()
