"""The matcher's shortcuts read and decide exactly what the reference (`query.py`) does.

Documents are generated in every shape a field can take (nested objects, arrays of values and of
objects, numbers, numbers written as text, booleans, null, over-long text); the fast readers and
the compiled network and range tests are compared with `indexed_values` and `matches`.
"""

from __future__ import annotations

from typing import Any

from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from soc import ecs
from soc.store.matcher import compiled, prefetch, values
from soc.store.query import Cidr, Or, Query, Range, indexed_values, matches

FIELDS = ["source.ip", "source.port", "process.name", "process.parent.name", "message", "@timestamp"]
LONG = "x" * (ecs.MAX_INDEXED_CHARS + 1)
ADDRESSES = [
    "10.1.2.3",
    "10.255.255.255",
    "11.0.0.0",
    "8.8.8.8",
    "::1",
    "fc00::5",
    "::ffff:10.0.0.1",
    "2001:db8::1",
]
KEYS = st.sampled_from(["name", "ip", "port", "parent"])

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 70000),
    st.sampled_from(ADDRESSES),
    st.sampled_from(["sshd", "80", "2026-11-27T02:00:00Z", LONG, ""]),
)
leaf_values = st.one_of(scalars, st.lists(scalars, max_size=3))
objects = st.recursive(
    st.dictionaries(KEYS, leaf_values, max_size=3),
    lambda inner: st.one_of(
        st.dictionaries(KEYS, st.one_of(leaf_values, inner), max_size=3),
        st.lists(inner, max_size=2),
    ),
    max_leaves=6,
)
plain = st.fixed_dictionaries({}, optional={"ip": scalars, "port": scalars, "name": scalars})
docs = st.fixed_dictionaries(
    {},
    optional={
        "source": st.one_of(plain, objects, leaf_values),
        "process": st.one_of(plain, objects, leaf_values),
        "message": leaf_values,
        "@timestamp": st.sampled_from(["2026-11-27T02:00:00Z", "2026-11-27T02:00:00.5+07:00"]),
    },
)


def _readable(doc: dict[str, Any], field: str) -> list[Any] | None:
    """The reference values, or None when the reference itself refuses the document."""
    try:
        return indexed_values(doc, field)
    except ValueError:
        return None


@settings(max_examples=500, deadline=None)
@given(docs)
def test_it_reads_the_values_the_reference_reads(doc: dict[str, Any]) -> None:
    for field in FIELDS:
        expected = _readable(doc, field)
        if expected is not None:
            assert values(doc, field) == expected


@settings(max_examples=500, deadline=None)
@given(docs)
def test_it_prefetches_the_values_the_reference_reads(doc: dict[str, Any]) -> None:
    expected = {f: _readable(doc, f) for f in FIELDS}
    if any(v is None for v in expected.values()):
        return
    memo: dict[Any, Any] = {}
    prefetch(FIELDS)(doc, memo)
    assert {f: memo.get(f, []) for f in FIELDS} == expected


NETWORKS = ["10.0.0.0/8", "192.168.0.0/16", "fc00::/7", "::1/128", "8.8.8.8/32", "::ffff:0:0/96"]


@settings(max_examples=500, deadline=None)
@given(docs, st.lists(st.sampled_from(NETWORKS), min_size=1, max_size=4))
@example({"source": {"ip": "8.8.8.8"}}, ["8.8.8.8/32"])
@example({"source": {"ip": ["11.0.0.0", "10.255.255.255"]}}, ["10.0.0.0/8"])
@example({"source": {"ip": "::ffff:10.0.0.1"}}, ["fc00::/7", "10.0.0.0/8"])
@example({"source": {"ip": "10.1.2.3"}}, ["::ffff:0:0/96"])
def test_it_tests_networks_as_the_reference_does(doc: dict[str, Any], networks: list[str]) -> None:
    # (a boolean in an address field reads as 0.0.0.1 on both sides; Python warns about it)
    assume(not any(isinstance(v, bool) for v in ecs.values(doc, "source.ip")))
    if _readable(doc, "source.ip") is None:
        return
    query: Query = Or(tuple(Cidr("source.ip", n) for n in networks))
    assert compiled(query)(doc, {}) == matches(doc, query)
    assert compiled(Cidr("source.ip", networks[0]))(doc, {}) == matches(doc, Cidr("source.ip", networks[0]))


@settings(max_examples=300, deadline=None)
@given(
    docs,
    st.one_of(st.none(), st.integers(0, 100)),
    st.one_of(st.none(), st.integers(0, 100)),
    st.one_of(st.none(), st.integers(0, 100)),
)
def test_it_tests_ranges_as_the_reference_does(doc: dict[str, Any], gte: Any, gt: Any, lt: Any) -> None:
    port = _readable(doc, "source.port")
    if port is None or None in port:
        return
    query = Range("source.port", gte=gte, gt=gt, lt=lt)
    assert compiled(query)(doc, {}) == matches(doc, query)


_dotted = st.lists(
    st.one_of(st.integers(0, 300).map(str), st.sampled_from(["01", "00", "1a", "", " 1", "-1"])),
    min_size=3,
    max_size=5,
).map(".".join)


@given(st.one_of(_dotted, st.ip_addresses().map(str), st.text(max_size=20)))
@example("1.2.3.4\n")
@example("010.0.0.1")
def test_group_keys_of_an_ip_field_are_the_engines_bucket_keys(text: str) -> None:
    import ipaddress

    from soc.store.matcher import group_keys
    from soc.store.query import canonical_ipv4, group_key

    try:
        parsed = ipaddress.ip_address(text)
    except ValueError:
        assert not canonical_ipv4(text)
        return
    assert canonical_ipv4(text) == (parsed.version == 4 and str(parsed) == text)
    assert group_keys({"source": {"ip": text}}, "source.ip") == {group_key(parsed)}


@given(
    st.one_of(st.text(max_size=30), st.integers(), st.booleans(), st.none(), st.lists(st.text(max_size=5)))
)
@example("x" * (ecs.MAX_INDEXED_CHARS + 1))
def test_group_keys_of_a_keyword_field_are_the_engines_bucket_keys(value: Any) -> None:
    from soc.store.matcher import group_keys
    from soc.store.query import group_key

    doc = {"user": {"name": value}}
    assert group_keys(doc, "user.name") == {group_key(v) for v in indexed_values(doc, "user.name")}
