"""The demo logins: a reader, an admin (two-factor with a published key) and an author.

Their passwords and the admin's key are public (README, `flask demo-credentials`): demo data only.
No Faker here, so the CLI can print them on any install.
"""
from __future__ import annotations

from datetime import UTC, datetime

import pyotp
from sqlalchemy import func, select

from ..extensions import db
from ..models import Author, BookAuthor, User
from ..services.circulation import wallet
from ..services.people import twofactor
from ..services.people.passwords import hash_password

DEMO_USERS = [
    # (role, username, email, password, full name)
    ("customer", "reader", "reader@folio.test", "reader-demo-pass-2026", "Demo Reader"),
    ("admin", "admin", "admin@folio.test", "admin-demo-pass-2026", "Demo Admin"),
    ("author", "author", "author@folio.test", "author-demo-pass-2026", "Demo Author"),
]
# The demo admin's TOTP key: demo data only, printed by `make run` (admins must use 2FA).
DEMO_ADMIN_TOTP = "FOLIODEMOADMIN2FA7ONLYFORDEMOS22"


def ensure_demo_users() -> list[tuple[str, str, str]]:
    """Create the demo logins that are missing; (role, login, password) of those created. The reader gets
    $25 of wallet credit (once: the reference is unique) to try plans and wallet payments with."""
    created = []
    for role, username, email, password, full_name in DEMO_USERS:
        if db.session.scalar(select(User.id).where(func.lower(User.username) == username)) is None:
            db.session.add(User(username=username, email=email, password_hash=hash_password(password),
                                role=role, full_name=full_name, email_verified_at=datetime.now(UTC)))
            created.append((role, username, password))
    db.session.flush()
    reader = db.session.scalar(select(User).where(func.lower(User.username) == "reader"))
    if reader is not None:
        wallet.credit(reader.id, 2500, "adjustment", reference="demo-credit", note="Welcome credit (demo)")
    return created


def enable_demo_admin_2fa() -> None:
    """Turn on two-factor authentication for the demo admin with the published demo key. Commits."""
    admin = db.session.scalar(select(User).where(User.username == "admin", User.role == "admin"))
    if admin is None or admin.has_2fa:
        return
    twofactor.enable(admin, DEMO_ADMIN_TOTP, pyotp.TOTP(DEMO_ADMIN_TOTP).now())
    admin.totp_last_step = None
    db.session.commit()


def link_demo_author() -> None:
    """The demo author login writes the catalog's first author (so /author has figures to show)."""
    user = db.session.scalar(select(User).where(func.lower(User.username) == "author"))
    if user is None or db.session.scalar(select(Author.id).where(Author.user_id == user.id)) is not None:
        return
    first = db.session.scalar(select(Author).join(BookAuthor, BookAuthor.author_id == Author.id)
                              .where(Author.user_id.is_(None)).order_by(Author.id).limit(1))
    if first is not None:
        first.user_id = user.id
        db.session.flush()
