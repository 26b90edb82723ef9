import re

import pytest

from webapp.services.circulation import wallet


def test_wallet_needs_a_signed_in_user(client):
    r = client.get("/account/wallet")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_empty_wallet_shows_zero_and_an_empty_state(client, auth):
    auth.user("reader1")
    auth.login("reader1")
    r = client.get("/account/wallet")
    body = r.get_data(as_text=True)
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    assert re.search(r'data-testid="wallet-balance"><strong>\$0\.00<', body)
    assert "No wallet activity yet" in body and "<table" not in body
    # the account menu links to it and marks it as the current page
    assert re.search(r'href="/account/wallet"\s+aria-current="page">Wallet<', body)


def test_statement_shows_balance_entries_and_running_balance(client, auth, db):
    me = auth.user("reader1")
    wallet.credit(me.id, 2500, "refund", reference="FO-ABCD-EFGH-JKLM", note="Order cancelled")
    wallet.debit(me.id, 1234, "late_fee", reference="rental-42")
    db.session.commit()
    auth.login("reader1")
    body = client.get("/account/wallet").get_data(as_text=True)
    assert re.search(r'data-testid="wallet-balance"><strong>\$12\.66<', body)
    assert '<th scope="col">Balance</th>' in body and '<th scope="col">Amount</th>' in body
    rows = re.findall(r"<tr><td>.*?</tr>", body, re.S)
    assert len(rows) == 2
    newest, oldest = rows
    assert "Late fee rental-42" in newest and "-$12.34" in newest and "(debit)" in newest and "$12.66" in newest
    assert "Refund for order FO-ABCD-EFGH-JKLM" in oldest and "+$25.00" in oldest and "(credit)" in oldest
    assert "Order cancelled" in oldest and oldest.count("$25.00") == 2  # amount and balance after


def test_another_customers_entries_are_never_shown(client, auth, db):
    me = auth.user("reader1")
    them = auth.user("reader2")
    wallet.credit(me.id, 100, "top_up", reference="mine-1")
    wallet.credit(them.id, 99_900, "top_up", reference="theirs-1")
    db.session.commit()
    auth.login("reader1")
    body = client.get("/account/wallet").get_data(as_text=True)
    assert "mine-1" in body and "$1.00" in body
    assert "theirs-1" not in body and "999.00" not in body
    # no query argument reaches someone else's statement
    for query in (f"?user_id={them.id}", f"?user={them.id}", "?page=2"):
        assert "theirs-1" not in client.get("/account/wallet" + query).get_data(as_text=True)


@pytest.mark.parametrize("page", ["2", "99", "-1", "x"])
def test_statement_pages_without_js_and_with_htmx(client, auth, db, page):
    me = auth.user("reader1")
    for i in range(30):
        wallet.credit(me.id, 100, "top_up", reference=f"pay-{i:02d}")
    db.session.commit()
    auth.login("reader1")
    first = client.get("/account/wallet").get_data(as_text=True)
    assert len(re.findall(r"<tr><td>", first)) == 25 and "Page 1 of 2" in first
    assert 'href="/account/wallet?page=2"' in first and 'hx-target="#wallet-statement"' in first
    body = client.get(f"/account/wallet?page={page}").get_data(as_text=True)
    expected_page = 2 if page in ("2", "99") else 1
    assert f"Page {expected_page} of 2" in body
    assert len(re.findall(r"<tr><td>", body)) == (5 if expected_page == 2 else 25)
    # htmx asks for the statement only
    r = client.get(f"/account/wallet?page={page}", headers={"HX-Request": "true"})
    partial = r.get_data(as_text=True)
    assert r.status_code == 200 and "<html" not in partial and "<table" in partial and "HX-Request" in r.headers["Vary"]
