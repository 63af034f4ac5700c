"""argon2id hashing, password policy and generation."""

from __future__ import annotations

import secrets
import string
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from certvault.errors import InvalidInput

_HASHER = PasswordHasher()  # argon2id, RFC 9106 low-memory profile defaults


@cache
def _dummy() -> str:
    """A real hash to verify against when the user does not exist, so timing does not reveal it. Made at the
    first check of any password (whether the user exists or not), not at import."""
    return _HASHER.hash("certvault-no-such-user")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    dummy = _dummy()
    try:
        return _HASHER.verify(stored or dummy, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _HASHER.check_needs_rehash(stored)


def check_policy(password: str, min_length: int) -> None:
    if len(password) < min_length:
        raise InvalidInput(f"password must be at least {min_length} characters long")
    classes = sum(
        any(c in group for c in password)
        for group in (string.ascii_lowercase, string.ascii_uppercase, string.digits)
    )
    if classes < 2 and len(password) < 20:
        raise InvalidInput("password needs at least two of: lower case, upper case, digits")


def generate_password(length: int = 20) -> str:
    alphabet = string.ascii_letters + string.digits + "-_.!@#%"
    while True:
        value = "".join(secrets.choice(alphabet) for _ in range(length))
        if any(c.islower() for c in value) and any(c.isupper() for c in value) and any(
            c.isdigit() for c in value
        ):
            return value
