"""Password hashing (argon2id with the library's current parameters)."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from shieldwall.errors import ValidationFailed

MIN_LENGTH = 12
MAX_LENGTH = 1024
_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Verified against when the user does not exist, so that an unknown user and
    a wrong password take the same time and look the same. Made on first use:
    at import it cost every CLI command a second."""
    return _hasher.hash("no user has this password, it only costs time")


def check_strength(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise ValidationFailed(
            f"a password needs at least {MIN_LENGTH} characters", where="password"
        )
    if len(password) > MAX_LENGTH:
        raise ValidationFailed(f"a password has at most {MAX_LENGTH} characters", where="password")


def hash_password(password: str) -> str:
    check_strength(password)
    return _hasher.hash(password)


def verify(stored_hash: str | None, password: str) -> bool:
    """True when `password` matches; a missing hash costs the same and is False."""
    try:
        return _hasher.verify(stored_hash or _dummy_hash(), password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)
