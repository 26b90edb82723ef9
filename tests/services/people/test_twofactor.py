import time

import pyotp
import pytest
import time_machine

from tests.conftest import PASSWORD
from webapp.models import RecoveryCode, utcnow
from webapp.services.people import accounts, twofactor
from webapp.services.people.accounts import AccountError


@pytest.fixture
def user(app, db):
    user = accounts.create_user("reader", "reader@example.com", PASSWORD)
    db.session.commit()
    return user


def test_enable_needs_a_valid_code_and_stores_the_secret_encrypted(user, db):
    secret = twofactor.new_secret()
    with pytest.raises(AccountError):
        twofactor.enable(user, secret, "123456" if pyotp.TOTP(secret).now() != "123456" else "654321")
    codes = twofactor.enable(user, secret, pyotp.TOTP(secret).now())
    db.session.commit()
    assert user.has_2fa and secret not in user.totp_secret
    assert len(codes) == 10 and len(set(codes)) == 10
    stored = db.session.query(RecoveryCode).filter_by(user_id=user.id).all()
    assert len(stored) == 10 and all(c.replace("-", "") not in s.code_hash for c in codes for s in stored)


def test_totp_codes_cannot_be_replayed(user, db):
    secret = twofactor.new_secret()
    with time_machine.travel(utcnow(), tick=False) as traveller:
        twofactor.enable(user, secret, pyotp.TOTP(secret).now())
        traveller.shift(30)
        code = pyotp.TOTP(secret).now()
        assert twofactor.verify(user, code) == "totp"
        assert twofactor.verify(user, code) is None


def test_recovery_codes_work_once(user, db):
    secret = twofactor.new_secret()
    codes = twofactor.enable(user, secret, pyotp.TOTP(secret).now())
    assert twofactor.verify(user, codes[3].upper()) == "recovery_code"
    assert twofactor.verify(user, codes[3]) is None
    assert twofactor.remaining_recovery_codes(user) == 9


def test_disable_needs_password_and_admins_cannot(user, db):
    secret = twofactor.new_secret()
    twofactor.enable(user, secret, pyotp.TOTP(secret).now())
    with pytest.raises(AccountError):
        twofactor.disable(user, "nope")
    twofactor.disable(user, PASSWORD)
    assert not user.has_2fa
    user.role = "admin"
    twofactor.enable(user, secret, pyotp.TOTP(secret).at(time.time() + 30))
    with pytest.raises(AccountError, match="Admins"):
        twofactor.disable(user, PASSWORD)


def test_qr_code_is_svg(user):
    svg = twofactor.qr_svg(twofactor.provisioning_uri(user, twofactor.new_secret()))
    assert svg.lstrip().startswith("<?xml") or "<svg" in svg[:200]
