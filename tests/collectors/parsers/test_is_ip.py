"""`is_ip` (a fast path for dotted IPv4) decides exactly as the standard library does."""

from __future__ import annotations

from ipaddress import ip_address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collectors.parsers.base import is_ip


def reference(text: str) -> bool:
    try:
        ip_address(text)
    except ValueError:
        return False
    return True


TRICKY = ["1.2.3.4", "0.0.0.0",  # noqa: S104 "255.255.255.255", "256.1.1.1", "01.2.3.4", "1.2.3.04", "1.2.3",
          "1.2.3.4.5", "1.2.3.\u0664", "1.2.3.\u00b2", "1.2.3.-4", "1.2.3.+4", " 1.2.3.4", "1..3.4",
          "::1", "::ffff:1.2.3.4", "fe80::1%eth0", "", "host.example.vn"]  # fmt: skip


@pytest.mark.parametrize("text", TRICKY)
def test_it_agrees_with_ipaddress_on_tricky_strings(text: str) -> None:
    assert is_ip(text) == reference(text)


@given(
    st.lists(
        st.one_of(st.integers(-5, 300).map(str), st.text("0123456789+- ", max_size=4)), min_size=4, max_size=4
    )
)
def test_it_agrees_with_ipaddress_on_dotted_quads(parts: list[str]) -> None:
    text = ".".join(parts)
    assert is_ip(text) == reference(text)
