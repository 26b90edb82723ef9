"""Password hashing with argon2id (argon2-cffi). Cost parameters come from the config, so a
change of parameters is picked up at the next sign-in (services.people.accounts rehashes)."""
from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, has_app_context

DEFAULTS = {"time_cost": 3, "memory_cost": 65536, "parallelism": 4}


@lru_cache(maxsize=8)
def _hasher_for(time_cost: int, memory_cost: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)


def _hasher() -> PasswordHasher:
    params = dict(DEFAULTS)
    if has_app_context():
        params.update({k: current_app.config[f"ARGON2_{k.upper()}"] for k in DEFAULTS
                       if current_app.config.get(f"ARGON2_{k.upper()}")})
    return _hasher_for(params["time_cost"], params["memory_cost"], params["parallelism"])


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher().check_needs_rehash(password_hash)
