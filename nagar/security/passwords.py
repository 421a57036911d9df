"""Password hashing with Argon2id (argon2-cffi).

Parameters are argon2-cffi's defaults, which follow RFC 9106 section 4's second recommended option
("low memory"): Argon2id, t=3 iterations, m=64 MiB, p=4 lanes, 16-byte salt, 32-byte tag.

References
----------
A. Biryukov, D. Dinu, D. Khovratovich, S. Josefsson, "Argon2 Memory-Hard Function for Password Hashing
and Proof-of-Work Applications", RFC 9106, IETF, September 2021, section 4.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from nagar.core.errors import InvalidInput

_hasher = PasswordHasher()
_DUMMY = _hasher.hash("nagar-timing-equaliser")
MIN_LENGTH = 10


def hash_password(password: str) -> str:
    check_strength(password)
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; for an unknown user pass ``None`` (same cost, always False)."""
    try:
        return _hasher.verify(stored_hash or _DUMMY, password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)


def check_strength(password: str) -> None:
    """Refuse passwords shorter than 10 characters or made of one repeated character."""
    if not isinstance(password, str) or len(password) < MIN_LENGTH:
        raise InvalidInput(f"password must be at least {MIN_LENGTH} characters", field="password")
    if len(set(password)) < 3:
        raise InvalidInput("password is too repetitive", field="password")
