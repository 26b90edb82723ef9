import re
from datetime import timedelta

import pytest
import time_machine
from argon2 import PasswordHasher
from sqlalchemy import select

from tests.conftest import PASSWORD
from webapp.models import AuditLog, EmailCode, OutboundEmail, User, utcnow
from webapp.services.people import accounts, registration
from webapp.services.people.accounts import AccountError, ThrottledError


def last_code(db, to=None) -> str:
    stmt = select(OutboundEmail).order_by(OutboundEmail.id.desc())
    if to:
        stmt = stmt.where(OutboundEmail.recipient == to)
    message = db.session.scalars(stmt).first()
    return re.search(r"\b(\d{6})\b", message.body_text).group(1)


@pytest.mark.parametrize("username,ok", [
    ("ab", False), ("a" * 31, False), ("has space", False), ("dash-name", False), ("émile", False),
    ("abc", True), ("A_b_9", True), ("x" * 30, True),
])
def test_username_rules(app, username, ok):
    assert (accounts.username_errors(username) == []) is ok


def test_username_and_email_are_unique_case_insensitively(app, db):
    accounts.create_user("Reader_One", "Reader.One@Example.com", PASSWORD)
    db.session.commit()
    assert accounts.username_errors("reader_one") == ["That username is taken."]
    assert accounts.username_errors("READER_ONE") == ["That username is taken."]
    assert accounts.email_errors("reader.one@EXAMPLE.COM") == ["An account with that email already exists."]
    with pytest.raises(AccountError) as exc:
        registration.register("READER_one", "READER.ONE@example.com", "another fine passphrase 7")
    assert set(exc.value.errors) == {"username"}  # registration never says an email has an account


@pytest.mark.parametrize("email", ["not-an-email", "a@b", "two@@example.com", "x" * 250 + "@example.com", ""])
def test_invalid_emails_are_rejected(app, email):
    assert accounts.email_errors(email)


def test_emails_are_normalised(app):
    assert accounts.normalize_email("  Someone@Example.COM ") == "someone@example.com"


@pytest.mark.parametrize("password,message", [
    ("short1!", "at least 10"),
    ("password123", "too common"),
    ("qwertyuiop", "too common"),
    ("aaaaaaaaaaaa", "too common"),
    ("reader_person", "must not be your username"),
    ("reader_person@example.com", "must not be your username"),
])
def test_password_rules(app, password, message):
    check = accounts.check_password(password, username="reader_person", email="reader_person@example.com")
    assert any(message in e for e in check.errors), check.errors


def test_good_password_passes_with_a_hint(app):
    check = accounts.check_password("violet kettle uphill sonnet", username="reader", email="r@example.com")
    assert check.errors == [] and check.score >= 3 and check.hint


def test_register_sends_a_hashed_code_that_verifies(app, db):
    user = registration.register("newbie", "newbie@example.com", PASSWORD)
    db.session.commit()
    code = last_code(db)
    stored = db.session.scalars(select(EmailCode)).one()
    assert code not in stored.code_hash and len(stored.code_hash) == 64
    assert not user.is_verified
    registration.confirm_code(user, "verify", code)
    db.session.commit()
    assert db.session.get(User, user.id).is_verified


def test_wrong_code_five_times_locks_the_code(app, db):
    user = registration.register("newbie", "newbie@example.com", PASSWORD)
    db.session.commit()
    good = last_code(db)
    bad = "000000" if good != "000000" else "111111"
    for _ in range(5):
        with pytest.raises(AccountError, match="not right"):
            registration.confirm_code(user, "verify", bad)
        db.session.commit()
    with pytest.raises(AccountError, match="Too many wrong tries"):
        registration.confirm_code(user, "verify", good)
    assert not user.is_verified


def test_code_expires_after_15_minutes(app, db):
    with time_machine.travel(utcnow(), tick=False) as traveller:
        user = registration.register("newbie", "newbie@example.com", PASSWORD)
        db.session.commit()
        code = last_code(db)
        traveller.shift(timedelta(minutes=16))
        with pytest.raises(AccountError, match="expired"):
            registration.confirm_code(user, "verify", code)


def test_resend_is_throttled_and_replaces_the_old_code(app, db):
    with time_machine.travel(utcnow(), tick=False) as traveller:
        user = registration.register("newbie", "newbie@example.com", PASSWORD)
        db.session.commit()
        first = last_code(db)
        with pytest.raises(ThrottledError):
            registration.issue_code(user, "verify")
        traveller.shift(timedelta(seconds=61))
        registration.issue_code(user, "verify")
        db.session.commit()
        second = last_code(db)
        if first != second:
            with pytest.raises(AccountError):
                registration.confirm_code(user, "verify", first)
        registration.confirm_code(user, "verify", second)
        assert user.is_verified


def test_authenticate_by_username_or_email_and_rejects_inactive(app, db):
    user = accounts.create_user("reader", "reader@example.com", PASSWORD)
    db.session.commit()
    assert accounts.authenticate("READER", PASSWORD) is user
    assert accounts.authenticate("Reader@Example.com", PASSWORD) is user
    assert accounts.authenticate("reader", "wrong password here") is None
    assert accounts.authenticate("nobody", PASSWORD) is None
    user.is_active_account = False
    assert accounts.authenticate("reader", PASSWORD) is None


def test_login_rehashes_when_parameters_change(app, db):
    user = accounts.create_user("reader", "reader@example.com", PASSWORD)
    user.password_hash = PasswordHasher(time_cost=2, memory_cost=4096, parallelism=2).hash(PASSWORD)
    old = user.password_hash
    db.session.commit()
    assert accounts.authenticate("reader", PASSWORD) is user
    assert user.password_hash != old and user.password_hash.startswith("$argon2id$")


def test_password_reset_token_is_single_use_and_expires(app, db):
    user = accounts.create_user("reader", "reader@example.com", PASSWORD)
    db.session.commit()
    with time_machine.travel(utcnow(), tick=False) as traveller:
        token = accounts.reset_token(user)
        accounts.reset_password(token, "a brand new passphrase 9")
        db.session.commit()
        with pytest.raises(AccountError, match="already been used"):
            accounts.reset_password(token, "yet another passphrase 10")
        later = accounts.reset_token(user)
        traveller.shift(timedelta(hours=1, minutes=1))
        with pytest.raises(AccountError, match="expired"):
            accounts.user_for_reset_token(later)
    with pytest.raises(AccountError, match="not valid"):
        accounts.user_for_reset_token("garbage")


def test_password_change_needs_the_current_password_and_bumps_sessions(app, db):
    user = accounts.create_user("reader", "reader@example.com", PASSWORD)
    db.session.commit()
    version = user.session_version
    with pytest.raises(AccountError, match="current password"):
        accounts.change_password(user, "wrong", "another passphrase 123")
    accounts.change_password(user, PASSWORD, "another passphrase 123")
    assert user.session_version == version + 1
    assert db.session.scalars(select(AuditLog.action)).all() == ["user.password_changed"]


def test_email_change_is_reverified(app, db):
    user = accounts.create_user("reader", "reader@example.com", PASSWORD)
    db.session.commit()
    registration.request_email_change(user, "New@Example.com", PASSWORD)
    db.session.commit()
    assert user.email == "reader@example.com"
    code = last_code(db, to="new@example.com")
    registration.confirm_code(user, "change_email", code)
    db.session.commit()
    assert user.email == "new@example.com" and user.is_verified


def test_addresses_belong_to_their_owner(app, db):
    ann = accounts.create_user("ann", "ann@example.com", PASSWORD)
    bob = accounts.create_user("bob", "bob@example.com", PASSWORD)
    address = accounts.save_address(ann, {"full_name": "Ann", "line1": "1 St", "city": "X", "postcode": "1",
                                          "country": "gb"})
    db.session.commit()
    assert address.country == "GB" and address.is_default
    with pytest.raises(PermissionError):
        accounts.save_address(bob, {"full_name": "Bob"}, address)
    with pytest.raises(PermissionError):
        accounts.delete_address(bob, address)
