"""Deleting an account (services.closure.deletion): the person's data goes, the shop's records stay. The other
parts of the shop's say in it are tested with them (wallet, checkout, holds, payment edges)."""
import pytest

from tests.conftest import PASSWORD
from webapp.models import User
from webapp.services.closure import deletion
from webapp.services.people import accounts
from webapp.services.people.accounts import AccountError


def test_delete_account_anonymises(app, db):
    user = accounts.create_user("reader", "reader@example.com", PASSWORD)
    accounts.save_address(user, {"full_name": "Ann Reader", "line1": "1 Main St", "city": "Springfield",
                                 "postcode": "12345", "country": "us"})
    db.session.commit()
    with pytest.raises(AccountError):
        deletion.delete_account(user, "wrong password")
    deletion.delete_account(user, PASSWORD)
    db.session.commit()
    user = db.session.get(User, user.id)
    assert user.username == f"deleted_{user.id}" and "reader" not in user.email
    assert user.full_name is None and user.addresses == [] and not user.is_active
    assert accounts.authenticate("reader", PASSWORD) is None
    assert accounts.username_errors("reader") == []  # the old name is free again
