"""Tests for auditor.selector: Calico selector grammar, semantics, rendering and helpers.

Many vectors are re-expressed from Calico's own tests (libcalico-go/lib/selector/parser/
parser_test.go, label_restriction_test.go and tokenizer/tokenizer_test.go); the rest probe the
lexical corners described in shared/design/calico-facts.md section 2.
"""

from __future__ import annotations

import copy
import itertools
import pickle
from collections.abc import Mapping
from types import MappingProxyType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor import selector as sel_mod
from auditor.selector import (
    ALL,
    LabelSelectorError,
    Selector,
    SelectorError,
    equals,
    from_label_selector,
    has,
    parse,
)

# ---------------------------------------------------------------------------------------------
# Matching: (selector, labels, expected)
# ---------------------------------------------------------------------------------------------

# Calico parser_test.go selectorTests, flattened to one case per label set.
_CALICO_SELECTOR_TESTS: list[tuple[str, list[dict[str, str]], list[dict[str, str]]]] = [
    ('a == "b"', [{"a": "b"}, {"a": "b", "c": "d"}], [{}, {"a": "c"}, {"c": "d"}]),
    (
        'a == "b" && c == "d"',
        [{"a": "b", "c": "d"}],
        [{}, {"a": "b", "c": "e"}, {"a": "c", "c": "d"}, {"c": "d"}, {"a": "b"}],
    ),
    (
        'a == "b" || c == "d"',
        [{"a": "b", "c": "d"}, {"a": "b"}, {"c": "d"}],
        [{}, {"a": "e", "c": "e"}, {"c": "e"}, {"a": "e"}],
    ),
    ('a in {"\'", \'"\', "c"}', [{"a": "c"}, {"a": '"'}, {"a": "'"}], [{}, {"a": "e"}]),
    ('a not in {"\'", \'"\', "c"}', [{}, {"a": "e"}], [{"a": "c"}, {"a": '"'}, {"a": "'"}]),
    ("a == 'a'", [{"a": "a"}], [{"a": "b"}, {}]),
    ('a == "a"', [{"a": "a"}], []),
    ('a != "b"', [{"a": "a"}], []),
    ('a != "a"', [{}], [{"a": "a"}]),
    ("a != 'a'", [], [{"a": "a"}]),
    ('a contains "a"', [{"a": "a"}, {"a": "bab"}, {"a": "aaa", "b": "c"}], [{}, {"a": "b"}, {"b": "aaa"}]),
    (
        'a starts with "a"',
        [{"a": "a"}, {"a": "abb"}, {"a": "aaa", "b": "c"}],
        [{}, {"a": "b"}, {"a": "baa"}, {"b": "aaa"}],
    ),
    (
        'a ends with "a"',
        [{"a": "a"}, {"a": "bba"}, {"a": "aaa", "b": "c"}],
        [{}, {"a": "b"}, {"a": "aab"}, {"b": "aaa"}],
    ),
    ('a in {"a"}', [{"a": "a"}], [{"a": "b"}]),
    ('!a in {"a"}', [{"a": "b"}], []),
    ('a in {"a", "b"}', [{"a": "a"}, {"a": "b"}], [{"a": "c"}]),
    ('a not in {"d", "e"}', [{"a": "a"}], []),
    ('a not in {"a"}', [], [{"a": "a"}]),
    ("has(a)", [{"a": "b"}], []),
    ("!has(a)", [{"b": "b"}], [{"a": "b"}]),
    ("", [{}, {"a": "b"}], []),
    (" ", [{}], []),
    ("all()", [{}], []),
    (" all()", [{}, {"a": "b"}], []),
    ("global()", [{}], []),
    (" global()", [{}, {"a": "b"}], []),
    ("has(b)", [], [{"a": "b"}]),
    ("!!has(b)", [], [{"a": "b"}]),
    ("! has(a)", [], [{"a": "b"}]),
    ("!!! has(a)", [], [{"a": "b"}]),
    ("!!!has(a)", [], [{"a": "b"}]),
    ("!! ! has(a)", [], [{"a": "b"}]),
    ("! !!has(a)", [], [{"a": "b"}]),
    ("a == 'a1' && b == 'b1'", [{"a": "a1", "b": "b1"}], []),
    ("a == 'a1' && b != 'b1'", [], [{"a": "a1", "b": "b1"}]),
    ("a != 'a1' && b == 'b1'", [], [{"a": "a1", "b": "b1"}]),
    ("a != 'a1' && b != 'b1'", [], [{"a": "a1", "b": "b1"}]),
    ("a != 'a1' && !b == 'b1'", [], [{"a": "a1", "b": "b1"}]),
    ("!a == 'a1' && b == 'b1'", [], [{"a": "a1", "b": "b1"}]),
    ("has(a) && !has(b)", [{"a": "a"}], []),
    ("!has(b) && has(a)", [{"a": "a"}], []),
    ("!(!has(a) || has(b))", [{"a": "a"}], []),
    ("!(has(b) || !has(a))", [{"a": "a"}], []),
    ("a == 'a1' || b == 'b1'", [{"a": "a1", "b": "b1"}], []),
    ("a == 'a1' || b != 'b1'", [{"a": "a1", "b": "b1"}], []),
    ("a != 'a1' || b == 'b1'", [{"a": "a1", "b": "b1"}], []),
    ("a != 'a1' || b != 'b1'", [], [{"a": "a1", "b": "b1"}]),
    ("! a == 'a1' || ! b == 'b1'", [], [{"a": "a1", "b": "b1"}]),
]

# Our own vectors: lexical corners and semantics from facts section 2.
_EXTRA_MATCH_CASES: list[tuple[str, dict[str, str], bool]] = [
    ("a == ''", {"a": ""}, True),
    ("a == ''", {}, False),
    ("has(a)", {"a": ""}, True),
    ("a != ''", {}, True),
    ("a != ''", {"a": ""}, False),
    ("a contains ''", {"a": ""}, True),
    ("a contains ''", {}, False),
    ("a starts with ''", {"a": "x"}, True),
    ("a ends with ''", {}, False),
    ("a in {}", {"a": "x"}, False),
    ("a in {}", {}, False),
    ("a not in {}", {}, True),
    ("a not in {}", {"a": "x"}, True),
    ("a in {'x',}", {"a": "x"}, True),
    ("a notin {'x'}", {"a": "y"}, True),
    ("a notin {'x'}", {"a": "x"}, False),
    ("a not\t \tin {'x'}", {}, True),
    ("a startswith 'pr'", {"a": "prod"}, True),
    ("a starts  \twith 'pr'", {"a": "dev"}, False),
    ("a endswith 'od'", {"a": "prod"}, True),
    ("a ends with 'od'", {"a": "pod-x"}, False),
    ("a contains 'ro'", {"a": "prod"}, True),
    ('a contains"ro"', {"a": "prod"}, True),
    ("a in{'x'}", {"a": "x"}, True),
    ("a=='x'&&b=='y'", {"a": "x", "b": "y"}, True),
    ("a == 'x y'", {"a": "x y"}, True),
    ('a == "it\'s"', {"a": "it's"}, True),
    ("a == 'say \"hi\"'", {"a": 'say "hi"'}, True),
    ("a == 'x\ny'", {"a": "x\ny"}, True),
    ("a == 'X'", {"a": "x"}, False),
    ("A == 'x'", {"a": "x"}, False),
    ("has( a )", {"a": "1"}, True),
    ("has(\ta\t)", {"a": "1"}, True),
    ("all( )", {}, True),
    ("global(\t)", {"z": "1"}, True),
    ("!all()", {}, False),
    ("!global()", {"a": "b"}, False),
    ("a.b/c-d_e == 'x'", {"a.b/c-d_e": "x"}, True),
    ("projectcalico.org/namespace == 'prod'", {"projectcalico.org/namespace": "prod"}, True),
    ("/x == 'y'", {"/x": "y"}, True),
    ("-a == 'y'", {"-a": "y"}, True),
    ("1 == '1'", {"1": "1"}, True),
    ("contains contains 'contains'", {"contains": "xcontainsx"}, True),
    ("startswith starts with 'value'", {"startswith": "values"}, True),
    ("endswith ends with 'value'", {"endswith": "my-value"}, True),
    ("in == 'x'", {"in": "x"}, True),
    ("not in {'x'}", {"not": "y"}, False),
    ("not in {'x'}", {"not": "x"}, True),
    ("has == 'x'", {"has": "x"}, True),
    ("all == 'x'", {"all": "x"}, True),
    ("global == 'x'", {"global": "x"}, True),
    ("and == 'x'", {"and": "x"}, True),
    ("(a == 'x')", {"a": "x"}, True),
    ("((((a == 'x'))))", {"a": "x"}, True),
    ("!(a == 'x')", {}, True),
    ("!(!(a == 'x'))", {"a": "x"}, True),
    ("a == 'x' || b == 'y' && c == 'z'", {"a": "x"}, True),
    ("a == 'x' || b == 'y' && c == 'z'", {"b": "y"}, False),
    ("(a == 'x' || b == 'y') && c == 'z'", {"a": "x"}, False),
    ("(a == 'x' || b == 'y') && c == 'z'", {"b": "y", "c": "z"}, True),
    ("has(a) && has(b) && has(c) && has(d)", {"a": "", "b": "", "c": "", "d": ""}, True),
    ("has(a) && has(b) && has(c) && has(d)", {"a": "", "b": "", "c": ""}, False),
    ("has(a) || has(b) || has(c) || has(d)", {"d": ""}, True),
    ("has(a) || has(b) || has(c) || has(d)", {"e": ""}, False),
    ("a == 'x' && all()", {"a": "x"}, True),
    ("a == 'x' && !all()", {"a": "x"}, False),
    ("a == 'x' || global()", {}, True),
]


def _flatten_match_cases() -> list[tuple[str, dict[str, str], bool]]:
    cases: list[tuple[str, dict[str, str], bool]] = []
    for text, good, bad in _CALICO_SELECTOR_TESTS:
        cases.extend((text, labels, True) for labels in good)
        cases.extend((text, labels, False) for labels in bad)
    cases.extend(_EXTRA_MATCH_CASES)
    return cases


MATCH_CASES = _flatten_match_cases()


@pytest.mark.parametrize(("text", "labels", "expected"), MATCH_CASES)
def test_matches(text: str, labels: dict[str, str], expected: bool) -> None:
    s = parse(text)
    assert s.matches(labels) is expected
    assert s.matcher(labels) is expected
    # Calico also checks that the canonical form evaluates the same way.
    assert parse(str(s)).matches(labels) is expected
    # Any Mapping works, not only dict.
    assert s.matches(MappingProxyType(labels)) is expected


# ---------------------------------------------------------------------------------------------
# Invalid selectors: (text, offset of the offending token, fragment of the message)
# ---------------------------------------------------------------------------------------------

INVALID_CASES: list[tuple[str, int, str]] = [
    # Calico parser_test.go badSelectors.
    ("b == b", 5, "expected a quoted string after '=='"),
    ("b contains b", 11, "expected a quoted string after 'contains'"),
    ("b starts with b", 14, "expected a quoted string after 'starts with'"),
    ("b ends with b", 12, "expected a quoted string after 'ends with'"),
    ("'b1' == b", 0, "expected a selector term"),
    ("b", 1, "expected an operator"),
    ("a b", 2, "expected an operator"),
    ("!", 1, "after '!'"),
    ('foo == "bar" &', 13, "'&&'"),
    ('foo == "bar" |', 13, "'||'"),
    ("foo != ||", 7, "expected a quoted string after '!='"),
    ('foo in {"", ||', 12, "expected a quoted string or '}'"),
    ('foo in ""', 7, "expected '{'"),
    ('"FOO', 0, "unterminated string"),
    ("\"FOO'", 0, "unterminated string"),
    ("'FOO", 0, "unterminated string"),
    ("(", 1, "expected a selector term"),
    ('(a == "foo"', 11, "expected ')'"),
    (")", 0, "expected a selector term"),
    ("()", 1, "expected a selector term"),
    ("%", 0, "unexpected character '%'"),
    ('a == "b" && %', 12, "unexpected character"),
    ('a == "b" || %', 12, "unexpected character"),
    ("a ", 2, "expected an operator"),
    ("has(foo) &&", 11, "after '&&'"),
    # Calico tokenizer_test.go error cases.
    ('label starts foo "value"', 6, "expected an operator"),
    ('label ends foo "value"', 6, "expected an operator"),
    ('label squiggles "value"', 6, "expected an operator"),
    # Whitespace: only space and tab separate tokens.
    ("a == 'x'\n&& has(b)", 8, "line break"),
    ("a == 'x' &&\nhas(b)", 11, "line break"),
    ("a == 'x'\r\n", 8, "carriage return"),
    ("\na == 'x'", 0, "line break"),
    ("a\v== 'x'", 1, "expected an operator"),
    ("a == 'x'\f", 8, "unexpected character"),
    ("a ==\u00a0'x'", 4, "unexpected character"),
    # Function-style terms need the parenthesis right after the word.
    ("has (a)", 3, "no space is allowed between 'has' and '('"),
    ("all ()", 3, "no space is allowed between 'all' and '('"),
    ("global ()", 6, "no space is allowed between 'global' and '('"),
    ("has()", 4, "expected a label name inside has("),
    ("has( )", 5, "expected a label name inside has("),
    ("has('a')", 4, "expected a label name inside has("),
    ("has(a", 5, "expected ')' to close has("),
    ("has(a b)", 6, "expected ')' to close has("),
    ("all(x)", 4, "expected ')' right after all("),
    ("global(a)", 7, "expected ')' right after global("),
    ("all(", 4, "expected ')' right after all("),
    # Operators.
    ("a = 'x'", 2, "single '='"),
    ("a === 'x'", 4, "single '='"),
    ("a == 'x' & b == 'y'", 9, "single '&'"),
    ("a == 'x' | b == 'y'", 9, "single '|'"),
    ("a == 'x' and b == 'y'", 9, "use '&&'"),
    ("a == 'x' or b == 'y'", 9, "use '||'"),
    ("not has(a)", 0, "use '!'"),
    ("a not {'x'}", 2, "expected an operator"),
    ("a notinx {'x'}", 2, "expected an operator"),
    ("a instance {'x'}", 2, "expected an operator"),
    ("a containsx 'x'", 2, "expected an operator"),
    ("a starts with x", 14, "expected a quoted string after 'starts with'"),
    ("a starts withx 'y'", 2, "expected an operator"),
    ("a not in x", 9, "expected '{' to start the set after 'not in'"),
    ("a contains x", 11, "expected a quoted string after 'contains'"),
    ("a has(b)", 2, "expected an operator"),
    ("a !has(b)", 2, "expected an operator"),
    ("a ! = 'x'", 4, "single '='"),
    ("a < 'x'", 2, "expected an operator"),
    # Right-hand sides.
    ("a == x", 5, "expected a quoted string after '=='"),
    ("a == 1", 5, "expected a quoted string after '=='"),
    ("a ==", 4, "found end of selector"),
    ("a != has(x)", 5, "expected a quoted string after '!='"),
    ("a in 'x'", 5, "expected '{'"),
    ("a in ('x')", 5, "expected '{'"),
    ("a in {'x' 'y'}", 10, "expected ',' or '}'"),
    ("a in {,}", 6, "expected a quoted string or '}'"),
    ("a in {'x',,}", 10, "expected a quoted string or '}'"),
    ("a in {'x'", 9, "expected ',' or '}'"),
    ("a in {x}", 6, "expected a quoted string or '}'"),
    ("a not in {'x'", 13, "expected ',' or '}'"),
    # Structure.
    ("a == 'x' b == 'y'", 9, "unexpected content"),
    ("a == 'x')", 8, "unmatched ')'"),
    ("(a == 'x'))", 10, "unmatched ')'"),
    ("((a == 'x')", 11, "expected ')' to close the '(' at offset 0"),
    ("a == 'x' && (", 13, "expected a selector term"),
    ("!(", 2, "expected a selector term"),
    ("!!", 2, "after '!'"),
    ("|| a == 'x'", 0, "expected a selector term"),
    ("&& a == 'x'", 0, "expected a selector term"),
    ("a == 'x' && && b == 'y'", 12, "after '&&'"),
    ("a == 'x' || || b == 'y'", 12, "after '||'"),
    ("{", 0, "expected a selector term"),
    (",", 0, "expected a selector term"),
    ("a == 'x' ,", 9, "unexpected content"),
    ("has(a) == 'x'", 7, "unexpected content"),
    ("all() all()", 6, "unexpected content"),
    ("a == 'x' !", 9, "unexpected content"),
    # Characters outside the label alphabet.
    ("é == 'x'", 0, "unexpected character"),
    ("a:b == 'x'", 1, "expected an operator"),
    ("a == 'x' && b@c == 'y'", 13, "expected an operator"),
    ("x" * 513 + " == 'a'", 0, "513 characters"),
    ("has(" + "y" * 513 + ")", 4, "513 characters"),
    ("(" * 101 + "has(a)" + ")" * 101, 100, "nested more than 100"),
]


@pytest.mark.parametrize(("text", "offset", "fragment"), INVALID_CASES)
def test_invalid_selector(text: str, offset: int, fragment: str) -> None:
    with pytest.raises(SelectorError) as info:
        parse(text)
    err = info.value
    assert err.offset == offset, err.message
    assert fragment in err.message
    assert 0 <= err.offset <= len(text)
    assert isinstance(err, ValueError)
    assert str(err) == f"{err.message} (at offset {offset})"
    # The error is reported again (not cached away) on a second call, with a fresh object.
    with pytest.raises(SelectorError) as again:
        parse(text)
    assert again.value is not err
    assert (again.value.message, again.value.offset) == (err.message, err.offset)
    assert sel_mod.validate(text) is not None


def test_error_message_quotes_found_token() -> None:
    with pytest.raises(SelectorError) as info:
        parse("b == b")
    assert info.value.message == "expected a quoted string after '==' (found b)"


def test_label_of_exactly_512_characters_is_accepted() -> None:
    key = "k" * 512
    s = parse(f"{key} == 'v' && has({key})")
    assert s.matches({key: "v"})
    assert s.label_keys() == {key}


def test_nesting_at_the_limit_is_accepted() -> None:
    depth = sel_mod.MAX_PAREN_DEPTH
    s = parse("(" * depth + "has(a)" + ")" * depth)
    assert s == has("a")


def test_parse_rejects_non_strings() -> None:
    with pytest.raises(TypeError):
        parse(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        parse(42)  # type: ignore[arg-type]


def test_selector_error_pickles() -> None:
    err = SelectorError("expected something", 3)
    back = pickle.loads(pickle.dumps(err))
    assert (back.message, back.offset) == ("expected something", 3)


# ---------------------------------------------------------------------------------------------
# Canonical rendering
# ---------------------------------------------------------------------------------------------

CANONICAL_CASES: list[tuple[str, str]] = [
    # Calico parser_test.go canonicalisationTests.
    ("", "all()"),
    (" all() ", "all()"),
    (" (all() )", "all()"),
    ("! (has( b)||! has(a ))", "!(has(b) || !has(a))"),
    ('! (a == "b"&&! c != "d")', '!(a == "b" && !c != "d")'),
    ('a == "\'"', 'a == "\'"'),
    ("a == '\"'", "a == '\"'"),
    ("a contains '\"'", "a contains '\"'"),
    ('a contains "\'"', 'a contains "\'"'),
    ("a startswith '\"'", "a starts with '\"'"),
    ('a endswith "\'"', 'a ends with "\'"'),
    ("a!='\"'", "a != '\"'"),
    ('a in {"d"}', 'a in {"d"}'),
    ('a in {"a", "b"}', 'a in {"a", "b"}'),
    ('a in {"d", "a", "b"}', 'a in {"a", "b", "d"}'),
    ('a in {"z", "x", "y", "a"}', 'a in {"a", "x", "y", "z"}'),
    ('a in {"z", "z", "x", "y", "x", "a"}', 'a in {"a", "x", "y", "z"}'),
    # Ours.
    ("a == 'x'", 'a == "x"'),
    ("a notin {'x'}", 'a not in {"x"}'),
    ("a not  in {'y','x',}", 'a not in {"x", "y"}'),
    ("a in {}", "a in {}"),
    ('a in {"it\'s", \'say "x"\'}', 'a in {"it\'s", \'say "x"\'}'),
    ("has(a)&&has(b)&&has(c)", "(has(a) && has(b) && has(c))"),
    ("has(a)||has(b)&&has(c)", "(has(a) || (has(b) && has(c)))"),
    ("a == 'x' && (b == 'y' && c == 'z')", '(a == "x" && (b == "y" && c == "z"))'),
    ("(a == 'x' || b == 'y') || c == 'z'", '((a == "x" || b == "y") || c == "z")'),
    ("!!has(a)", "has(a)"),
    ("!(!has(a))", "has(a)"),
    ("!(a == 'x')", '!a == "x"'),
    ("!!!(a == 'x' || has(b))", '!(a == "x" || has(b))'),
    ("global( )", "global()"),
    ("!all()", "!all()"),
    ("((a == 'x'))", 'a == "x"'),
    ("\ta\t==\t'x'\t", 'a == "x"'),
]


@pytest.mark.parametrize(("text", "canonical"), CANONICAL_CASES)
def test_canonical_rendering(text: str, canonical: str) -> None:
    s = parse(text)
    assert str(s) == canonical
    assert s.text == text
    again = parse(canonical)
    assert again == s
    assert str(again) == canonical
    assert hash(again) == hash(s)


def test_equality_is_by_canonical_form() -> None:
    a = parse("a == 'x' && has(b)")
    b = parse('a=="x"&&has( b )')
    assert a == b
    assert a.text != b.text
    assert len({a, b}) == 1
    assert parse("has(a) && has(b)") != parse("has(b) && has(a)")  # Calico keeps operand order
    assert a != str(a)
    assert repr(a) == "Selector('(a == \"x\" && has(b))')"


# ---------------------------------------------------------------------------------------------
# Precedence
# ---------------------------------------------------------------------------------------------

PRECEDENCE_CASES: list[tuple[str, str]] = [
    ("a == 'x' || b == 'y' && c == 'z'", "a == 'x' || (b == 'y' && c == 'z')"),
    ("a == 'x' && b == 'y' || c == 'z'", "(a == 'x' && b == 'y') || c == 'z'"),
    ("!has(a) || b starts with 'p' && c in {'x'}", "(!has(a)) || ((b starts with 'p') && (c in {'x'}))"),
    ("!a == 'x' && b == 'y'", "(!(a == 'x')) && b == 'y'"),
    ("!a in {'x'} || !has(b) && c != 'z'", "(!(a in {'x'})) || ((!has(b)) && c != 'z')"),
    ("a == 'x' && b == 'y' || c == 'z' && d == 'w'", "(a == 'x' && b == 'y') || (c == 'z' && d == 'w')"),
    ("!!a == 'x' || b == 'y'", "a == 'x' || b == 'y'"),
]

_GRID_KEYS = ("a", "b", "c", "d")
_GRID_VALUES = (None, "x", "y", "z", "w", "pq")


def _label_grid() -> list[dict[str, str]]:
    grid = []
    for combo in itertools.product(_GRID_VALUES, repeat=len(_GRID_KEYS)):
        grid.append({k: v for k, v in zip(_GRID_KEYS, combo, strict=True) if v is not None})
    return grid


LABEL_GRID = _label_grid()


@pytest.mark.parametrize(("implicit", "explicit"), PRECEDENCE_CASES)
def test_precedence(implicit: str, explicit: str) -> None:
    a, b = parse(implicit), parse(explicit)
    assert a == b
    assert all(a.matches(labels) == b.matches(labels) for labels in LABEL_GRID)


def test_not_applies_to_a_single_operation_only() -> None:
    narrow = parse("!a == 'x' && b == 'y'")
    wide = parse("!(a == 'x' && b == 'y')")
    assert narrow != wide
    labels = {"a": "q", "b": "q"}
    assert not narrow.matches(labels)
    assert wide.matches(labels)


# ---------------------------------------------------------------------------------------------
# prefixed(): Calico's PrefixVisitor
# ---------------------------------------------------------------------------------------------

PREFIX_CASES: list[tuple[str, str, str]] = [
    # Calico parser_test.go Visitor tests.
    ("k == 'v'", "visited/", 'visited/k == "v"'),
    ("k != 'v'", "visited/", 'visited/k != "v"'),
    ("k contains 'v'", "visited/", 'visited/k contains "v"'),
    ("k starts with 'v'", "visited/", 'visited/k starts with "v"'),
    ("k ends with 'v'", "visited/", 'visited/k ends with "v"'),
    ("k == 'v' && x == 'y'", "visited/", '(visited/k == "v" && visited/x == "y")'),
    ("k == 'v' || has(x)", "visited/", '(visited/k == "v" || has(visited/x))'),
    ("!(k == 'v')", "visited/", '!visited/k == "v"'),
    ("k in {'v'}", "visited/", 'visited/k in {"v"}'),
    ("k not in {'v'}", "visited/", 'visited/k not in {"v"}'),
    (
        "!(!(k == 'v' && has(t) || all()) && (a in {'b', 'c'}))",
        "visited/",
        '!(!((visited/k == "v" && has(visited/t)) || all()) && visited/a in {"b", "c"})',
    ),
    # all() and global() are not touched by the visitor.
    ("all()", "pcns.", "all()"),
    ("", "pcns.", "all()"),
    ("global()", "pcns.", "global()"),
    ("!global() || has(x)", "pcsa.", "(!global() || has(pcsa.x))"),
    ("projectcalico.org/name == 'prod'", "pcns.", 'pcns.projectcalico.org/name == "prod"'),
    ("role == 'db'", "", 'role == "db"'),
]


@pytest.mark.parametrize(("text", "prefix", "expected"), PREFIX_CASES)
def test_prefixed(text: str, prefix: str, expected: str) -> None:
    original = parse(text)
    p = original.prefixed(prefix)
    assert str(p) == expected
    if prefix:
        assert p.text == expected
    else:
        assert p is original
    assert parse(expected) == p
    assert p.label_keys() == {prefix + k for k in original.label_keys()}
    for labels in ({"k": "v", "x": "y", "t": "1", "a": "b"}, {}, {"projectcalico.org/name": "prod"}):
        moved = {prefix + k: v for k, v in labels.items()}
        assert p.matches(moved) == original.matches(labels)


def test_prefixed_rejects_bad_prefix() -> None:
    with pytest.raises(ValueError, match="prefix"):
        parse("has(a)").prefixed("bad prefix ")


def test_replace_functions_models_namespace_selector_rewrite() -> None:
    in_ns = has("projectcalico.org/namespace")
    not_in_ns = in_ns.negate()
    ns_sel = parse("all()").prefixed("pcns.").replace_functions(all_with=in_ns, global_with=not_in_ns)
    assert str(ns_sel) == "has(projectcalico.org/namespace)"
    glob = parse("global()").prefixed("pcns.").replace_functions(all_with=in_ns, global_with=not_in_ns)
    assert str(glob) == "!has(projectcalico.org/namespace)"
    # A negated global() folds the double negation, as Calico's re-parse of "!!has(...)" does.
    assert (
        str(parse("!global()").replace_functions(global_with=not_in_ns)) == "has(projectcalico.org/namespace)"
    )
    mixed = parse("a == 'x' && all()").prefixed("pcns.").replace_functions(all_with=in_ns)
    assert str(mixed) == '(pcns.a == "x" && has(projectcalico.org/namespace))'
    unchanged = parse("a == 'all()'")
    assert unchanged.replace_functions(all_with=in_ns) is unchanged
    assert str(unchanged.replace_functions(all_with=in_ns, global_with=not_in_ns)) == 'a == "all()"'


# ---------------------------------------------------------------------------------------------
# Introspection: label_keys / is_all / uses_global / is_exactly_global
# ---------------------------------------------------------------------------------------------

FLAG_CASES: list[tuple[str, frozenset[str], bool, bool, bool]] = [
    # text, label_keys, is_all, uses_global, is_exactly_global
    ("", frozenset(), True, False, False),
    ("   ", frozenset(), True, False, False),
    ("all()", frozenset(), True, False, False),
    ("(all())", frozenset(), True, False, False),
    ("all() && all()", frozenset(), True, False, False),
    ("all() || has(a)", frozenset({"a"}), True, False, False),
    ("!!all()", frozenset(), True, False, False),
    ("!all()", frozenset(), False, False, False),
    ("a not in {}", frozenset({"a"}), False, False, False),
    ("!(a in {})", frozenset({"a"}), False, False, False),
    ("has(a) || !has(a)", frozenset({"a"}), False, False, False),
    ("global()", frozenset(), False, True, True),
    (" global() ", frozenset(), False, True, True),
    ("\tglobal( \t)", frozenset(), False, True, True),
    ("(global())", frozenset(), False, True, False),
    ("!!global()", frozenset(), False, True, False),
    ("global() && all()", frozenset(), False, True, False),
    ("global()||all()", frozenset(), True, True, False),
    ("!global() || has(x)", frozenset({"x"}), False, True, False),
    ("a == 'global()'", frozenset({"a"}), False, False, False),
    ("a == 'x' && (has(b) || c in {'d'}) && !e starts with 'f'", frozenset("abce"), False, False, False),
]


@pytest.mark.parametrize(("text", "keys", "is_all", "uses_global", "exactly_global"), FLAG_CASES)
def test_flags(
    text: str, keys: frozenset[str], is_all: bool, uses_global: bool, exactly_global: bool
) -> None:
    s = parse(text)
    assert s.label_keys() == keys
    assert isinstance(s.label_keys(), frozenset)
    assert s.is_all() is is_all
    assert s.uses_global() is uses_global
    assert s.is_exactly_global() is exactly_global


def test_all_constant() -> None:
    assert ALL.is_all()
    assert str(ALL) == "all()"
    assert ALL == parse("all()") == parse("")
    assert ALL.matches({}) and ALL.matches({"a": "b"})
    assert ALL.index_hint() is None


# ---------------------------------------------------------------------------------------------
# Composition and builders
# ---------------------------------------------------------------------------------------------


def test_and_or_negate() -> None:
    a = parse("a == 'x'")
    b = parse("has(b) || c != 'z'")
    both = a.and_(b)
    either = a.or_(b)
    assert str(both) == '(a == "x" && (has(b) || c != "z"))'
    assert str(either) == '(a == "x" || (has(b) || c != "z"))'
    assert str(a.negate()) == '!a == "x"'
    assert str(b.negate()) == '!(has(b) || c != "z")'
    assert a.negate().negate() == a
    for labels in LABEL_GRID[:300]:
        assert both.matches(labels) == (a.matches(labels) and b.matches(labels))
        assert either.matches(labels) == (a.matches(labels) or b.matches(labels))
        assert b.negate().matches(labels) == (not b.matches(labels))
    for composed in (both, either, a.negate(), b.negate()):
        assert parse(str(composed)) == composed
        assert composed.text == str(composed)


def test_and_of_and_keeps_calico_nesting() -> None:
    ab = parse("has(a) && has(b)")
    assert str(ab.and_(has("c"))) == "((has(a) && has(b)) && has(c))"
    assert parse(str(ab.and_(has("c")))) == ab.and_(has("c"))


def test_builders() -> None:
    e = equals("projectcalico.org/namespace", "prod")
    assert str(e) == 'projectcalico.org/namespace == "prod"'
    assert e == parse("projectcalico.org/namespace == 'prod'")
    assert e.matches({"projectcalico.org/namespace": "prod"})
    assert equals("a", 'say "hi"') == parse("a == 'say \"hi\"'")
    h = has("pcns.projectcalico.org/name")
    assert str(h) == "has(pcns.projectcalico.org/name)"
    assert h.matches({"pcns.projectcalico.org/name": ""})
    s = sel_mod.one_of("a", ["y", "x", "y"])
    assert str(s) == 'a in {"x", "y"}'


@pytest.mark.parametrize(
    ("call", "args"),
    [
        (equals, ("bad key", "v")),
        (equals, ("", "v")),
        (equals, ("k" * 513, "v")),
        (equals, ("a", "both ' and \"")),
        (has, ("a b",)),
        (has, ("",)),
        (has, ("a(b)",)),
    ],
)
def test_builders_reject_unrepresentable_input(call: object, args: tuple[str, ...]) -> None:
    with pytest.raises(ValueError):
        call(*args)  # type: ignore[operator]


def test_selectors_are_immutable_and_picklable() -> None:
    s = parse("a == 'x' && has(b)")
    with pytest.raises(AttributeError):
        s.text = "other"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del s.text
    back = pickle.loads(pickle.dumps(s))
    assert back == s and back.text == s.text and back.matches({"a": "x", "b": ""})
    assert copy.deepcopy(s) == s
    assert copy.copy(s) == s


def test_parse_is_cached() -> None:
    text = "cache-test == 'unique-value-123'"
    assert parse(text) is parse(text)


def test_validate_helper() -> None:
    assert sel_mod.validate("has(a)") is None
    err = sel_mod.validate("a ==")
    assert isinstance(err, SelectorError) and err.offset == 4


# ---------------------------------------------------------------------------------------------
# index_hint()
# ---------------------------------------------------------------------------------------------

HintDict = dict[str, frozenset[str] | None]

HINT_CASES: list[tuple[str, HintDict | None]] = [
    ("a == 'x'", {"a": frozenset({"x"})}),
    ("a in {'x', 'y'}", {"a": frozenset({"x", "y"})}),
    ("a in {}", {"a": frozenset()}),
    ("has(a)", {"a": None}),
    ("a contains 'x'", {"a": None}),
    ("a starts with 'x'", {"a": None}),
    ("a ends with 'x'", {"a": None}),
    ("!has(a)", None),
    ("a != 'x'", None),
    ("a not in {'x'}", None),
    ("all()", None),
    ("", None),
    ("global()", None),
    ("!all()", {}),
    ("a == 'x' && has(b)", {"a": frozenset({"x"})}),
    ("has(b) && a == 'x'", {"a": frozenset({"x"})}),
    ("a == 'x' && !has(b)", {"a": frozenset({"x"})}),
    ("a in {'x','y'} && a in {'y','z'}", {"a": frozenset({"y"})}),
    ("a in {'v1','v2','v3'} && a in {'v2','v3'}", {"a": frozenset({"v2", "v3"})}),
    ("a == 'x' && a == 'y'", {"a": frozenset()}),
    ("has(a) && a == 'x'", {"a": frozenset({"x"})}),
    ("a == 'x' && all()", {"a": frozenset({"x"})}),
    ("all() && a == 'x'", {"a": frozenset({"x"})}),
    ("a == 'x' || b == 'y'", {"a": frozenset({"x"}), "b": frozenset({"y"})}),
    ("a == 'x' || a == 'y'", {"a": frozenset({"x", "y"})}),
    ("has(a) || a == 'y'", {"a": None}),
    ("a == 'y' || (has(b) && has(a))", {"a": None}),
    ("a == 'x' || !has(b)", None),
    ("a == 'x' || all()", None),
    ("!(a != 'x')", {"a": frozenset({"x"})}),
    ("!(a not in {'x', 'y'})", {"a": frozenset({"x", "y"})}),
    ("!(!has(a) || b != 'y')", {"b": frozenset({"y"})}),
    ("!(has(a) && has(b))", None),
    ("!(!has(a) && !has(b))", {"a": None, "b": None}),
    ("(a == 'x' || b == 'y') && c == 'z'", {"c": frozenset({"z"})}),
    ("(a == 'x' || b == 'y') && has(c)", {"a": frozenset({"x"}), "b": frozenset({"y"})}),
    ("!has(a) && !has(b)", None),
    ("a == 'x' && !all()", {}),
    ("!all() || a == 'x'", {"a": frozenset({"x"})}),
    (
        "projectcalico.org/namespace == 'prod' && app in {'web','api'}",
        {"projectcalico.org/namespace": frozenset({"prod"})},
    ),
]


@pytest.mark.parametrize(("text", "expected"), HINT_CASES)
def test_index_hint(text: str, expected: HintDict | None) -> None:
    hint = parse(text).index_hint()
    if expected is None:
        assert hint is None
        return
    assert hint is not None
    assert len({k for k, _ in hint}) == len(hint)  # one entry per key
    assert dict(hint) == expected


def test_index_hint_returns_a_fresh_list() -> None:
    s = parse("a == 'x'")
    first = s.index_hint()
    assert first is not None
    first.append(("b", None))
    assert s.index_hint() == [("a", frozenset({"x"}))]


# ---------------------------------------------------------------------------------------------
# Kubernetes LabelSelector conversion
# ---------------------------------------------------------------------------------------------

LABEL_SELECTOR_CASES: list[tuple[object, str]] = [
    (None, "all()"),
    ({}, "all()"),
    ({"matchLabels": {}}, "all()"),
    ({"matchLabels": None, "matchExpressions": None}, "all()"),
    ({"matchExpressions": []}, "all()"),
    ({"matchLabels": {"app": "web"}}, 'app == "web"'),
    ({"matchLabels": {"b": "1", "a": "2"}}, '(a == "2" && b == "1")'),
    ({"matchLabels": {"app.kubernetes.io/name": "x", "v": ""}}, '(app.kubernetes.io/name == "x" && v == "")'),
    ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["b", "a"]}]}, 'tier in {"a", "b"}'),
    ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["x"]}]}, 'tier not in {"x"}'),
    ({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}, "has(tier)"),
    ({"matchExpressions": [{"key": "tier", "operator": "Exists", "values": []}]}, "has(tier)"),
    ({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist", "values": None}]}, "!has(tier)"),
    (
        {
            "matchLabels": {"z": "1", "a": "2"},
            "matchExpressions": [
                {"key": "c", "operator": "NotIn", "values": ["x"]},
                {"key": "b", "operator": "Exists"},
            ],
        },
        '(a == "2" && z == "1" && c not in {"x"} && has(b))',
    ),
    (MappingProxyType({"matchLabels": MappingProxyType({"k": "v"})}), 'k == "v"'),
]


@pytest.mark.parametrize(("obj", "expected"), LABEL_SELECTOR_CASES)
def test_from_label_selector(obj: object, expected: str) -> None:
    s = from_label_selector(obj)
    assert str(s) == expected
    assert parse(expected) == s


LABEL_SELECTOR_SEMANTICS: list[tuple[dict[str, object], dict[str, str], bool]] = [
    ({"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]}]}, {}, True),
    ({"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]}]}, {"env": "prod"}, False),
    ({"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]}]}, {"env": "dev"}, True),
    ({"matchExpressions": [{"key": "env", "operator": "In", "values": ["prod"]}]}, {}, False),
    ({"matchExpressions": [{"key": "env", "operator": "DoesNotExist"}]}, {}, True),
    ({"matchExpressions": [{"key": "env", "operator": "DoesNotExist"}]}, {"env": ""}, False),
    ({"matchExpressions": [{"key": "env", "operator": "Exists"}]}, {"env": ""}, True),
    ({"matchLabels": {"a": "1", "b": "2"}}, {"a": "1"}, False),
    ({"matchLabels": {"a": "1", "b": "2"}}, {"a": "1", "b": "2", "c": "3"}, True),
    ({}, {"anything": "at-all"}, True),
]


@pytest.mark.parametrize(("obj", "labels", "expected"), LABEL_SELECTOR_SEMANTICS)
def test_from_label_selector_semantics(
    obj: dict[str, object], labels: dict[str, str], expected: bool
) -> None:
    assert from_label_selector(obj).matches(labels) is expected


def _expr(**fields: object) -> dict[str, object]:
    return {"matchExpressions": [fields]}


LABEL_SELECTOR_ERRORS: list[tuple[object, tuple[str | int, ...], str]] = [
    ("app=web", (), "must be a mapping"),
    (["app"], (), "must be a mapping"),
    ({"matchLabel": {"a": "b"}}, ("matchLabel",), "unknown field"),
    ({"matchLabels": ["a"]}, ("matchLabels",), "must be a mapping"),
    ({"matchLabels": "a=b"}, ("matchLabels",), "must be a mapping"),
    ({"matchLabels": {"a": 1}}, ("matchLabels", "a"), "must be a string"),
    ({"matchLabels": {"a": True}}, ("matchLabels", "a"), "must be a string"),
    ({"matchLabels": {"a": None}}, ("matchLabels", "a"), "must be a string"),
    ({"matchLabels": {"a b": "x"}}, ("matchLabels", "a b"), "invalid label key"),
    ({"matchLabels": {"a/b/c": "x"}}, ("matchLabels", "a/b/c"), "at most one '/'"),
    ({"matchLabels": {"/x": "y"}}, ("matchLabels", "/x"), "prefix"),
    ({"matchLabels": {"Example.COM/x": "y"}}, ("matchLabels", "Example.COM/x"), "DNS subdomain"),
    ({"matchLabels": {"x/": "y"}}, ("matchLabels", "x/"), "name part must not be empty"),
    ({"matchLabels": {"-a": "y"}}, ("matchLabels", "-a"), "alphanumeric"),
    ({"matchLabels": {"k" * 64: "y"}}, ("matchLabels", "k" * 64), "at most 63"),
    ({"matchLabels": {"a": "x y"}}, ("matchLabels", "a"), "invalid label value"),
    ({"matchLabels": {"a": "v" * 64}}, ("matchLabels", "a"), "at most 63"),
    ({"matchLabels": {"a": "-v"}}, ("matchLabels", "a"), "invalid label value"),
    ({"matchLabels": {1: "v"}}, ("matchLabels", "1"), "label key must be a string"),
    ({"matchExpressions": {"key": "a"}}, ("matchExpressions",), "must be a list"),
    ({"matchExpressions": ["a"]}, ("matchExpressions", 0), "must be a mapping"),
    (_expr(operator="Exists"), ("matchExpressions", 0, "key"), "key is required"),
    (_expr(key=None, operator="Exists"), ("matchExpressions", 0, "key"), "key is required"),
    (_expr(key="a"), ("matchExpressions", 0, "operator"), "operator is required"),
    (
        _expr(key="a", operator="in", values=["x"]),
        ("matchExpressions", 0, "operator"),
        "not a valid operator",
    ),
    (
        _expr(key="a", operator="Equals", values=["x"]),
        ("matchExpressions", 0, "operator"),
        "not a valid operator",
    ),
    (_expr(key="a", operator="In"), ("matchExpressions", 0, "values"), "non-empty"),
    (_expr(key="a", operator="In", values=[]), ("matchExpressions", 0, "values"), "non-empty"),
    (_expr(key="a", operator="NotIn", values=None), ("matchExpressions", 0, "values"), "non-empty"),
    (_expr(key="a", operator="Exists", values=["x"]), ("matchExpressions", 0, "values"), "must not be given"),
    (
        _expr(key="a", operator="DoesNotExist", values=["x"]),
        ("matchExpressions", 0, "values"),
        "must not be given",
    ),
    (_expr(key="a", operator="In", values="x"), ("matchExpressions", 0, "values"), "must be a list"),
    (
        _expr(key="a", operator="In", values=["ok", 5]),
        ("matchExpressions", 0, "values", 1),
        "must be a string",
    ),
    (
        _expr(key="a", operator="In", values=["bad value"]),
        ("matchExpressions", 0, "values", 0),
        "invalid label value",
    ),
    (_expr(key="a", operator="Exists", value=["x"]), ("matchExpressions", 0, "value"), "unknown field"),
    (_expr(key="-a", operator="Exists"), ("matchExpressions", 0, "key"), "invalid label key"),
    (
        {"matchExpressions": [{"key": "a", "operator": "Exists"}, {"key": "b", "operator": "Nope"}]},
        ("matchExpressions", 1, "operator"),
        "not a valid operator",
    ),
]


@pytest.mark.parametrize(("obj", "path", "fragment"), LABEL_SELECTOR_ERRORS)
def test_from_label_selector_errors(obj: object, path: tuple[str | int, ...], fragment: str) -> None:
    with pytest.raises(LabelSelectorError) as info:
        from_label_selector(obj)
    err = info.value
    assert err.path == path
    assert fragment in err.message
    assert isinstance(err, ValueError)
    if path:
        assert str(err).startswith(".".join(str(p) for p in path) + ": ")
    else:
        assert str(err) == err.message


# ---------------------------------------------------------------------------------------------
# Property tests (hypothesis): an independent model of the grammar and semantics
# ---------------------------------------------------------------------------------------------

_KEYS = ("a", "b", "c/d", "e.f-g_1")
_VALUES = ("", "x", "y", "xy", "a'b", 'q"r')

# A model AST: ("eq"|"ne"|"contains"|"starts"|"ends", key, value) | ("in"|"notin", key, values)
# | ("has", key) | ("all",) | ("global",) | ("not", node) | ("and"|"or", [nodes]).
Model = tuple

_leaf = st.one_of(
    st.tuples(
        st.sampled_from(["eq", "ne", "contains", "starts", "ends"]),
        st.sampled_from(_KEYS),
        st.sampled_from(_VALUES),
    ),
    st.tuples(
        st.sampled_from(["in", "notin"]),
        st.sampled_from(_KEYS),
        st.lists(st.sampled_from(_VALUES), max_size=3),
    ),
    st.tuples(st.just("has"), st.sampled_from(_KEYS)),
    st.sampled_from([("all",), ("global",)]),
)

models = st.recursive(
    _leaf,
    lambda inner: st.one_of(
        st.tuples(st.just("not"), inner),
        st.tuples(st.sampled_from(["and", "or"]), st.lists(inner, min_size=2, max_size=3)),
    ),
    max_leaves=8,
)

label_sets = st.dictionaries(st.sampled_from(_KEYS), st.sampled_from(_VALUES), max_size=len(_KEYS))


def model_eval(m: Model, labels: Mapping[str, str]) -> bool:
    kind = m[0]
    if kind in ("all", "global"):
        return True
    if kind == "not":
        return not model_eval(m[1], labels)
    if kind == "and":
        return all(model_eval(c, labels) for c in m[1])
    if kind == "or":
        return any(model_eval(c, labels) for c in m[1])
    present = m[1] in labels
    value = labels.get(m[1], "")
    if kind == "has":
        return present
    if kind == "eq":
        return present and value == m[2]
    if kind == "ne":
        return not (present and value == m[2])
    if kind == "contains":
        return present and m[2] in value
    if kind == "starts":
        return present and value.startswith(m[2])
    if kind == "ends":
        return present and value.endswith(m[2])
    if kind == "in":
        return present and value in m[2]
    assert kind == "notin"
    return not (present and value in m[2])


_WORD_OPS = {
    "contains": ["contains"],
    "starts": ["starts with", "startswith", "starts\t with"],
    "ends": ["ends with", "endswith", "ends  with"],
}


def model_text(m: Model, draw: st.DrawFn) -> str:
    """Render the model as selector text with random (legal) spacing and quoting."""

    def ws() -> str:
        return draw(st.sampled_from(["", " ", "\t", "  "]))

    def quote(v: str) -> str:
        if "'" in v:
            return f'"{v}"'
        if '"' in v:
            return f"'{v}'"
        q = draw(st.sampled_from(["'", '"']))
        return f"{q}{v}{q}"

    kind = m[0]
    if kind == "all":
        return f"all({ws()})"
    if kind == "global":
        return f"global({ws()})"
    if kind == "has":
        return f"has({ws()}{m[1]}{ws()})"
    if kind in ("eq", "ne"):
        op = "==" if kind == "eq" else "!="
        return f"{m[1]}{ws()}{op}{ws()}{quote(m[2])}"
    if kind in _WORD_OPS:
        op = draw(st.sampled_from(_WORD_OPS[kind]))
        return f"{m[1]} {ws()}{op}{ws()}{quote(m[2])}"
    if kind in ("in", "notin"):
        op = "in" if kind == "in" else draw(st.sampled_from(["not in", "notin", "not \tin"]))
        items = f",{ws()}".join(quote(v) for v in m[2])
        trailing = "," if m[2] and draw(st.booleans()) else ""
        return f"{m[1]} {ws()}{op}{ws()}{{{ws()}{items}{trailing}{ws()}}}"
    if kind == "not":
        inner = model_text(m[1], draw)
        bangs = "!" * draw(st.sampled_from([1, 3]))
        return f"{bangs}{ws()}({ws()}{inner}{ws()})"
    joiner = "&&" if kind == "and" else "||"
    parts = [f"({ws()}{model_text(c, draw)}{ws()})" for c in m[1]]
    return f"{ws()}{joiner}{ws()}".join(parts)


@st.composite
def model_and_text(draw: st.DrawFn) -> tuple[Model, str]:
    m = draw(models)
    return m, model_text(m, draw)


_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(model_and_text(), st.lists(label_sets, min_size=1, max_size=6))
def test_property_parse_matches_model(mt: tuple[Model, str], label_list: list[dict[str, str]]) -> None:
    model, text = mt
    s = parse(text)
    canon = parse(str(s))
    assert canon == s
    assert str(canon) == str(s)
    for labels in label_list:
        expected = model_eval(model, labels)
        assert s.matches(labels) is expected
        assert canon.matches(labels) is expected


def _hint_holds(hint: list[tuple[str, frozenset[str] | None]], labels: Mapping[str, str]) -> bool:
    return any(k in labels and (vals is None or labels[k] in vals) for k, vals in hint)


@_SETTINGS
@given(model_and_text(), st.lists(label_sets, min_size=1, max_size=8))
def test_property_index_hint_is_sound(mt: tuple[Model, str], label_list: list[dict[str, str]]) -> None:
    s = parse(mt[1])
    hint = s.index_hint()
    if hint is None:
        return
    for labels in label_list:
        if s.matches(labels):
            assert _hint_holds(hint, labels), (str(s), hint, labels)


@_SETTINGS
@given(model_and_text(), model_and_text(), st.lists(label_sets, min_size=1, max_size=5))
def test_property_composition(
    mt1: tuple[Model, str], mt2: tuple[Model, str], label_list: list[dict[str, str]]
) -> None:
    a, b = parse(mt1[1]), parse(mt2[1])
    composed = [a.and_(b), a.or_(b), a.negate(), a.prefixed("pcns.")]
    for c in composed:
        assert parse(str(c)) == c
    for labels in label_list:
        assert composed[0].matches(labels) == (a.matches(labels) and b.matches(labels))
        assert composed[1].matches(labels) == (a.matches(labels) or b.matches(labels))
        assert composed[2].matches(labels) == (not a.matches(labels))
        assert composed[3].matches({"pcns." + k: v for k, v in labels.items()}) == a.matches(labels)
    for c in composed[:3]:
        hint = c.index_hint()
        if hint is not None:
            for labels in label_list:
                if c.matches(labels):
                    assert _hint_holds(hint, labels)


_FUZZ_ALPHABET = st.sampled_from(
    [*"ab()!{},'\" \t\n=&|%", "has(", "all()", "global()", "in", "not in", "contains", "==", "&&", "||"]
)


@_SETTINGS
@given(st.lists(_FUZZ_ALPHABET, max_size=14).map("".join))
def test_property_fuzz_never_crashes(text: str) -> None:
    try:
        s = parse(text)
    except SelectorError as err:
        assert 0 <= err.offset <= len(text)
        assert err.message
        return
    assert isinstance(s, Selector)
    assert parse(str(s)) == s
    assert isinstance(s.matches({"a": "b"}), bool)
