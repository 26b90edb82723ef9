import re

from sqlalchemy import select

from tests.conftest import PASSWORD
from webapp.models import AuditLog, OutboundEmail, User


def post(admin_client, auth, url, data=None):
    data = dict(data or {})
    data["csrf_token"] = auth.csrf(admin_client)
    return admin_client.post(url, data=data)


def test_users_list_search_filter_and_htmx(admin_client, auth):
    auth.user("alice_reader")
    auth.user("bob_writer", role="author")
    auth.user("carol_new", verified=False)
    r = admin_client.get("/admin/users?q=ali")
    body = r.get_data(as_text=True)
    assert "alice_reader" in body and "bob_writer" not in body
    r = admin_client.get("/admin/users?role=author", headers={"HX-Request": "true"})
    body = r.get_data(as_text=True)
    assert "<html" not in body and "bob_writer" in body and "alice_reader" not in body
    assert "carol_new" in admin_client.get("/admin/users?status=unverified").get_data(as_text=True)
    assert admin_client.get("/admin/users?role=nonsense&status=zzz&page=-4").status_code == 200


def test_users_list_paginates(admin_client, auth, db):
    from webapp.models import User as U

    for i in range(30):
        db.session.add(U(username=f"bulk_{i:02d}", email=f"bulk{i}@example.com", password_hash="!unusable"))
    db.session.commit()
    page1 = admin_client.get("/admin/users?q=bulk").get_data(as_text=True)
    page2 = admin_client.get("/admin/users?q=bulk&page=2").get_data(as_text=True)
    names1 = set(re.findall(r">(bulk_\d\d)<", page1))
    names2 = set(re.findall(r">(bulk_\d\d)<", page2))
    assert len(names1) == 25 and len(names2) == 5 and not names1 & names2


def test_deactivate_logs_the_user_out_everywhere_and_is_audited(app, admin_client, auth, db):
    target = auth.user("troublemaker")
    their_client = app.test_client()
    auth.login("troublemaker", client=their_client)
    assert their_client.get("/account").status_code == 200
    r = post(admin_client, auth, f"/admin/users/{target.id}/deactivate")
    assert r.status_code == 303
    assert their_client.get("/account").status_code == 302
    assert auth.login("troublemaker", client=app.test_client()).status_code == 200  # cannot sign in
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "admin.user_deactivated")).one()
    assert entry.actor.username == "boss" and entry.object_id == str(target.id)
    assert entry.before == {"active": True} and entry.after == {"active": False}
    post(admin_client, auth, f"/admin/users/{target.id}/reactivate")
    assert auth.login("troublemaker", client=app.test_client()).status_code == 303


def test_change_role_is_validated_and_audited(admin_client, auth, db):
    target = auth.user("future_author")
    assert post(admin_client, auth, f"/admin/users/{target.id}/role", {"role": "emperor"}).status_code == 303
    db.session.expire_all()
    assert db.session.get(User, target.id).role == "customer"
    post(admin_client, auth, f"/admin/users/{target.id}/role", {"role": "author"})
    db.session.expire_all()
    assert db.session.get(User, target.id).role == "author"
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "admin.user_role_changed")).one()
    assert entry.before == {"role": "customer"} and entry.after == {"role": "author"}
    history = admin_client.get(f"/admin/users/{target.id}").get_data(as_text=True)
    assert "admin.user_role_changed" in history


def test_admin_cannot_lock_themselves_out(admin_client, auth, db):
    me = db.session.scalars(select(User).where(User.username == "boss")).one()
    post(admin_client, auth, f"/admin/users/{me.id}/role", {"role": "customer"})
    post(admin_client, auth, f"/admin/users/{me.id}/deactivate")
    db.session.expire_all()
    me = db.session.get(User, me.id)
    assert me.role == "admin" and me.is_active_account


def test_resend_verification_and_force_reset(app, admin_client, auth, db, run_jobs):
    unverified = auth.user("slowpoke", verified=False)
    post(admin_client, auth, f"/admin/users/{unverified.id}/resend-verification")
    target = auth.user("compromised")
    their_client = app.test_client()
    auth.login("compromised", client=their_client)
    post(admin_client, auth, f"/admin/users/{target.id}/force-password-reset")
    run_jobs()
    assert their_client.get("/account").status_code == 302
    assert auth.login("compromised", PASSWORD, client=app.test_client()).status_code == 200
    mails = {m.recipient: m.body_text for m in db.session.scalars(select(OutboundEmail))}
    assert re.search(r"\b\d{6}\b", mails["slowpoke@example.com"])
    link = re.search(r"http://shop\.test(/password/reset/\S+)", mails["compromised@example.com"]).group(1)
    fresh = app.test_client()
    r = auth.post(link, {"password": "recovered passphrase 1", "confirm": "recovered passphrase 1"}, client=fresh)
    assert r.status_code == 303
    assert auth.login("compromised", "recovered passphrase 1", client=fresh).status_code == 303
    actions = set(db.session.scalars(select(AuditLog.action)))
    assert {"admin.user_verification_resent", "admin.user_password_reset_forced", "user.password_reset"} <= actions


def test_create_admin_command(runner, db):
    result = runner.invoke(args=["create-admin", "--email", "Head@Example.com", "--password", PASSWORD])
    assert result.exit_code == 0, result.output
    admin = db.session.scalars(select(User).where(User.email == "head@example.com")).one()
    assert admin.role == "admin" and admin.is_verified and admin.username == "Head"
    weak = runner.invoke(args=["create-admin", "--email", "x@example.com", "--password", "password1"])
    assert weak.exit_code != 0 and "too common" in weak.output
    prompted = runner.invoke(args=["create-admin"], input=f"p@example.com\n{PASSWORD}\n{PASSWORD}\n")
    assert prompted.exit_code == 0, prompted.output


def test_production_cookies_and_hsts(monkeypatch):
    from cryptography.fernet import Fernet

    from config import ProductionConfig

    monkeypatch.setenv("SECRET_KEY", "x" * 32)
    monkeypatch.setenv("DATABASE_URL", "sqlite://")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_x")
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_from_the_dashboard")
    monkeypatch.setenv("DATA_ENCRYPTION_KEYS", Fernet.generate_key().decode())
    monkeypatch.setenv("CODE_HASH_KEY", "h" * 40)
    monkeypatch.setenv("PUBLIC_URL", "https://shop.example.com")

    class Prod(ProductionConfig):
        RATELIMIT_STORAGE_URI = "memory://"

    from webapp import create_app

    prod = create_app(Prod)
    assert prod.config["SESSION_COOKIE_SECURE"] and prod.config["SESSION_COOKIE_HTTPONLY"]
    assert prod.config["SESSION_COOKIE_SAMESITE"] == "Lax" and prod.config["REMEMBER_COOKIE_SECURE"]
