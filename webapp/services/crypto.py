"""Encryption at rest for secrets stored in the database (TOTP secrets, bank details).

Keys come from DATA_ENCRYPTION_KEYS (comma-separated Fernet keys, newest first, so keys can
be rotated); without it a key is derived from SECRET_KEY.
"""
from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app


def _cipher() -> MultiFernet:
    configured = current_app.config.get("DATA_ENCRYPTION_KEYS")
    if configured:
        keys = [k.strip() for k in configured.split(",") if k.strip()]
    else:
        digest = hashlib.sha256(("folio-data-key:" + current_app.config["SECRET_KEY"]).encode()).digest()
        keys = [base64.urlsafe_b64encode(digest).decode()]
    return MultiFernet([Fernet(k) for k in keys])


def encrypt(plaintext: str) -> str:
    return _cipher().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _cipher().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("cannot decrypt: wrong key or damaged value") from exc


def keyed_hash(value: str, purpose: str) -> str:
    """HMAC-SHA256 of a short secret (one-time codes, recovery codes) with the app secret."""
    key = hashlib.sha256(f"{purpose}:{current_app.config['SECRET_KEY']}".encode()).digest()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a, b)
