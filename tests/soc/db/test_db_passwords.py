"""argon2id password hashing."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from soc.db import passwords
from soc.errors import SocError

GOOD = "mật khẩu đủ dài 2026"


def test_it_verifies_the_right_password() -> None:
    stored = passwords.hash(GOOD)

    assert stored.startswith("$argon2id$")
    assert passwords.verify(stored, GOOD)


def test_it_refuses_a_wrong_password() -> None:
    assert not passwords.verify(passwords.hash(GOOD), GOOD + "x")


def test_it_refuses_a_short_password_with_a_clear_error() -> None:
    with pytest.raises(SocError, match="at least 12 characters needed, got 11"):
        passwords.hash("short-pass1")


def test_it_needs_no_rehash_for_a_current_hash() -> None:
    assert not passwords.needs_rehash(passwords.hash(GOOD))


def test_it_needs_a_rehash_for_weaker_parameters() -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(GOOD)

    assert passwords.verify(weak, GOOD)
    assert passwords.needs_rehash(weak)


def test_it_treats_an_unreadable_hash_as_no_match() -> None:
    assert not passwords.verify("not-a-hash", GOOD)
    assert passwords.needs_rehash("not-a-hash")
