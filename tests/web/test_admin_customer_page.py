"""The customer page for staff (/admin/users/<id> and its tabs): every tab as a full page and as an htmx partial
(with the tab list out of band), staff only, bounded queries; the wallet, comp and cancel forms through the test
client: real outcomes, bad input never a 500, a form sent twice applied once."""
from __future__ import annotations

import itertools
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.checkout_helpers import shopper
from tests.fee_helpers import late_return, rental_out
from webapp.models import AuditLog, Hold, Order, OutboundEmail, Subscription, User, WalletEntry, utcnow
from webapp.services.circulation import fees, wallet

TABS = {"": "Profile", "/orders": "Orders", "/rentals": "Rentals", "/holds": "Holds", "/wallet": "Wallet",
        "/plan": "Plan", "/fees": "Fees", "/sessions": "Sessions"}
_numbers = itertools.count(1)


def add_orders(db, user, n):
    for _ in range(n):
        i = next(_numbers)
        db.session.add(Order(number=f"FT{i:08d}", user_id=user.id, email=user.email, ship_name="R", ship_line1="1 St",
                             ship_city="Town", ship_postcode="1", ship_country="US", subtotal_cents=1000 + i,
                             total_cents=1000 + i, payment_provider="test", status="paid",
                             created_at=utcnow() - timedelta(minutes=i)))
    db.session.commit()


def add_holds(db, make_book, user, n):
    for i in range(n):
        book = make_book(f"Held {next(_numbers)}", on_hand=0)
        status = "waiting" if i % 2 == 0 else "cancelled"
        db.session.add(Hold(user_id=user.id, book_id=book.id, priority=2, status=status,
                            closed_at=None if status == "waiting" else utcnow()))
    db.session.commit()


def add_wallet(db, user, n):
    for _ in range(n):
        wallet.credit(user.id, 100, "top_up", reference=f"t{next(_numbers)}")
    db.session.commit()


@pytest.fixture
def reader(app, db, make_book):
    user = shopper("reader")
    now = utcnow()
    db.session.add(Subscription(user_id=user.id, tier="plus", current_period_start=now,
                                current_period_end=now + timedelta(days=30)))
    db.session.commit()
    add_orders(db, user, 2)
    rental_out(user, title="Out Now Book")
    late_return(user, days_late=2, title="Came Back Late")
    add_holds(db, make_book, user, 2)
    add_wallet(db, user, 2)
    return user


def url(user, tab=""):
    return f"/admin/users/{user.id}{tab}"


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html).group(1)


def field(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" type="hidden" value="([^"]*)"', html) or \
        re.search(rf'id="{name}" name="{name}" type="hidden" value="([^"]*)"', html)
    return found.group(1)


def current_tab(html: str) -> list[str]:
    return re.findall(r'data-testid="customer-tab"\s+aria-current="page">([^<]+)<', html)


@pytest.mark.parametrize("tab", list(TABS))
def test_each_tab_is_a_full_page_and_an_htmx_partial(admin_client, reader, tab):
    page = admin_client.get(url(reader, tab))
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<html" in html and 'id="customer-panel"' in html
    assert current_tab(html) == [TABS[tab]]  # the open tab is marked, and only it
    assert "HX-Request" in page.headers.get("Vary", "")
    partial = admin_client.get(url(reader, tab), headers={"HX-Request": "true"})
    body = partial.get_data(as_text=True)
    assert partial.status_code == 200 and "<html" not in body and 'id="customer-panel"' not in body
    assert 'id="customer-tabs"' in body and 'hx-swap-oob="true"' in body and current_tab(body) == [TABS[tab]]
    for other in TABS:  # every tab link carries a real URL, hx-get and hx-push-url
        assert f'href="{url(reader, other)}" hx-get="{url(reader, other)}" hx-target="#customer-panel" ' \
               f'hx-push-url="true"' in body


def test_tabs_show_the_customers_records(admin_client, reader, db):
    orders = admin_client.get(url(reader, "/orders")).get_data(as_text=True)
    numbers = re.findall(r'href="/admin/orders/([A-Z0-9-]+)"', orders)
    mine = set(db.session.scalars(select(Order.number).where(Order.user_id == reader.id)))
    assert set(numbers) == mine and len(mine) >= 3  # two made by hand, and the rentals' order(s)
    rentals = admin_client.get(url(reader, "/rentals")).get_data(as_text=True)
    out, returned = rentals.split('id="rentals-returned-heading"')
    assert "Out Now Book" in out and "with the customer" in out and "Came Back Late" in returned
    assert "$1.00" in returned and "due)" in returned  # 2 days x 50 cents, unpaid
    holds_html = admin_client.get(url(reader, "/holds")).get_data(as_text=True)
    assert "number 1 in the queue" in holds_html and "cancelled" in holds_html
    assert 'href="/admin/holds/books/' in holds_html  # each open hold links to its book's queue (staff actions)
    wallet_html = admin_client.get(url(reader, "/wallet")).get_data(as_text=True)
    assert wallet_html.count('data-testid="wallet-entry"') == db.session.scalar(
        select(func.count()).select_from(WalletEntry).where(WalletEntry.user_id == reader.id))
    plan = admin_client.get(url(reader, "/plan")).get_data(as_text=True)
    assert 'data-testid="plan-tier">Plus' in plan and "renews as Plus" in plan
    fees_html = admin_client.get(url(reader, "/fees")).get_data(as_text=True)
    assert "Came Back Late" in fees_html and 'data-testid="fee-row"' in fees_html


def test_orders_and_wallet_tabs_are_paged(admin_client, app, db):
    user = shopper("busy")
    add_orders(db, user, 30)
    add_wallet(db, user, 30)
    first = admin_client.get(url(user, "/orders")).get_data(as_text=True)
    second = admin_client.get(url(user, "/orders?page=2"), headers={"HX-Request": "true"}).get_data(as_text=True)
    a, b = (set(re.findall(r'/admin/orders/(FT\d+)"', p)) for p in (first, second))
    assert len(a) == 25 and len(b) == 5 and not a & b
    assert max(a) < min(b)  # newest first: the lower numbers are the newer orders (add_orders)
    assert 'hx-target="#customer-panel"' in first and "Page 1 of 2" in first
    wallet2 = admin_client.get(url(user, "/wallet?page=2")).get_data(as_text=True)
    assert wallet2.count('data-testid="wallet-entry"') == 5
    assert admin_client.get(url(user, "/orders?page=abc")).status_code == 200
    assert admin_client.get(url(user, "/wallet?page=-3")).status_code == 200


@pytest.mark.parametrize("tab", list(TABS))
def test_tabs_are_staff_only(app, auth, reader, tab):
    auth.user("nosy")
    customer = app.test_client()
    auth.login("nosy", client=customer)
    assert customer.get(url(reader, tab)).status_code == 403
    assert app.test_client().get(url(reader, tab)).status_code == 302  # to sign in


def test_unknown_customer_is_404(admin_client, auth):
    for tab in TABS:
        assert admin_client.get(f"/admin/users/999999{tab}").status_code == 404
    for action in ("/wallet", "/plan/comp", "/plan/cancel"):
        assert auth.post(f"/admin/users/999999{action}", client=admin_client).status_code == 404


def test_actions_need_staff_and_a_csrf_token(app, auth, admin_client, reader, db):
    auth.user("nosy")
    customer = app.test_client()
    auth.login("nosy", client=customer)
    for action, data in (("/wallet", {"kind": "credit", "amount": "5", "reason": "x", "reference": "a" * 32}),
                         ("/plan/comp", {"tier": "premium", "periods": "1"}), ("/plan/cancel", {"when": "now"})):
        assert auth.post(url(reader, action), data, client=customer).status_code == 403
        assert admin_client.post(url(reader, action), data=data).status_code == 400  # no CSRF token
    db.session.expire_all()
    assert wallet.balance(reader.id) == 200 and db.session.get(Subscription, reader.id).tier == "plus"


def _wallet_form(admin_client, user):
    html = admin_client.get(url(user, "/wallet")).get_data(as_text=True)
    return {"csrf_token": csrf_of(html), "reference": field(html, "reference")}


def test_wallet_credit_then_the_same_form_again_applies_once(admin_client, reader, db):
    form = {**_wallet_form(admin_client, reader), "kind": "credit", "amount": "12.50", "reason": "Parcel lost"}
    first = admin_client.post(url(reader, "/wallet"), data=form)
    assert first.status_code == 303 and first.headers["Location"].endswith(url(reader, "/wallet"))
    page = admin_client.get(first.headers["Location"]).get_data(as_text=True)
    # the reader owed a $1.00 late fee: money arriving pays it first
    assert "Credited $12.50 ($1.00 of it paid fees due); the balance is now $13.50" in page and "Parcel lost" in page
    again = admin_client.post(url(reader, "/wallet"), data=form)
    assert again.status_code == 303
    assert "already applied" in admin_client.get(again.headers["Location"]).get_data(as_text=True)
    assert wallet.balance(reader.id) == 1350
    assert db.session.scalar(select(func.count()).select_from(AuditLog)
                             .where(AuditLog.action == "admin.wallet_credit")) == 1
    mail = db.session.scalars(select(OutboundEmail).where(OutboundEmail.recipient == reader.email)
                              .order_by(OutboundEmail.id.desc())).first()
    assert mail.subject == "$12.50 added to your Folio wallet" and "Parcel lost" in mail.body_text


def test_wallet_debit_beyond_the_balance_says_so(admin_client, reader):
    form = {**_wallet_form(admin_client, reader), "kind": "debit", "amount": "2.01", "reason": "Correction"}
    response = admin_client.post(url(reader, "/wallet"), data=form)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "would take it below zero" in html and "<html" in html
    assert wallet.balance(reader.id) == 200
    form["amount"] = "2.00"
    assert admin_client.post(url(reader, "/wallet"), data=form).status_code == 303
    assert wallet.balance(reader.id) == 0


@pytest.mark.parametrize("changes", [
    {"amount": "abc"}, {"amount": "-5"}, {"amount": "0"}, {"amount": "1e9"}, {"amount": "10000000000000000000"},
    {"amount": "1000.01"}, {"amount": "1.234"}, {"amount": ""}, {"reason": ""}, {"reason": "   "},
    {"reason": "x" * 5000}, {"kind": "refund"}, {"kind": ""}, {"reference": "nope"}, {"reference": ""},
    {"amount": "\x00"}, {"reason": "\x00"}])
def test_wallet_bad_input_is_refused_without_a_500(admin_client, reader, db, changes):
    form = {**_wallet_form(admin_client, reader), "kind": "credit", "amount": "5", "reason": "ok", **changes}
    response = admin_client.post(url(reader, "/wallet"), data=form)
    assert response.status_code in (200, 400)
    if changes.get("reference") == "":  # a lost reference: the form comes back with a fresh one to resubmit
        assert response.status_code == 200
    assert wallet.balance(reader.id) == 200
    assert db.session.scalar(select(func.count()).select_from(AuditLog)
                             .where(AuditLog.action.like("admin.wallet_%"))) == 0


def _plan_form(admin_client, user, form_id):
    html = admin_client.get(url(user, "/plan")).get_data(as_text=True)
    return {"csrf_token": csrf_of(html), "stamp": re.findall(r'name="stamp" type="hidden" value="([^"]*)"', html)[0]}


def test_comp_through_the_form_and_the_same_form_again(admin_client, reader, db):
    form = {**_plan_form(admin_client, reader, "comp"), "tier": "premium", "periods": "3"}
    first = admin_client.post(url(reader, "/plan/comp"), data=form)
    assert first.status_code == 303 and first.headers["Location"].endswith(url(reader, "/plan"))
    page = admin_client.get(first.headers["Location"]).get_data(as_text=True)
    assert "has Premium free until" in page and 'data-testid="plan-comped-until"' in page
    assert 'data-testid="plan-next">Plus' in page
    again = admin_client.post(url(reader, "/plan/comp"), data=form)
    assert "changed since this page was shown" in admin_client.get(again.headers["Location"]).get_data(as_text=True)
    db.session.expire_all()
    sub = db.session.get(Subscription, reader.id)
    assert sub.tier == "premium" and sub.comped_until is not None and sub.next_tier == "plus"
    assert db.session.scalar(select(func.count()).select_from(AuditLog)
                             .where(AuditLog.action == "admin.plan_comped")) == 1
    assert wallet.balance(reader.id) > 200  # the unused Plus period came back


@pytest.mark.parametrize("changes", [{"tier": "gold"}, {"tier": "free"}, {"tier": ""}, {"periods": "0"},
                                     {"periods": "13"}, {"periods": "abc"}, {"periods": ""}, {"periods": "1" * 40},
                                     {"stamp": "stale"}])
def test_comp_bad_input_is_refused_without_a_500(admin_client, reader, db, changes):
    form = {**_plan_form(admin_client, reader, "comp"), "tier": "premium", "periods": "2", **changes}
    response = admin_client.post(url(reader, "/plan/comp"), data=form)
    assert response.status_code in (200, 303)
    db.session.expire_all()
    assert db.session.get(Subscription, reader.id).tier == "plus"


@pytest.mark.parametrize(("when", "tier", "next_tier"), [("period_end", "plus", "free"), ("now", "free", None)])
def test_cancel_through_the_form(admin_client, reader, db, when, tier, next_tier):
    form = {**_plan_form(admin_client, reader, "cancel"), "when": when}
    response = admin_client.post(url(reader, "/plan/cancel"), data=form)
    assert response.status_code == 303
    assert "was emailed" in admin_client.get(response.headers["Location"]).get_data(as_text=True)
    db.session.expire_all()
    sub = db.session.get(Subscription, reader.id)
    assert (sub.tier, sub.next_tier) == (tier, next_tier)
    again = admin_client.post(url(reader, "/plan/cancel"), data=form)
    assert again.status_code == 303
    assert db.session.scalar(select(func.count()).select_from(AuditLog)
                             .where(AuditLog.action == "admin.plan_cancelled")) == 1
    refunds = db.session.scalar(select(func.count()).select_from(WalletEntry)
                                .where(WalletEntry.reason == "subscription", WalletEntry.amount_cents > 0))
    assert refunds == (1 if when == "now" else 0)
    bad = admin_client.post(url(reader, "/plan/cancel"), data={**form, "when": "someday"})
    assert bad.status_code in (200, 303)


def test_the_page_and_each_tab_cost_the_same_queries_however_much_there_is(admin_client, reader, db, make_book,
                                                                        count_queries):
    def measure() -> dict[str, int]:
        counts = {}
        for tab in TABS:
            for htmx in (False, True):
                with count_queries() as statements:
                    response = admin_client.get(url(reader, tab), headers={"HX-Request": "true"} if htmx else {})
                assert response.status_code == 200
                counts[f"{tab or '/'} {'partial' if htmx else 'page'}"] = len(statements)
        return counts

    before = measure()
    db.session.get(Subscription, reader.id).tier = "premium"  # room for the rentals below
    db.session.commit()
    add_orders(db, reader, 5)
    add_holds(db, make_book, reader, 6)
    add_wallet(db, reader, 5)
    fees.settle(reader.id)  # the late fee would block renting more
    db.session.commit()
    for i in range(3):
        rental_out(reader, title=f"Another {i}")
    late_return(reader, days_late=1, title="Also late")
    db.session.get(Subscription, reader.id).tier = "plus"
    db.session.commit()
    after = measure()
    assert after == before
    assert max(after.values()) <= 20, after


def test_profile_keeps_its_actions_and_history(admin_client, auth, reader):
    auth.post(url(reader, "/role"), {"role": "author"}, client=admin_client)
    html = admin_client.get(url(reader)).get_data(as_text=True)
    assert "Change role" in html and "admin.user_role_changed" in html and "Force password reset" in html


def test_deleted_customer_pages_show_no_forms(admin_client, reader, db):
    db.session.get(User, reader.id).deleted_at = utcnow()
    db.session.commit()
    for tab in ("/wallet", "/plan", "/sessions", ""):
        html = admin_client.get(url(reader, tab)).get_data(as_text=True)
        assert "<form method=\"post\" action=\"/admin/users" not in html.split('id="customer-panel"')[1]


def test_an_admin_without_two_factor_is_sent_to_set_it_up(app, auth, reader):
    auth.user("lax_admin", role="admin")
    client = app.test_client()
    auth.login("lax_admin", client=client)
    for tab in ("/wallet", "/plan", "/fees"):
        response = client.get(url(reader, tab))
        assert response.status_code == 302 and "2fa" in response.headers["Location"]
    r = auth.post(url(reader, "/wallet"), {"kind": "credit", "amount": "5", "reason": "x", "reference": "a" * 32},
                  client=client)
    assert r.status_code == 302 and wallet.balance(reader.id) == 200


def test_actions_on_a_deleted_account_are_refused_not_a_500(admin_client, reader, db):
    forms = {"wallet": _wallet_form(admin_client, reader), "plan": _plan_form(admin_client, reader, "comp")}
    db.session.get(User, reader.id).deleted_at = utcnow()
    db.session.commit()
    r = admin_client.post(url(reader, "/wallet"), data={**forms["wallet"], "kind": "credit", "amount": "5",
                                                         "reason": "x"})
    assert r.status_code == 200 and "This account was deleted." in r.get_data(as_text=True)
    r = admin_client.post(url(reader, "/plan/comp"), data={**forms["plan"], "tier": "plus", "periods": "1"})
    assert r.status_code == 303 and "deleted" in admin_client.get(r.headers["Location"]).get_data(as_text=True)
    assert wallet.balance(reader.id) == 200


def test_rentals_tab_reads_where_the_copy_is_as_the_customer_page_does(admin_client, reader, db):
    """The tab's status words come from rentals.loan_state: a book sent back after its due date is "sent back",
    not "overdue" (its fees stopped); one still with the customer past its date counts its days overdue."""
    rental_out(reader, title="Still Out Late", due_at=utcnow() - timedelta(days=2, hours=1))
    posted = rental_out(reader, title="Posted Back Late", due_at=utcnow() - timedelta(days=3))
    posted.sent_back_at = utcnow() - timedelta(days=1)
    db.session.commit()
    html = admin_client.get(url(reader, "/rentals")).get_data(as_text=True)
    rows = {title: row for row in html.split('data-testid="rental-out"')[1:]
            for title in ("Still Out Late", "Posted Back Late", "Out Now Book") if title in row}
    assert "3 days overdue" in rows["Still Out Late"]
    assert "sent back" in rows["Posted Back Late"] and "overdue" not in rows["Posted Back Late"]
    assert "with the customer" in rows["Out Now Book"]
