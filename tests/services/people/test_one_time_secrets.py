"""One-time secrets work once however many requests race, and every wrong guess counts.

A TOTP step, a recovery code, a password-reset token and an emailed code are each consumed by one conditional
UPDATE. The races run on real PostgreSQL, one connection per thread; the sequential tests (a request that
read the row before another one committed, the messages) run on SQLite too.
"""
from __future__ import annotations

import re
import time
from types import SimpleNamespace

import pyotp
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm.attributes import set_committed_value

from tests.concurrency import race
from tests.conftest import PASSWORD, using_postgres
from webapp.actions import confirm_code
from webapp.extensions import db as thread_db
from webapp.models import AuditLog, EmailCode, OutboundEmail, RecoveryCode, User
from webapp.services.people import accounts, registration, twofactor
from webapp.services.people.accounts import AccountError
from webapp.services.people.passwords import verify_password
from webapp.services.people.registration import CODE_MAX_ATTEMPTS

needs_postgres = pytest.mark.skipif(not using_postgres(), reason="needs TEST_DATABASE_URL (PostgreSQL): "
                                    "SQLite serialises writers, so there is no race to test")

WRONG_TRIES_MESSAGES = ["That code is not right. 4 tries left.", "That code is not right. 3 tries left.",
                        "That code is not right. 2 tries left.", "That code is not right. 1 try left.",
                        "That code is not right. No tries left: ask for a new code."]
TOO_MANY = "Too many wrong tries. Ask for a new code."
NO_CODE = "There is no code waiting. Ask for a new one."


class Refused(Exception):
    """What a racing thread reports when the service said no (the message the customer would see)."""


def _two_factor_user(db, username: str = "boss") -> tuple[User, str, list[str]]:
    user = accounts.create_user(username, f"{username}@example.com", PASSWORD, role="admin")
    secret = twofactor.new_secret()
    codes = twofactor.enable(user, secret, pyotp.TOTP(secret).now())
    user.totp_last_step = None  # as if set up a while ago: the current code is fresh
    db.session.commit()
    return user, secret, codes


def _unverified_user(db, username: str = "newbie") -> tuple[User, str]:
    """A user with a verification code waiting; returns the user and the code (read from the outbox)."""
    user = registration.register(username, f"{username}@example.com", PASSWORD)
    db.session.commit()
    return user, _last_code(db)


def _last_code(db) -> str:
    message = db.session.scalars(select(OutboundEmail).order_by(OutboundEmail.id.desc())).first()
    return re.search(r"\b(\d{6})\b", message.body_text).group(1)


def _wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


def _code_form(code: str):
    """Just what actions.confirm_code reads and writes on a CodeForm."""
    return SimpleNamespace(code=SimpleNamespace(data=code, errors=[]), form_errors=[])


def _confirm_like_the_form(user: User, purpose: str, code: str) -> None:
    """Submit a code the way the /verify and /account/email/confirm views do (actions.confirm_code commits a
    wrong try); raise Refused with the message shown when it is refused."""
    form = _code_form(code)
    if not confirm_code(form, user, purpose):
        raise Refused(" ".join(form.code.errors + form.form_errors))


def _race_as(app, user_id: int, action, n: int) -> list[str]:
    """Run action(user, i) in n threads released together, each with its own session holding the user."""
    def work(i: int):
        user = thread_db.session.get(User, user_id)  # connect and read before the start line
        return lambda: action(user, i)

    return race(app, work, n)


def _audit_count(db, action: str) -> int:
    return db.session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == action))


# ---- races (PostgreSQL) ----

@needs_postgres
def test_one_totp_code_signs_in_once_among_six_concurrent_sign_ins(app, db):
    user, secret, _ = _two_factor_user(db)
    code = pyotp.TOTP(secret).now()

    def sign_in(racer: User, i: int) -> None:
        if twofactor.verify(racer, code) != "totp":
            raise Refused("That code is not right (or was already used).")

    results = _race_as(app, user.id, sign_in, 6)
    assert sorted(results) == ["Refused: That code is not right (or was already used)."] * 5 + ["ok"]
    db.session.expire_all()
    assert db.session.get(User, user.id).totp_last_step is not None
    assert twofactor.verify(db.session.get(User, user.id), code) is None  # and it stays used


@needs_postgres
def test_one_recovery_code_signs_in_once_among_six_concurrent_sign_ins(app, db):
    user, _, codes = _two_factor_user(db)

    def sign_in(racer: User, i: int) -> None:
        if twofactor.verify(racer, codes[0]) != "recovery_code":
            raise Refused("That code is not right (or was already used).")

    results = _race_as(app, user.id, sign_in, 6)
    assert sorted(results) == ["Refused: That code is not right (or was already used)."] * 5 + ["ok"]
    db.session.expire_all()
    used = db.session.scalar(select(func.count()).select_from(RecoveryCode)
                             .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_not(None)))
    assert used == 1 and twofactor.remaining_recovery_codes(user) == 9


@needs_postgres
def test_one_reset_token_used_by_four_threads_at_once_changes_the_password_once(app, db):
    user = accounts.create_user("reader", "reader@example.com", PASSWORD)
    db.session.commit()
    token = accounts.reset_token(user)
    winners: list[str] = []

    def reset(racer: User, i: int) -> None:
        password = f"brand new passphrase {i} for reader"
        accounts.reset_password(token, password)
        winners.append(password)

    results = _race_as(app, user.id, reset, 4)
    assert sorted(results) == ["AccountError: This reset link has already been used or is no longer valid."] * 3 \
        + ["ok"], results
    assert len(winners) == 1
    db.session.expire_all()
    assert _audit_count(db, "user.password_reset") == 1
    stored = db.session.get(User, user.id).password_hash
    assert verify_password(stored, winners[0])
    assert not verify_password(stored, PASSWORD)
    with pytest.raises(AccountError, match="already been used"):
        accounts.user_for_reset_token(token)


@needs_postgres
def test_forty_concurrent_wrong_codes_are_all_counted_and_only_five_are_compared(app, db):
    user, good = _unverified_user(db)
    bad = _wrong(good)

    results = _race_as(app, user.id, lambda racer, i: _confirm_like_the_form(racer, "verify", bad), 40)
    compared = sorted(r for r in results if "not right" in r)
    assert compared == sorted(f"Refused: {m}" for m in WRONG_TRIES_MESSAGES), results
    assert sorted(r for r in results if "not right" not in r) == [f"Refused: {TOO_MANY}"] * 35
    db.session.expire_all()
    record = db.session.scalars(select(EmailCode).where(EmailCode.user_id == user.id)).one()
    assert record.attempts == CODE_MAX_ATTEMPTS and record.used_at is None
    # the right code is refused now, and the refusal does not count or use anything
    with pytest.raises(Refused, match=TOO_MANY):
        _confirm_like_the_form(db.session.get(User, user.id), "verify", good)
    db.session.expire_all()
    assert db.session.get(User, user.id).email_verified_at is None
    assert db.session.get(EmailCode, record.id).attempts == CODE_MAX_ATTEMPTS


@needs_postgres
def test_the_right_code_raced_by_five_threads_verifies_once(app, db):
    user, good = _unverified_user(db)

    results = _race_as(app, user.id, lambda racer, i: _confirm_like_the_form(racer, "verify", good), 5)
    assert sorted(results) == [f"Refused: {NO_CODE}"] * 4 + ["ok"], results
    db.session.expire_all()
    record = db.session.scalars(select(EmailCode).where(EmailCode.user_id == user.id)).one()
    assert record.used_at is not None and record.attempts == 1  # only the winning try reached the code
    assert db.session.get(User, user.id).email_verified_at is not None


@needs_postgres
def test_the_right_email_change_code_raced_by_five_threads_changes_the_email_once(app, db):
    user = accounts.create_user("reader", "reader@example.com", PASSWORD)
    db.session.commit()
    registration.request_email_change(user, "new@example.com", PASSWORD)
    db.session.commit()
    code = _last_code(db)

    results = _race_as(app, user.id, lambda racer, i: _confirm_like_the_form(racer, "change_email", code), 5)
    assert sorted(results) == [f"Refused: {NO_CODE}"] * 4 + ["ok"], results
    db.session.expire_all()
    assert db.session.get(User, user.id).email == "new@example.com"
    assert _audit_count(db, "user.email_changed") == 1


# ---- sequential (SQLite and PostgreSQL) ----

def test_a_totp_step_is_consumed_in_the_database_not_in_a_copy_read_earlier(app, db):
    user, secret, _ = _two_factor_user(db)
    code = pyotp.TOTP(secret).now()
    assert twofactor.verify(user, code) == "totp"
    db.session.commit()
    step = db.session.get(User, user.id).totp_last_step
    assert step is not None
    # a second request that read the user before the first one committed still holds the old value
    set_committed_value(user, "totp_last_step", None)
    assert twofactor.verify(user, code) is None
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(User, user.id).totp_last_step == step


def test_an_older_totp_step_is_refused_after_a_newer_one(app, db):
    user, secret, _ = _two_factor_user(db)
    totp = pyotp.TOTP(secret)
    newer, older = totp.now(), totp.at(time.time() - totp.interval)
    assert twofactor.verify(user, newer) == "totp"
    db.session.commit()
    if older != newer:
        assert twofactor.verify(user, older) is None
    assert twofactor.verify(user, newer) is None


def test_a_recovery_code_works_once_and_is_case_and_dash_insensitive(app, db):
    user, _, codes = _two_factor_user(db)
    assert twofactor.verify(user, codes[0].upper().replace("-", " ")) == "recovery_code"
    db.session.commit()
    assert twofactor.verify(user, codes[0]) is None
    assert twofactor.remaining_recovery_codes(user) == 9


def test_a_reset_link_works_once_even_for_a_request_that_read_the_old_password(app, db):
    user = accounts.create_user("reader", "reader@example.com", PASSWORD)
    db.session.commit()
    token = accounts.reset_token(user)
    old_hash = user.password_hash
    accounts.reset_password(token, "a brand new passphrase 9")
    db.session.commit()
    # a second request that checked the token before the first one committed
    set_committed_value(user, "password_hash", old_hash)
    with pytest.raises(AccountError, match="This reset link has already been used"):
        accounts.reset_password(token, "yet another passphrase 10")
    db.session.rollback()
    db.session.expire_all()
    assert verify_password(db.session.get(User, user.id).password_hash, "a brand new passphrase 9")
    assert _audit_count(db, "user.password_reset") == 1


def test_a_changed_password_still_works_and_ends_the_reset_link(app, db):
    user = accounts.create_user("reader", "reader@example.com", PASSWORD)
    db.session.commit()
    token = accounts.reset_token(user)
    accounts.change_password(user, PASSWORD, "a brand new passphrase 9")
    db.session.commit()
    assert accounts.authenticate("reader", "a brand new passphrase 9") is not None
    with pytest.raises(AccountError, match="already been used"):
        accounts.reset_password(token, "yet another passphrase 10")


def test_a_password_change_from_a_request_that_read_the_old_password_changes_nothing(app, db):
    user = accounts.create_user("reader", "reader@example.com", PASSWORD)
    db.session.commit()
    old_hash = user.password_hash
    accounts.change_password(user, PASSWORD, "a brand new passphrase 9")
    db.session.commit()
    set_committed_value(user, "password_hash", old_hash)  # another tab, which read the user before
    with pytest.raises(AccountError, match="Your password was changed meanwhile. Please try again."):
        accounts.change_password(user, PASSWORD, "yet another passphrase 10")
    db.session.rollback()
    db.session.expire_all()
    assert verify_password(db.session.get(User, user.id).password_hash, "a brand new passphrase 9")
    assert _audit_count(db, "user.password_changed") == 1


def test_wrong_tries_count_down_with_clear_messages_then_the_right_code_is_refused(app, db):
    user, good = _unverified_user(db)
    bad = _wrong(good)
    seen = []
    for _ in range(CODE_MAX_ATTEMPTS):
        with pytest.raises(Refused) as refused:
            _confirm_like_the_form(user, "verify", bad)
        seen.append(str(refused.value))
    assert seen == WRONG_TRIES_MESSAGES
    for code in (bad, good):
        with pytest.raises(Refused, match=TOO_MANY):
            _confirm_like_the_form(user, "verify", code)
    db.session.expire_all()
    assert db.session.scalars(select(EmailCode.attempts)).one() == CODE_MAX_ATTEMPTS
    assert db.session.get(User, user.id).email_verified_at is None


def test_a_wrong_try_counts_even_for_a_request_that_read_an_old_count(app, db):
    user, good = _unverified_user(db)
    bad = _wrong(good)
    for _ in range(CODE_MAX_ATTEMPTS - 1):
        with pytest.raises(Refused):
            _confirm_like_the_form(user, "verify", bad)
    record = db.session.scalars(select(EmailCode)).one()
    set_committed_value(record, "attempts", 0)  # what a request that read the code early would hold
    with pytest.raises(Refused, match="No tries left"):
        _confirm_like_the_form(user, "verify", bad)
    db.session.expire_all()
    assert db.session.scalars(select(EmailCode.attempts)).one() == CODE_MAX_ATTEMPTS
    with pytest.raises(Refused, match=TOO_MANY):
        _confirm_like_the_form(db.session.get(User, user.id), "verify", good)


def test_the_right_code_on_the_last_try_works_once(app, db):
    user, good = _unverified_user(db)
    for _ in range(CODE_MAX_ATTEMPTS - 1):
        with pytest.raises(Refused):
            _confirm_like_the_form(user, "verify", _wrong(good))
    _confirm_like_the_form(user, "verify", good)
    db.session.expire_all()
    assert db.session.get(User, user.id).email_verified_at is not None
    with pytest.raises(Refused, match=NO_CODE):
        _confirm_like_the_form(db.session.get(User, user.id), "verify", good)


def test_a_used_code_is_refused_for_a_request_that_read_it_unused(app, db):
    user, good = _unverified_user(db)
    record = db.session.scalars(select(EmailCode)).one()
    _confirm_like_the_form(user, "verify", good)
    set_committed_value(record, "used_at", None)  # read before the first request committed
    with pytest.raises(Refused, match=NO_CODE):
        _confirm_like_the_form(user, "verify", good)


@needs_postgres
def test_two_recovery_code_regenerations_at_once_leave_ten_valid_codes(app, db):
    user, _secret, _codes = _two_factor_user(db)
    user_id = user.id  # read here: a thread must not reload the main session's objects

    def work(i):
        me = thread_db.session.get(User, user_id)
        return lambda: twofactor.regenerate_recovery_codes(me)

    assert race(app, work, 2) == ["ok", "ok"]
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(RecoveryCode)
                             .where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))) == 10


@needs_postgres
def test_two_tabs_turning_two_factor_on_at_once_keep_one_secret(app, db):
    user = accounts.create_user("tabs", "tabs@example.com", PASSWORD)
    db.session.commit()
    user_id = user.id
    secrets_ = [twofactor.new_secret() for _ in range(2)]

    def work(i):
        me = thread_db.session.get(User, user_id)
        return lambda: twofactor.enable(me, secrets_[i], pyotp.TOTP(secrets_[i]).now())

    outcomes = race(app, work, 2)
    assert sorted(o.split(":")[0] for o in outcomes) == ["AccountError", "ok"]
    db.session.expire_all()
    assert twofactor.decrypt(db.session.get(User, user_id).totp_secret) in secrets_  # one of them, whole
    assert db.session.scalar(select(func.count()).select_from(RecoveryCode).where(RecoveryCode.user_id == user_id)) == 10
