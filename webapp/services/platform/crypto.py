"""Encryption at rest for secrets stored in the database (TOTP secrets, bank details), and keyed hashes of
one-time codes.

Keys:

* DATA_ENCRYPTION_KEYS: comma-separated Fernet keys, newest first. Values are encrypted under the first and
  decrypted under any (MultiFernet), so a key is rotated by putting a new one first, running
  `flask --app wsgi keys rotate` (services.platform.keys) and then removing the old one. Production refuses to start
  without it (config.ProductionConfig). Development and testing without it fall back to a key derived from
  SECRET_KEY (`key_from_secret`): convenient for a laptop, but then changing SECRET_KEY makes every stored
  secret unreadable, which is why production never does this.
* CODE_HASH_KEY: the HMAC key of `keyed_hash` (email codes, 2FA recovery codes). A key of its own, not
  SECRET_KEY: rotating a leaked SECRET_KEY (it signs sessions and reset links) must not silently invalidate
  every recovery code, which would lock admins out of the 2FA they cannot turn off. Development and testing
  without it use SECRET_KEY, as Folio always did. An installation upgrading keeps its codes by setting
  CODE_HASH_KEY to its old SECRET_KEY (the derivation is the same) together with a new SECRET_KEY: production
  refuses the two being equal (README, "Rotating the data key").
"""
from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app


class BadKeys(ValueError):
    """A DATA_ENCRYPTION_KEYS value that is not a list of Fernet keys (the message names the bad one)."""


def parse_keys(raw: str | None) -> list[str]:
    """The Fernet keys in a comma-separated DATA_ENCRYPTION_KEYS value, newest first; BadKeys names the first
    key that is not a Fernet key (by position: the value itself is a secret and is never printed)."""
    keys = [k.strip() for k in (raw or "").split(",") if k.strip()]
    if not keys:
        raise BadKeys("DATA_ENCRYPTION_KEYS holds no key")
    for position, key in enumerate(keys, 1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise BadKeys(f"DATA_ENCRYPTION_KEYS key {position} of {len(keys)} is not a Fernet key (32 url-safe "
                            "base64-encoded bytes; make one with `flask --app wsgi keys generate`)") from None
    if len(set(keys)) != len(keys):
        raise BadKeys("DATA_ENCRYPTION_KEYS lists the same key twice")
    return keys


def key_from_secret(secret: str) -> str:
    """The Fernet key Folio derives from SECRET_KEY when DATA_ENCRYPTION_KEYS is not set (development, testing,
    and installations from before DATA_ENCRYPTION_KEYS was required: see `flask keys legacy`)."""
    digest = hashlib.sha256(("folio-data-key:" + secret).encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


def generate_key() -> str:
    return Fernet.generate_key().decode()


def data_keys() -> list[str]:
    """The configured keys, newest first (development/testing without any: the one derived from SECRET_KEY)."""
    configured = current_app.config.get("DATA_ENCRYPTION_KEYS")
    if configured:
        return parse_keys(configured)
    if current_app.config.get("FOLIO_CONFIG") == "production":  # ProductionConfig.init refuses this first
        raise RuntimeError("DATA_ENCRYPTION_KEYS is not set: production never derives a key from SECRET_KEY")
    return [key_from_secret(current_app.config["SECRET_KEY"])]


def _cipher() -> MultiFernet:
    return MultiFernet([Fernet(k) for k in data_keys()])


def encrypt(plaintext: str) -> str:
    return _cipher().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _cipher().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("cannot decrypt: wrong key or damaged value") from exc


def _hash_key() -> str:
    key: str | None = current_app.config.get("CODE_HASH_KEY")
    if key:
        return key
    if current_app.config.get("FOLIO_CONFIG") == "production":  # ProductionConfig.init refuses this first
        raise RuntimeError("CODE_HASH_KEY is not set")
    secret: str = current_app.config["SECRET_KEY"]
    return secret


def keyed_hash(value: str, purpose: str) -> str:
    """HMAC-SHA256 of a short secret (one-time codes, recovery codes) under CODE_HASH_KEY (module docstring)."""
    key = hashlib.sha256(f"{purpose}:{_hash_key()}".encode()).digest()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a, b)
