"""Staff API: accounts (list, one account, role and deactivation, revoking a user's API tokens), the holds and
rentals lists, and taking a rented copy back (stock through the ledger, the late fee from the wallet)."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from tests.api.conftest import ApiClient, assert_error, boss_id
from tests.checkout_helpers import deliver, settle, start
from tests.fee_helpers import rental_out
from webapp.models import AuditLog, Hold, Inventory, Rental, StockMovement, User, WalletEntry, utcnow
from webapp.services.circulation import hold_dates, holds, lost, wallet
from webapp.services.circulation.rentals import overdue_days


def user_audits(db, user_id: int) -> list[AuditLog]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditLog).where(AuditLog.object_type == "user",
                                                          AuditLog.object_id == str(user_id))
                                   .order_by(AuditLog.id)))



def rent(db, user, make_book, title="Rented Book", on_hand=1, days=3, delivered=True):
    """A paid rental, delivered (its loan started) unless `delivered` is False (on its way: no dates)."""
    book = make_book(title, on_hand=on_hand)
    order = start(user, [(book, 1, "rent", days)])
    settle(order, "pi_r", order.card_cents)
    db.session.commit()
    if delivered:
        deliver(order)
    return book, db.session.scalars(select(Rental).where(Rental.book_id == book.id)).one()


def test_staff_people_routes_refuse_customers_admins_without_2fa_and_strangers(app, db, auth, make_book,
                                                                               customer_api, no2fa_api):
    target = auth.user("target")
    _, rental = rent(db, target, make_book, delivered=False)  # no staff audit entries before the calls
    calls = [("get", "/api/v1/admin/users", None), ("get", f"/api/v1/admin/users/{target.id}", None),
             ("patch", f"/api/v1/admin/users/{target.id}", {"active": False}),
             ("post", f"/api/v1/admin/users/{target.id}/revoke-tokens", None),
             ("get", "/api/v1/admin/holds", None), ("get", "/api/v1/admin/rentals", None),
             ("post", f"/api/v1/admin/rentals/{rental.id}/return", None)]
    for method, url, body in calls:
        kwargs = {"json": body} if body is not None else {}
        assert_error(getattr(customer_api, method)(url, **kwargs), 403, "forbidden")
        assert_error(getattr(no2fa_api, method)(url, **kwargs), 403, "two_factor_required")
        assert_error(getattr(ApiClient(app), method)(url, **kwargs), 401, "unauthorized")
    db.session.expire_all()
    assert db.session.get(User, target.id).is_active_account
    assert db.session.get(Rental, rental.id).status == "active"
    assert db.session.scalars(select(AuditLog)).all() == []


# ---- users ----

def test_user_list_filters_and_pages(db, auth, admin_api):
    auth.user("alice_author", role="author")
    auth.user("carol_reader")
    unverified = auth.user("dave_new", verified=False)
    body = admin_api.get("/api/v1/admin/users").get_json()
    assert {u["username"] for u in body["items"]} == {"boss", "alice_author", "carol_reader", "dave_new"}
    assert body["page"]["total"] == 4 and body["page"]["next_cursor"] is None
    boss = next(u for u in body["items"] if u["username"] == "boss")
    assert boss["role"] == "admin" and boss["two_factor"] is True and boss["active"] is True

    def names(query: str) -> set[str]:
        r = admin_api.get(f"/api/v1/admin/users?{query}")
        assert r.status_code == 200, r.get_json()
        return {u["username"] for u in r.get_json()["items"]}

    assert names("role=author") == {"alice_author"}
    assert names("q=CAROL") == {"carol_reader"}
    assert names("status=unverified") == {unverified.username}
    page1 = admin_api.get("/api/v1/admin/users?limit=3").get_json()
    page2 = admin_api.get(f"/api/v1/admin/users?limit=3&cursor={page1['page']['next_cursor']}").get_json()
    assert len(page1["items"]) == 3 and len(page2["items"]) == 1 and page2["page"]["next_cursor"] is None
    assert "role" in assert_error(admin_api.get("/api/v1/admin/users?role=owner"), 422, "validation_failed")["fields"]
    assert "status" in assert_error(admin_api.get("/api/v1/admin/users?status=x"), 422)["fields"]


def test_user_detail_shows_wallet_and_signed_in_devices(db, auth, app, admin_api):
    user = auth.user("reader_with_tokens")
    wallet.credit(user.id, 700, "adjustment", reference="gift")
    db.session.commit()
    client = ApiClient(app)
    assert client.sign_in("reader_with_tokens", client_name="folio-cli").status_code == 200
    body = admin_api.get(f"/api/v1/admin/users/{user.id}").get_json()
    assert body["username"] == "reader_with_tokens" and body["wallet"] == {"cents": 700, "currency": "USD"}
    assert [(s["kind"], s["client_name"]) for s in body["sessions"]] == [("api", "folio-cli")]
    assert_error(admin_api.get("/api/v1/admin/users/987654"), 404, "not_found")
    assert_error(admin_api.get("/api/v1/admin/users/99999999999999"), 404, "not_found")


def test_change_role_and_deactivate_are_audited_and_end_the_users_tokens(db, auth, app, admin_api):
    user = auth.user("promoted")
    theirs = ApiClient(app)
    assert theirs.sign_in("promoted").status_code == 200
    url = f"/api/v1/admin/users/{user.id}"
    r = admin_api.patch(url, json={"role": "author"})
    assert r.status_code == 200 and r.get_json()["role"] == "author"
    r = admin_api.patch(url, json={"active": False})
    assert r.status_code == 200 and r.get_json()["active"] is False and r.get_json()["sessions"] == []
    assert_error(theirs.get("/api/v1/auth/sessions"), 401, "token_revoked")
    entries = [(a.action, a.actor_id, a.before, a.after, a.ip) for a in user_audits(db, user.id)]
    boss = boss_id(db)
    assert entries == [("admin.user_role_changed", boss, {"role": "customer"}, {"role": "author"}, "127.0.0.1"),
                       ("admin.user_deactivated", boss, {"active": True}, {"active": False}, "127.0.0.1")]
    r = admin_api.patch(url, json={"active": True, "role": "customer"})
    assert r.status_code == 200 and r.get_json()["active"] is True and r.get_json()["role"] == "customer"
    assert [a.action for a in user_audits(db, user.id)][-2:] == ["admin.user_role_changed",
                                                                 "admin.user_reactivated"]

    assert "" in assert_error(admin_api.patch(url, json={}), 422, "validation_failed")["fields"]
    assert "role" in assert_error(admin_api.patch(url, json={"role": "owner"}), 422)["fields"]
    assert "active" in assert_error(admin_api.patch(url, json={"active": "no"}), 422)["fields"]
    assert_error(admin_api.patch("/api/v1/admin/users/987654", json={"active": False}), 404, "not_found")


def test_staff_cannot_change_or_deactivate_their_own_account(db, admin_api):
    me = boss_id(db)
    before = len(user_audits(db, me))
    error = assert_error(admin_api.patch(f"/api/v1/admin/users/{me}", json={"role": "customer"}), 409, "conflict")
    assert "your own account" in error["message"]
    assert_error(admin_api.patch(f"/api/v1/admin/users/{me}", json={"active": False}), 409, "conflict")
    db.session.expire_all()
    found = db.session.get(User, me)
    assert found.role == "admin" and found.is_active_account and len(user_audits(db, me)) == before
    assert admin_api.get("/api/v1/admin/users").status_code == 200  # still signed in


def test_revoke_tokens_refuses_the_users_access_and_refresh_tokens(db, auth, app, client, admin_api):
    user = auth.user("lost_laptop")
    laptop, phone = ApiClient(app), ApiClient(app)
    assert laptop.sign_in("lost_laptop").status_code == 200
    assert phone.sign_in("lost_laptop").status_code == 200
    assert laptop.get("/api/v1/auth/sessions").status_code == 200
    auth.login("lost_laptop")  # a browser too: it stays signed in

    r = admin_api.post(f"/api/v1/admin/users/{user.id}/revoke-tokens")
    assert r.status_code == 200 and r.get_json() == {"revoked": 2}
    for device in (laptop, phone):
        assert_error(device.get("/api/v1/auth/sessions"), 401, "token_revoked")
        assert_error(device.client.post("/api/v1/auth/refresh", json={"refresh_token": device.tokens["refresh_token"]}),
                     401, "token_revoked")
    assert client.get("/account/security").status_code == 200  # the browser was not signed out
    [entry] = [a for a in user_audits(db, user.id) if a.action == "user.api_tokens_revoked"]
    assert entry.actor_id == boss_id(db) and entry.after == {"tokens_revoked": 2} and entry.ip == "127.0.0.1"
    assert admin_api.post(f"/api/v1/admin/users/{user.id}/revoke-tokens").get_json() == {"revoked": 0}
    assert_error(admin_api.post("/api/v1/admin/users/987654/revoke-tokens"), 404, "not_found")


# ---- holds and rentals ----

def test_holds_list_by_view_with_queue_positions(db, auth, make_book, admin_api):
    book, _ = rent(db, auth.user("renter"), make_book, "Queue Book")
    first, second = auth.user("first_in_line"), auth.user("second_in_line")
    holds.place(first, book)
    paused = holds.place(second, book)
    hold_dates.suspend(paused, second, None)
    db.session.commit()
    body = admin_api.get("/api/v1/admin/holds?view=waiting").get_json()
    assert [(h["user_id"], h["position"], h["title"], h["status"]) for h in body["items"]] == [
        (first.id, 1, "Queue Book", "waiting"), (second.id, 2, "Queue Book", "waiting")]
    assert [(h["suspended"], h["suspended_until"], h["not_needed_after"]) for h in body["items"]] == [
        (False, None, None), (True, None, None)]  # a paused hold keeps its place, and staff see it is paused
    assert body["items"][0]["plan"] == "free" and body["page"]["total"] == 2
    assert admin_api.get("/api/v1/admin/holds").get_json()["items"] == []  # default view: set aside copies
    assert admin_api.get("/api/v1/admin/holds?view=closed").get_json()["items"] == []
    assert "view" in assert_error(admin_api.get("/api/v1/admin/holds?view=zzz"), 422, "validation_failed")["fields"]
    assert "cursor" in assert_error(admin_api.get("/api/v1/admin/holds?cursor=-3"), 422)["fields"]


def test_rentals_list_by_view(db, auth, make_book, admin_api):
    _, rental = rent(db, auth.user("renter"), make_book, days=3)
    body = admin_api.get("/api/v1/admin/rentals").get_json()
    assert [(r["id"], r["status"], r["overdue_days"]) for r in body["items"]] == [(rental.id, "active", 0)]
    assert admin_api.get("/api/v1/admin/rentals?view=overdue").get_json()["items"] == []
    overdue_by(db, rental, timedelta(days=1, hours=12))
    body = admin_api_get(admin_api, "/api/v1/admin/rentals?view=overdue")
    assert [r["id"] for r in body["items"]] == [rental.id] and body["items"][0]["overdue_days"] == 2
    assert body["items"][0]["late_fee"] == {"cents": 100, "currency": "USD"}
    assert admin_api.get("/api/v1/admin/rentals?view=returned").get_json()["items"] == []
    assert "view" in assert_error(admin_api.get("/api/v1/admin/rentals?view=gone"), 422)["fields"]
    _, posting = rent(db, auth.user("waiter"), make_book, "Posted Book", delivered=False)
    [item] = admin_api_get(admin_api, "/api/v1/admin/rentals?view=on_its_way")["items"]
    assert (item["id"], item["loan_state"], item["starts_at"], item["due_at"]) == (posting.id, "on_its_way", None, None)


def overdue_by(db, rental, late: timedelta) -> None:
    """Move the rental's dates back (the access token would expire if the clock moved forward instead)."""
    shift = (rental.due_at - utcnow()) + late
    db.session.execute(update(Rental).where(Rental.id == rental.id)
                       .values(starts_at=rental.starts_at - shift, due_at=rental.due_at - shift))
    db.session.commit()
    db.session.expire_all()
    assert overdue_days(db.session.get(Rental, rental.id)) == -(-late.total_seconds() // 86400)


def admin_api_get(admin_api, url):
    r = admin_api.get(url)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_return_puts_the_copy_back_through_the_ledger(db, auth, make_book, admin_api):
    book, rental = rent(db, auth.user("renter"), make_book, on_hand=2)
    r = admin_api.post(f"/api/v1/admin/rentals/{rental.id}/return")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["rental"]["status"] == "returned" and body["rental"]["returned_at"]
    assert body["late_fee"]["cents"] == 0 and body["fee_due"]["cents"] == 0 and body["to_hold_queue"] is False
    db.session.expire_all()
    assert db.session.get(Inventory, book.id).on_hand == 2
    movement = db.session.scalars(select(StockMovement).where(StockMovement.book_id == book.id)
                                  .order_by(StockMovement.id.desc())).first()
    assert movement.reason == "return" and movement.reference == f"rental-{rental.id}"
    assert movement.actor_id == boss_id(db)
    [entry] = db.session.scalars(select(AuditLog).where(AuditLog.action == "rental.returned")).all()
    assert entry.object_id == str(rental.id) and entry.actor_id == boss_id(db) and entry.ip == "127.0.0.1"

    again = assert_error(admin_api.post(f"/api/v1/admin/rentals/{rental.id}/return"), 409, "conflict")
    assert "already returned" in again["message"]
    assert db.session.get(Inventory, book.id).on_hand == 2
    assert_error(admin_api.post("/api/v1/admin/rentals/424242/return"), 404, "not_found")
    assert_error(admin_api.post("/api/v1/admin/rentals/99999999999999/return"), 404, "not_found")


def test_a_late_return_charges_the_wallet_and_keeps_the_rest_due(db, auth, make_book, admin_api):
    renter = auth.user("late_renter")
    book, rental = rent(db, renter, make_book, days=3)
    wallet.credit(renter.id, 120, "adjustment", reference="gift")
    db.session.commit()
    overdue_by(db, rental, timedelta(days=4, hours=6))  # 5 started days late at 50 cents
    r = admin_api.post(f"/api/v1/admin/rentals/{rental.id}/return")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["late_fee"] == {"cents": 250, "currency": "USD"}
    assert body["fee_paid_from_wallet"]["cents"] == 120 and body["fee_due"]["cents"] == 130
    assert body["rental"]["fee_due"]["cents"] == 130
    assert wallet.balance(renter.id) == 0
    entry = db.session.scalars(select(WalletEntry).where(WalletEntry.user_id == renter.id)
                               .order_by(WalletEntry.id.desc())).first()
    assert entry.reason == "late_fee" and entry.reference == f"rental-{rental.id}/pay-1"  # its first payment


def test_a_returned_copy_goes_to_the_next_reader_in_the_queue(db, auth, make_book, admin_api):
    book, rental = rent(db, auth.user("renter"), make_book, "Wanted")
    waiting = auth.user("waiting")
    hold = holds.place(waiting, book)
    db.session.commit()
    r = admin_api.post(f"/api/v1/admin/rentals/{rental.id}/return")
    assert r.status_code == 200 and r.get_json()["to_hold_queue"] is True
    db.session.expire_all()
    assert db.session.get(Hold, hold.id).status == "ready"
    ready = admin_api.get("/api/v1/admin/holds?view=ready").get_json()["items"]
    assert [(h["id"], h["status"]) for h in ready] == [(hold.id, "ready")] and ready[0]["ready_until"]


def test_the_lost_view_gives_when_it_was_lost_and_the_replacement_price(db, auth, admin_api):
    rental = rental_out(auth.user("loser"), title="Gone", price_cents=1200, due_at=utcnow() - timedelta(days=32))
    assert lost.mark_lost_due() == 1
    db.session.commit()
    r = admin_api.get("/api/v1/admin/rentals?view=lost")
    assert r.status_code == 200, r.get_json()
    [item] = r.get_json()["items"]
    assert (item["id"], item["status"], item["loan_state"]) == (rental.id, "lost", "lost")
    assert item["lost_at"] is not None and item["replacement"]["cents"] == 1200
    assert item["late_fee"]["cents"] == 1200 and item["fee_due"]["cents"] == 1200  # an empty wallet paid nothing
