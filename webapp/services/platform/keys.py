"""Data-key rotation: re-encrypt every secret stored encrypted under the newest DATA_ENCRYPTION_KEYS key.

Rotating a key (a leaked key, a yearly habit, or leaving the key Folio used to derive from SECRET_KEY):

1. put a new key first: DATA_ENCRYPTION_KEYS="<new>,<old>" (`flask --app wsgi keys generate`), restart;
2. `flask --app wsgi keys rotate`: every value still under an older key is re-encrypted under the newest;
3. when it reports 0 left under older keys and 0 unreadable, remove the old key and restart.

`rotate` works in batches (one short transaction each), is safe to run again (values already under the newest
key are counted, not rewritten) and to run while the shop is open: each value is replaced by a conditional
UPDATE on the ciphertext it read, so a value the app changed meanwhile (2FA set up again, new bank details) is
left as the app wrote it, already under the newest key. A value no configured key opens is reported by table
and id, never a crash; it stays as it is.

ENCRYPTED lists every column holding services.platform.crypto ciphertext: a new encrypted column belongs there.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import select, update
from sqlalchemy.orm import InstrumentedAttribute

from ...extensions import db
from ...models import Author, User
from . import dml
from .crypto import data_keys

# (model, column name): every column that services.platform.crypto.encrypt writes.
ENCRYPTED: tuple[tuple[type[User] | type[Author], str], ...] = (
    (User, "totp_secret"), (Author, "bank_account_encrypted"))


@dataclass
class ColumnReport:
    name: str  # "users.totp_secret"
    rotated: int = 0  # re-encrypted under the newest key now
    current: int = 0  # already under the newest key
    changed: int = 0  # changed by the app while we worked (written under the newest key by the app)
    unreadable: list[int] = field(default_factory=list)  # ids of values no configured key opens

    def line(self) -> str:
        text = (f"{self.name}: {self.rotated} re-encrypted, {self.current} already under the newest key, "
                f"{len(self.unreadable)} unreadable")
        if self.changed:
            text += f", {self.changed} changed meanwhile (left as written)"
        if self.unreadable:
            shown = ", ".join(str(i) for i in self.unreadable[:20])
            text += f" (ids {shown}{', ...' if len(self.unreadable) > 20 else ''})"
        return text


def rotate(batch_size: int = 500, progress: Callable[[str], object] | None = None) -> list[ColumnReport]:
    """Re-encrypt every encrypted value under the newest key (module docstring). One report per column."""
    keys = data_keys()
    newest, every = Fernet(keys[0]), MultiFernet([Fernet(k) for k in keys])
    reports = []
    for model, column_name in ENCRYPTED:
        column: InstrumentedAttribute[str] = getattr(model, column_name)  # nullable: only non-NULL rows are read
        pk: InstrumentedAttribute[int] = model.id
        report = ColumnReport(f"{model.__tablename__}.{column_name}")
        last_id = 0
        while True:
            rows = db.session.execute(select(pk, column).where(column.is_not(None), pk > last_id)
                                      .order_by(pk).limit(batch_size)).all()
            db.session.rollback()  # no transaction held while working out the batch
            if not rows:
                break
            last_id = rows[-1][0]
            changes = []
            for row_id, token in rows:
                try:
                    newest.decrypt(token.encode())
                    report.current += 1
                    continue
                except InvalidToken:
                    pass
                try:
                    changes.append((row_id, token, every.rotate(token.encode()).decode()))
                except InvalidToken:
                    report.unreadable.append(row_id)
            for row_id, old, new in changes:
                done = dml.changed(update(model).where(pk == row_id, column == old).values({column_name: new})
                                   .execution_options(synchronize_session=False))
                if done:
                    report.rotated += 1
                else:
                    report.changed += 1
            db.session.commit()
            if progress is not None:
                progress(f"{report.name}: up to id {last_id}")
        reports.append(report)
    return reports
