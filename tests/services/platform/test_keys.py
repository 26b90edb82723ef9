"""Data-key rotation (services.platform.keys, `flask --app wsgi keys rotate`): encrypt under A, configure "B,A", rotate,
then configure only "B": everything still opens; a value under a key nobody configured is reported, not crashed on.
"""
import pyotp
import pytest
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import select

from webapp.models import Author, User
from webapp.services.people import authors, twofactor
from webapp.services.platform import crypto, keys

KEY_A, KEY_B, KEY_LOST = (Fernet.generate_key().decode() for _ in range(3))
TOTP = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@pytest.fixture
def keyring(app, monkeypatch):
    def use(value: str | None) -> None:
        monkeypatch.setitem(app.config, "DATA_ENCRYPTION_KEYS", value)

    return use


def _secrets(db, auth, count: int = 3):
    """`count` users with 2FA and `count` authors with a bank account, all encrypted under the current key."""
    users, people = [], []
    for n in range(count):
        user = auth.user(f"twofa{n}")
        twofactor.enable(user, TOTP, pyotp.TOTP(TOTP).now())
        user.totp_last_step = None
        author = Author(name=f"Writer {n}", slug=f"writer-{n}")
        author.bank_account_encrypted = crypto.encrypt(f"GB82WEST1234569876543{n}")
        db.session.add(author)
        users.append(user)
        people.append(author)
    db.session.commit()
    return [u.id for u in users], [a.id for a in people]


def _raw(db, model, column):
    db.session.expire_all()
    return {row_id: value for row_id, value in db.session.execute(select(model.id, getattr(model, column)))}


def test_rotate_moves_everything_to_the_newest_key_and_old_keys_can_go(app, db, auth, keyring):
    keyring(KEY_A)
    user_ids, author_ids = _secrets(db, auth)
    before = _raw(db, User, "totp_secret")

    keyring(f"{KEY_B},{KEY_A}")
    reports = keys.rotate(batch_size=2)  # several batches
    assert [(r.name, r.rotated, r.current, r.unreadable) for r in reports] == [
        ("users.totp_secret", 3, 0, []), ("authors.bank_account_encrypted", 3, 0, [])]
    after = _raw(db, User, "totp_secret")
    assert all(after[i] != before[i] for i in user_ids)

    again = keys.rotate()  # idempotent: nothing left to do, nothing rewritten
    assert [(r.rotated, r.current, r.unreadable) for r in again] == [(0, 3, []), (0, 3, [])]
    assert _raw(db, User, "totp_secret") == after

    keyring(KEY_B)  # the old key is gone: everything still opens
    db.session.expire_all()
    for user_id in user_ids:
        assert crypto.decrypt(db.session.get(User, user_id).totp_secret) == TOTP
    for n, author_id in enumerate(author_ids):
        assert authors.bank_account_number(db.session.get(Author, author_id)) == f"GB82WEST1234569876543{n}"
    with pytest.raises(InvalidToken):  # and A really is gone
        Fernet(KEY_A).decrypt(db.session.get(User, user_ids[0]).totp_secret.encode())


def test_a_value_no_key_opens_is_reported_and_left_alone(app, db, auth, keyring):
    keyring(KEY_A)
    user_ids, author_ids = _secrets(db, auth, count=2)
    stray = db.session.get(Author, author_ids[1])
    stray.bank_account_encrypted = Fernet(KEY_LOST).encrypt(b"12345678").decode()
    db.session.commit()
    lost_token = stray.bank_account_encrypted

    keyring(f"{KEY_B},{KEY_A}")
    reports = keys.rotate()
    assert [(r.rotated, r.unreadable) for r in reports] == [(2, []), (1, [author_ids[1]])]
    assert f"1 unreadable (ids {author_ids[1]})" in reports[1].line()
    assert _raw(db, Author, "bank_account_encrypted")[author_ids[1]] == lost_token
    assert authors.bank_account_number(db.session.get(Author, author_ids[0])) == "GB82WEST12345698765430"


def test_keys_rotate_command_reports_counts(app, db, auth, keyring, runner):
    keyring(KEY_A)
    _, author_ids = _secrets(db, auth, count=2)
    keyring(f"{KEY_B},{KEY_A}")
    result = runner.invoke(args=["keys", "rotate", "--batch-size", "1"])
    assert result.exit_code == 0, result.output
    assert "users.totp_secret: 2 re-encrypted, 0 already under the newest key, 0 unreadable" in result.output
    assert "authors.bank_account_encrypted: 2 re-encrypted" in result.output
    assert "older keys can be removed" in result.output

    db.session.get(Author, author_ids[0]).bank_account_encrypted = Fernet(KEY_LOST).encrypt(b"1").decode()
    db.session.commit()
    result = runner.invoke(args=["keys", "rotate"])
    assert result.exit_code == 1  # reported, with the ids, and the operator told to keep the old keys
    assert f"authors.bank_account_encrypted: 0 re-encrypted, 1 already under the newest key, 1 unreadable " \
           f"(ids {author_ids[0]})" in result.output
    assert "do not remove an old key" in result.output and "Traceback" not in result.output


def test_keys_generate_and_legacy_commands(app, runner, keyring):
    generated = runner.invoke(args=["keys", "generate"]).output.strip()
    Fernet(generated)  # a valid key
    assert crypto.parse_keys(generated) == [generated]
    assert runner.invoke(args=["keys", "generate"]).output.strip() != generated

    keyring(None)  # development/testing without keys: the derived key, which `keys legacy` prints
    legacy = runner.invoke(args=["keys", "legacy"]).output.strip()
    assert legacy == crypto.key_from_secret(app.config["SECRET_KEY"]) == crypto.data_keys()[0]
    assert runner.invoke(args=["keys", "legacy", "--secret-key", "old"]).output.strip() == crypto.key_from_secret("old")


def test_upgrading_from_the_derived_key_keeps_secrets(app, db, auth, keyring):
    """An installation that ran without DATA_ENCRYPTION_KEYS: "<new>,<legacy>", rotate, then "<new>" alone."""
    keyring(None)
    user_ids, _ = _secrets(db, auth, count=1)
    keyring(f"{KEY_B},{crypto.key_from_secret(app.config['SECRET_KEY'])}")
    assert [r.rotated for r in keys.rotate()] == [1, 1]
    keyring(KEY_B)
    db.session.expire_all()
    assert crypto.decrypt(db.session.get(User, user_ids[0]).totp_secret) == TOTP


def test_code_hashes_do_not_depend_on_secret_key(app, monkeypatch):
    """Recovery and email codes survive a SECRET_KEY rotation once CODE_HASH_KEY is set; setting CODE_HASH_KEY to
    the old SECRET_KEY keeps the codes of an installation that had none."""
    before = crypto.keyed_hash("7:abcdefghjk", "recovery")  # testing: SECRET_KEY, as before CODE_HASH_KEY existed
    monkeypatch.setitem(app.config, "CODE_HASH_KEY", app.config["SECRET_KEY"])
    monkeypatch.setitem(app.config, "SECRET_KEY", "a-brand-new-secret-key")
    assert crypto.keyed_hash("7:abcdefghjk", "recovery") == before
    monkeypatch.setitem(app.config, "CODE_HASH_KEY", "another-code-hash-key-of-32-characters")
    assert crypto.keyed_hash("7:abcdefghjk", "recovery") != before
    assert crypto.keyed_hash("7:abcdefghjk", "email-code") != crypto.keyed_hash("7:abcdefghjk", "recovery")


def test_a_2fa_setup_begun_under_a_removed_key_starts_again(app, client, auth, keyring):
    """The setup secret waits in the session encrypted; after its key is gone the page starts over, no 500."""
    keyring(KEY_A)
    auth.user("setter")
    auth.login("setter")
    assert client.get("/account/2fa/setup").status_code == 200
    keyring(KEY_B)
    page = client.get("/account/2fa/setup")
    assert page.status_code == 200 and 'name="code"' in page.get_data(as_text=True)
