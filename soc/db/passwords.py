"""Password hashing with argon2id (argon2-cffi's defaults, RFC 9106 low-memory profile)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from soc.errors import SocError

MIN_LENGTH = 12
_hasher = PasswordHasher()


def check(password: str) -> None:
    """Refuse passwords the service will not store, with the reason."""
    if len(password) < MIN_LENGTH:
        raise SocError(f"password is too short: at least {MIN_LENGTH} characters needed, got {len(password)}")


def hash(password: str) -> str:
    """The argon2id hash to store; refuses a password that is too short."""
    check(password)
    return _hasher.hash(password)


def verify(password_hash: str, password: str) -> bool:
    """True when the password matches; False for a wrong password or an unreadable hash."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


_DUMMY = _hasher.hash("not a password of anyone here")


def burn(password: str) -> None:
    """Spend the time a real verification takes, so an unknown username answers as slowly as a
    wrong password and usernames cannot be told apart by timing."""
    verify(_DUMMY, password)


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than the current ones."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True
