"""Guards never turn away a document the query matches: the router is a prefilter, never a judge.

Properties over generated wildcards, regexes and values (with the case-folding traps: the Kelvin
sign folds onto `k`, the long s onto `s`), checked against the reference `query.matches`.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from soc.store import regex
from soc.store.prefilter import Router, guard, literal_pieces, regex_keys
from soc.store.query import And, Not, Or, Query, Regex, Term, Wildcard, matches

TEXT = "abkKsS/.-= \n\u212a\u017f"
"""Letters in both cases, separators, a newline and two non-ASCII letters that fold onto ASCII."""

values = st.text(TEXT + "*?\\", max_size=12)
docs = st.fixed_dictionaries(
    {
        "message": st.one_of(values, st.lists(values, max_size=3)),
        "process": st.fixed_dictionaries({"executable": values}),
    }
)
wildcards = st.text(TEXT + "*?\\", max_size=8)
fields = st.sampled_from(["message", "process.executable"])
leaves = st.one_of(
    st.builds(Wildcard, fields, wildcards, st.booleans()),
    st.builds(Term, fields, values, st.booleans()),
)
queries = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.builds(And, st.lists(inner, min_size=1, max_size=3).map(tuple)),
        st.builds(Or, st.lists(inner, min_size=1, max_size=3).map(tuple)),
        st.builds(Not, inner),
    ),
    max_leaves=6,
)

ATOMS = ["a", "b", "k", "s", "ab", "ss", "/", r"\.", "-", " ", ".", r"\s", r"\w", "[a-c]", "[^/]", "K"]
regex_text = st.recursive(
    st.sampled_from(ATOMS),
    lambda inner: st.one_of(
        st.lists(inner, min_size=2, max_size=4).map("".join),
        st.lists(inner, min_size=2, max_size=3).map(lambda xs: "(" + "|".join(xs) + ")"),
        st.tuples(inner, st.sampled_from(["?", "*", "+", "{1,2}", "{0,2}"])).map(
            lambda t: f"(?:{t[0]}){t[1]}"
        ),
    ),
    max_leaves=8,
)
regexes = st.tuples(st.sampled_from(["", "(?i)", "^", "(?i)^"]), regex_text, st.sampled_from(["", "$"])).map(
    "".join
)


def routed(query: Query, doc: dict[str, Any]) -> bool:
    """Does the router hand `doc` to `query` (alone in its dataset)?"""
    return 0 in Router([(0, guard(query))]).candidates(doc, {})


@settings(max_examples=600, deadline=None)
@given(queries, docs)
@example(Wildcard("message", "*s*"), {"message": "\u017f", "process": {"executable": ""}})
@example(Term("message", "sk"), {"message": "\u017f\u212a", "process": {"executable": ""}})
@example(Wildcard("process.executable", "*a\\*b"), {"message": "", "process": {"executable": "xa*b"}})
@example(Wildcard("message", "\\\\?b*"), {"message": "\\xb", "process": {"executable": ""}})
def test_it_routes_every_document_a_query_matches(query: Query, doc: dict[str, Any]) -> None:
    if matches(doc, query):
        assert routed(query, doc)


@settings(max_examples=600, deadline=None)
@given(st.lists(regexes, min_size=1, max_size=3), docs)
def test_it_routes_every_document_a_regex_matches(patterns: list[str], doc: dict[str, Any]) -> None:
    query = Or(tuple(Regex("message", p) for p in patterns))
    if matches(doc, query):
        assert routed(query, doc)


@settings(max_examples=300, deadline=None)
@given(regexes, values)
def test_every_regex_match_contains_one_of_its_keys(pattern: str, value: str) -> None:
    keys = regex_keys(pattern)
    if keys is not None and value.isascii() and regex.compiled(pattern).search(value):
        assert any(k in value.lower() for k in keys)


@settings(max_examples=300, deadline=None)
@given(wildcards, values)
def test_every_wildcard_match_contains_each_literal_piece(pattern: str, value: str) -> None:
    assume(pattern.isascii() and value.isascii())
    if matches({"message": value}, Wildcard("message", pattern)):
        assert all(piece.lower() in value.lower() for piece in literal_pieces(pattern))


@pytest.mark.parametrize(
    ("pattern", "keys"),
    [
        (
            "password changed for root$|^change user 'root'",
            {"password changed for root", "change user 'root'"},
        ),
        ("(?i)(curl|wget)\\s", {"curl", "wget"}),
        ("^add '[^']+' to (shadow )?group '", {"group '"}),
        ("base64\\s+(-d|--decode)", {"base64"}),
        ("(a|)bc", {"bc"}),
    ],
)
def test_it_needs_one_literal_of_what_a_regex_requires(pattern: str, keys: set[str]) -> None:
    assert regex_keys(pattern) == frozenset(keys)


@pytest.mark.parametrize("pattern", ["(.){200,}", "\\s-[FTd]?\\s", "(a|)", "[abc]+", "x?"])
def test_it_has_no_keys_for_a_regex_that_requires_no_letter(pattern: str) -> None:
    keys = regex_keys(pattern)
    assert keys is None or all(len(k) == 1 for k in keys)


def test_it_prefers_a_rare_message_text_over_a_common_process_name() -> None:
    query = And((Term("process.name", "sshd"), Wildcard("message", "Accepted *")))
    assert guard(query) == (("message", "substr", frozenset({"accepted "})),)


def test_it_prefers_a_file_name_over_a_substring() -> None:
    query = And((Wildcard("process.executable", "*/curl"), Wildcard("process.command_line", "* -o *")))
    assert guard(query) == (("process.executable", "name", frozenset({"curl"})),)


def test_it_hands_a_non_ascii_value_to_every_query_guarded_on_its_field() -> None:
    router = Router([(0, guard(Term("user.name", "kali"))), (1, guard(Wildcard("user.name", "*root*")))])
    assert sorted(router.candidates({"user": {"name": "\u212aali"}}, {})) == [0, 1]
    assert router.candidates({"user": {"name": "bob"}}, {}) == []


def test_it_always_hands_over_an_unguarded_query() -> None:
    router = Router([(0, guard(Not(Term("user.name", "root")))), (1, guard(Term("user.name", "root")))])
    assert router.candidates({}, {}) == [0]


def test_it_finds_overlapping_keys_of_several_queries_in_one_value() -> None:
    router = Router([(0, guard(Wildcard("message", "*abc*"))), (1, guard(Wildcard("message", "*bcd*")))])
    assert sorted(router.candidates({"message": "xABCDx"}, {})) == [0, 1]


def test_its_regex_keys_come_from_the_same_parser_as_the_engines_translation() -> None:
    with pytest.raises(re.error):
        re.compile("(")
    assert regex_keys("(") is None
