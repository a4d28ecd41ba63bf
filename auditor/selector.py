"""Calico label-selector engine: tokenizer, parser, canonical printer and fast matcher.

The accepted language is exactly the one of Calico's ``libcalico-go/lib/selector`` package
(tokenizer + recursive-descent parser); see ``shared/design/calico-facts.md`` section 2.
In short:

* tokens are separated by spaces and tabs only (a line break between tokens is an error);
* label names use ``A-Z a-z 0-9 _ . / -`` and are 1-512 characters long;
* string literals are ``'...'`` or ``"..."`` with no escapes;
* terms: ``k == "v"``, ``k != "v"``, ``k in {...}``, ``k not in {...}``, ``k contains "v"``,
  ``k starts with "v"``, ``k ends with "v"``, ``has(k)``, ``all()``, ``global()``, ``( expr )``;
  any number of leading ``!``; ``&&`` binds tighter than ``||``;
* the empty selector means ``all()``.

Parsed selectors are immutable, hashable, and compare equal when their canonical renderings
(the strings Calico itself would print) are equal.  Matching runs through closures compiled once
per selector, and :func:`parse` is cached by text.
"""

from __future__ import annotations

import functools
import re
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NoReturn

from auditor.k8snames import NameFault, label_value_fault, qualified_name_fault

__all__ = [
    "ALL",
    "MAX_LABEL_LENGTH",
    "MAX_PAREN_DEPTH",
    "LabelSelectorError",
    "Selector",
    "SelectorError",
    "equals",
    "from_label_selector",
    "has",
    "is_valid_label_name",
    "one_of",
    "parse",
    "validate",
]

MAX_LABEL_LENGTH = 512
"""Longest label name Calico accepts in a selector."""

MAX_PAREN_DEPTH = 100
"""calico-audit's own limit on nested parentheses (Calico has none); keeps recursion bounded."""

Labels = Mapping[str, str]
Matcher = Callable[[Labels], bool]
IndexHint = list[tuple[str, frozenset[str] | None]]
_Required = dict[str, frozenset[str] | None] | None


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


class SelectorError(ValueError):
    """A selector string that Calico would reject.

    ``offset`` is the 0-based character index in the selector text where the problem starts;
    it equals ``len(text)`` when the problem is that the text ended too early.
    """

    message: str
    offset: int

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message, offset)
        self.message = message
        self.offset = offset

    def __str__(self) -> str:
        return f"{self.message} (at offset {self.offset})"


class LabelSelectorError(ValueError):
    """A Kubernetes LabelSelector object that the Kubernetes API server would reject.

    ``path`` locates the offending item inside the selector object, e.g.
    ``("matchExpressions", 0, "operator")``; it is ``()`` when the object itself is wrong.
    """

    message: str
    path: tuple[str | int, ...]

    def __init__(self, message: str, path: tuple[str | int, ...]) -> None:
        super().__init__(message, path)
        self.message = message
        self.path = tuple(path)

    def __str__(self) -> str:
        if not self.path:
            return self.message
        return f"{'.'.join(str(p) for p in self.path)}: {self.message}"


# ---------------------------------------------------------------------------------------------
# Tokenizer
# ---------------------------------------------------------------------------------------------

# Token kinds.
_LABEL = 1
_STRING = 2
_LBRACE = 3
_RBRACE = 4
_COMMA = 5
_EQ = 6
_NE = 7
_IN = 8
_NOT = 9
_NOTIN = 10
_CONTAINS = 11
_STARTS = 12
_ENDS = 13
_ALL = 14
_HAS = 15
_LPAREN = 16
_RPAREN = 17
_AND = 18
_OR = 19
_GLOBAL = 20
_EOF = 21

_OP_NAMES = {
    _EQ: "==",
    _NE: "!=",
    _CONTAINS: "contains",
    _STARTS: "starts with",
    _ENDS: "ends with",
    _IN: "in",
    _NOTIN: "not in",
}

_LABEL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./-")
_LABEL_RUN = re.compile(r"[A-Za-z0-9_./\-]*")
_WHITESPACE = frozenset(" \t")
_OPERATOR_LIST = "==, !=, in, not in, contains, starts with, ends with"
_WORD_BOOLEANS = {"and": "&&", "or": "||", "not": "!", "AND": "&&", "OR": "||", "NOT": "!"}

# (kind, value, start, end): value is the label name / string content (None otherwise);
# start..end is the token's span in the text.
_Token = tuple[int, str | None, int, int]


def _skip_ws(text: str, i: int, n: int) -> int:
    while i < n and text[i] in _WHITESPACE:
        i += 1
    return i


def _label_end(text: str, i: int) -> int:
    m = _LABEL_RUN.match(text, i)
    return m.end() if m is not None else i


def _at_word_break(text: str, i: int, n: int) -> bool:
    return i >= n or text[i] not in _LABEL_CHARS


def _show(fragment: str) -> str:
    """Render one character (quoted) or a longer piece of the selector for an error message."""
    if fragment == "\n":
        return "a line break"
    if fragment == "\r":
        return "a carriage return"
    if not fragment.isprintable():
        return repr(fragment)
    if len(fragment) == 1 and fragment not in _LABEL_CHARS:
        return f"'{fragment}'"
    return fragment


def _show_at(text: str, i: int) -> str:
    """What the text holds at offset i: a word, one character, or the end."""
    if i >= len(text):
        return "end of selector"
    end = _label_end(text, i)
    if end > i:
        word = text[i:end]
        return word if len(word) <= 40 else word[:37] + "..."
    return _show(text[i])


def _word_operator(text: str, i: int, n: int) -> tuple[int, int, int] | None:
    """Match an operator word after a label: (kind, token end, resume position) or None.

    Mirrors Calico: ``contains`` and ``in`` must be followed by a word break; ``starts with``,
    ``ends with`` and ``not in`` may have any spaces/tabs (or none) between their words, and
    need a word break after the second word.
    """
    if text.startswith("contains", i) and _at_word_break(text, i + 8, n):
        return _CONTAINS, i + 8, i + 8
    for first, second, kind in (("starts", "with", _STARTS), ("ends", "with", _ENDS), ("not", "in", _NOTIN)):
        if text.startswith(first, i):
            j = _skip_ws(text, i + len(first), n)
            if text.startswith(second, j):
                end = j + len(second)
                # Calico checks the break after skipping trailing blanks, so "a starts with b"
                # fails in its tokenizer; checking right after the word lets the parser report
                # "expected a quoted string" instead.  Validity is the same: a label can never
                # legally follow an operator.
                if _at_word_break(text, end, n):
                    return kind, end, _skip_ws(text, end, n)
    if text.startswith("in", i) and _at_word_break(text, i + 2, n):
        return _IN, i + 2, i + 2
    return None


def _check_label_length(text: str, start: int, end: int) -> None:
    if end - start > MAX_LABEL_LENGTH:
        raise SelectorError(
            f"label name is {end - start} characters long; Calico allows at most {MAX_LABEL_LENGTH}", start
        )


def _tokenize(text: str) -> list[_Token]:
    """Split a selector into tokens exactly as Calico's tokenizer does (the whole text first)."""
    tokens: list[_Token] = []
    append = tokens.append
    n = len(text)
    i = 0
    last_kind = 0
    while True:
        i = _skip_ws(text, i, n)
        if i >= n:
            append((_EOF, None, n, n))
            return tokens
        c = text[i]
        if c == "(":
            append((_LPAREN, None, i, i + 1))
            i += 1
        elif c == ")":
            append((_RPAREN, None, i, i + 1))
            i += 1
        elif c == '"' or c == "'":
            close = text.find(c, i + 1)
            if close < 0:
                raise SelectorError(f"unterminated string: no closing {c} for the quote opened here", i)
            append((_STRING, text[i + 1 : close], i, close + 1))
            i = close + 1
        elif c == "{":
            append((_LBRACE, None, i, i + 1))
            i += 1
        elif c == "}":
            append((_RBRACE, None, i, i + 1))
            i += 1
        elif c == ",":
            append((_COMMA, None, i, i + 1))
            i += 1
        elif c == "=":
            if not text.startswith("==", i):
                raise SelectorError("a single '=' is not an operator; use '=='", i)
            append((_EQ, None, i, i + 2))
            i += 2
        elif c == "!":
            if text.startswith("!=", i):
                append((_NE, None, i, i + 2))
                i += 2
            else:
                append((_NOT, None, i, i + 1))
                i += 1
        elif c == "&":
            if not text.startswith("&&", i):
                raise SelectorError("a single '&' is not an operator; use '&&'", i)
            append((_AND, None, i, i + 2))
            i += 2
        elif c == "|":
            if not text.startswith("||", i):
                raise SelectorError("a single '|' is not an operator; use '||'", i)
            append((_OR, None, i, i + 2))
            i += 2
        elif last_kind == _LABEL:
            found = _word_operator(text, i, n)
            if found is None:
                label = tokens[-1][1]
                if label in _WORD_BOOLEANS and (len(tokens) == 1 or tokens[-2][0] != _LABEL):
                    # "a == 'x' and b == 'y'", "not has(a)": English words are not operators.
                    raise SelectorError(
                        f"'{label}' is not a selector operator; use '{_WORD_BOOLEANS[label]}'", tokens[-1][2]
                    )
                raise SelectorError(
                    f"expected an operator ({_OPERATOR_LIST}) after label {label!r} "
                    f"(found {_show_at(text, i)})",
                    i,
                )
            kind, end, resume = found
            append((kind, None, i, end))
            i = resume
        elif text.startswith("has(", i):
            j = _skip_ws(text, i + 4, n)
            end = _label_end(text, j)
            if end == j:
                raise SelectorError(f"expected a label name inside has( (found {_show_at(text, j)})", j)
            _check_label_length(text, j, end)
            k = _skip_ws(text, end, n)
            if k >= n or text[k] != ")":
                raise SelectorError(f"expected ')' to close has( (found {_show_at(text, k)})", k)
            append((_HAS, text[j:end], i, k + 1))
            i = k + 1
        elif text.startswith("all(", i) or text.startswith("global(", i):
            is_all = text[i] == "a"
            j = _skip_ws(text, i + (4 if is_all else 7), n)
            if j >= n or text[j] != ")":
                name = "all(" if is_all else "global("
                raise SelectorError(f"expected ')' right after {name} (found {_show_at(text, j)})", j)
            append((_ALL if is_all else _GLOBAL, None, i, j + 1))
            i = j + 1
        else:
            end = _label_end(text, i)
            if end == i:
                if c in "\r\n":
                    raise SelectorError(
                        f"{_show(c)} is not allowed between tokens (only spaces and tabs are)", i
                    )
                raise SelectorError(f"unexpected character {_show(c)}", i)
            _check_label_length(text, i, end)
            append((_LABEL, text[i:end], i, end))
            i = end
        last_kind = tokens[-1][0]


# ---------------------------------------------------------------------------------------------
# AST
# ---------------------------------------------------------------------------------------------


def _quote(value: str) -> str:
    # Calico prints with double quotes unless the value itself contains one.
    return f"'{value}'" if '"' in value else f'"{value}"'


class _Node:
    __slots__ = ()

    def render(self, out: list[str]) -> None:
        raise NotImplementedError

    def compile(self) -> Matcher:
        raise NotImplementedError

    def collect_keys(self, acc: set[str]) -> None:
        pass

    def with_prefix(self, prefix: str) -> _Node:
        return self

    def replace_functions(self, all_node: _Node | None, global_node: _Node | None) -> _Node:
        return self

    def uses_global(self) -> bool:
        return False

    def required(self) -> _Required:
        """Labels every match must carry: {key: allowed values or None}; None if it never matches."""
        return {}

    def required_neg(self) -> _Required:
        """Like :meth:`required`, for the negation of this node."""
        return {}

    def always_true(self) -> bool:
        """True only through all(): all(), and-of-alls, or-with-all, negated !all()."""
        return False

    def always_false(self) -> bool:
        """True only through !all() (see always_true)."""
        return False


class _All(_Node):
    __slots__ = ()

    def render(self, out: list[str]) -> None:
        out.append("all()")

    def compile(self) -> Matcher:
        return _true

    def replace_functions(self, all_node: _Node | None, global_node: _Node | None) -> _Node:
        return self if all_node is None else all_node

    def required_neg(self) -> _Required:
        return None

    def always_true(self) -> bool:
        return True


class _Global(_Node):
    __slots__ = ()

    def render(self, out: list[str]) -> None:
        out.append("global()")

    def compile(self) -> Matcher:
        return _true

    def replace_functions(self, all_node: _Node | None, global_node: _Node | None) -> _Node:
        return self if global_node is None else global_node

    def uses_global(self) -> bool:
        return True

    def required_neg(self) -> _Required:
        return None


def _true(labels: Labels) -> bool:
    return True


class _KeyNode(_Node):
    """A term about one label key."""

    __slots__ = ("key",)
    key: str

    def collect_keys(self, acc: set[str]) -> None:
        acc.add(self.key)


class _Has(_KeyNode):
    __slots__ = ()

    def __init__(self, key: str) -> None:
        self.key = key

    def render(self, out: list[str]) -> None:
        out.append(f"has({self.key})")

    def compile(self) -> Matcher:
        key = self.key
        return lambda labels: key in labels

    def with_prefix(self, prefix: str) -> _Node:
        return _Has(prefix + self.key)

    def required(self) -> _Required:
        return {self.key: None}


class _ValueNode(_KeyNode):
    """``key <op> "value"`` for ==, !=, contains, starts with, ends with."""

    __slots__ = ("value",)
    value: str
    op_text = ""

    def __init__(self, key: str, value: str) -> None:
        self.key = key
        self.value = value

    def render(self, out: list[str]) -> None:
        out.append(f"{self.key} {self.op_text} {_quote(self.value)}")

    def with_prefix(self, prefix: str) -> _Node:
        return type(self)(prefix + self.key, self.value)

    def required(self) -> _Required:
        return {self.key: None}


class _Eq(_ValueNode):
    __slots__ = ()
    op_text = "=="

    def compile(self) -> Matcher:
        key, value = self.key, self.value
        return lambda labels: labels.get(key) == value

    def required(self) -> _Required:
        return {self.key: frozenset((self.value,))}


class _Ne(_ValueNode):
    __slots__ = ()
    op_text = "!="

    def compile(self) -> Matcher:
        key, value = self.key, self.value
        # An absent label (None) is "not equal", as in Calico.
        return lambda labels: labels.get(key) != value

    def required(self) -> _Required:
        return {}

    def required_neg(self) -> _Required:
        return {self.key: frozenset((self.value,))}


class _Contains(_ValueNode):
    __slots__ = ()
    op_text = "contains"

    def compile(self) -> Matcher:
        key, value = self.key, self.value

        def match(labels: Labels) -> bool:
            v = labels.get(key)
            return v is not None and value in v

        return match


class _StartsWith(_ValueNode):
    __slots__ = ()
    op_text = "starts with"

    def compile(self) -> Matcher:
        key, value = self.key, self.value

        def match(labels: Labels) -> bool:
            v = labels.get(key)
            return v is not None and v.startswith(value)

        return match


class _EndsWith(_ValueNode):
    __slots__ = ()
    op_text = "ends with"

    def compile(self) -> Matcher:
        key, value = self.key, self.value

        def match(labels: Labels) -> bool:
            v = labels.get(key)
            return v is not None and v.endswith(value)

        return match


class _SetNode(_KeyNode):
    """``key in {...}`` / ``key not in {...}``; values sorted and de-duplicated as in Calico."""

    __slots__ = ("values",)
    values: tuple[str, ...]
    op_text = ""

    def __init__(self, key: str, values: Iterable[str]) -> None:
        self.key = key
        self.values = tuple(sorted(set(values)))

    def render(self, out: list[str]) -> None:
        out.append(f"{self.key} {self.op_text} {{{', '.join(_quote(v) for v in self.values)}}}")

    def with_prefix(self, prefix: str) -> _Node:
        return type(self)(prefix + self.key, self.values)


class _In(_SetNode):
    __slots__ = ()
    op_text = "in"

    def compile(self) -> Matcher:
        key = self.key
        if len(self.values) == 1:
            only = self.values[0]
            return lambda labels: labels.get(key) == only
        values = frozenset(self.values)
        return lambda labels: labels.get(key) in values

    def required(self) -> _Required:
        return {self.key: frozenset(self.values)}


class _NotIn(_SetNode):
    __slots__ = ()
    op_text = "not in"

    def compile(self) -> Matcher:
        key = self.key
        values = frozenset(self.values)
        # An absent label (None) is "not in" the set, as in Calico.
        return lambda labels: labels.get(key) not in values

    def required_neg(self) -> _Required:
        return {self.key: frozenset(self.values)}


class _Not(_Node):
    __slots__ = ("child",)

    def __init__(self, child: _Node) -> None:
        self.child = child

    def render(self, out: list[str]) -> None:
        out.append("!")
        self.child.render(out)

    def compile(self) -> Matcher:
        child = self.child
        if type(child) is _Has:
            key = child.key
            return lambda labels: key not in labels
        inner = child.compile()
        return lambda labels: not inner(labels)

    def collect_keys(self, acc: set[str]) -> None:
        self.child.collect_keys(acc)

    def with_prefix(self, prefix: str) -> _Node:
        return _Not(self.child.with_prefix(prefix))

    def replace_functions(self, all_node: _Node | None, global_node: _Node | None) -> _Node:
        child = self.child.replace_functions(all_node, global_node)
        return self if child is self.child else _negate(child)

    def uses_global(self) -> bool:
        return self.child.uses_global()

    def required(self) -> _Required:
        return self.child.required_neg()

    def required_neg(self) -> _Required:
        return self.child.required()

    def always_true(self) -> bool:
        return self.child.always_false()

    def always_false(self) -> bool:
        return self.child.always_true()


def _negate(node: _Node) -> _Node:
    """``!node``, folding a double negation (``!!x`` is ``x``, as Calico's parser does)."""
    return node.child if type(node) is _Not else _Not(node)


class _Bool(_Node):
    """&& / || over two or more operands (kept in source order, as Calico does)."""

    __slots__ = ("children",)
    children: tuple[_Node, ...]
    joiner = ""

    def __init__(self, children: Iterable[_Node]) -> None:
        self.children = tuple(children)

    def render(self, out: list[str]) -> None:
        out.append("(")
        first = True
        for child in self.children:
            if not first:
                out.append(self.joiner)
            first = False
            child.render(out)
        out.append(")")

    def flat_children(self) -> list[_Node]:
        """Operands with nested nodes of the same kind inlined (same truth value, fewer calls)."""
        flat: list[_Node] = []
        for child in self.children:
            if type(child) is type(self):
                assert isinstance(child, _Bool)
                flat.extend(child.flat_children())
            else:
                flat.append(child)
        return flat

    def collect_keys(self, acc: set[str]) -> None:
        for child in self.children:
            child.collect_keys(acc)

    def with_prefix(self, prefix: str) -> _Node:
        return type(self)(c.with_prefix(prefix) for c in self.children)

    def replace_functions(self, all_node: _Node | None, global_node: _Node | None) -> _Node:
        children = [c.replace_functions(all_node, global_node) for c in self.children]
        if all(new is old for new, old in zip(children, self.children, strict=True)):
            return self
        return type(self)(children)

    def uses_global(self) -> bool:
        return any(c.uses_global() for c in self.children)


class _And(_Bool):
    __slots__ = ()
    joiner = " && "

    def compile(self) -> Matcher:
        fs = [c.compile() for c in self.flat_children()]
        if len(fs) == 2:
            a, b = fs
            return lambda labels: a(labels) and b(labels)
        if len(fs) == 3:
            a, b, c = fs
            return lambda labels: a(labels) and b(labels) and c(labels)
        funcs = tuple(fs)

        def match(labels: Labels) -> bool:
            for f in funcs:  # noqa: SIM110 - a plain loop is faster than all(<genexpr>)
                if not f(labels):
                    return False
            return True

        return match

    def required(self) -> _Required:
        return _required_all([c.required() for c in self.children])

    def required_neg(self) -> _Required:
        return _required_any([c.required_neg() for c in self.children])

    def always_true(self) -> bool:
        return all(c.always_true() for c in self.children)

    def always_false(self) -> bool:
        return any(c.always_false() for c in self.children)


class _Or(_Bool):
    __slots__ = ()
    joiner = " || "

    def compile(self) -> Matcher:
        fs = [c.compile() for c in self.flat_children()]
        if len(fs) == 2:
            a, b = fs
            return lambda labels: a(labels) or b(labels)
        if len(fs) == 3:
            a, b, c = fs
            return lambda labels: a(labels) or b(labels) or c(labels)
        funcs = tuple(fs)

        def match(labels: Labels) -> bool:
            for f in funcs:  # noqa: SIM110 - a plain loop is faster than any(<genexpr>)
                if f(labels):
                    return True
            return False

        return match

    def required(self) -> _Required:
        return _required_any([c.required() for c in self.children])

    def required_neg(self) -> _Required:
        return _required_all([c.required_neg() for c in self.children])

    def always_true(self) -> bool:
        return any(c.always_true() for c in self.children)

    def always_false(self) -> bool:
        return all(c.always_false() for c in self.children)


_ALL_NODE = _All()
_GLOBAL_NODE = _Global()


# ---------------------------------------------------------------------------------------------
# Index hints
# ---------------------------------------------------------------------------------------------


def _required_all(parts: list[_Required]) -> _Required:
    """Requirements of an AND: all of them (values intersected per key)."""
    merged: dict[str, frozenset[str] | None] = {}
    for part in parts:
        if part is None:
            return None
        for key, values in part.items():
            if key not in merged:
                merged[key] = values
            else:
                known = merged[key]
                merged[key] = values if known is None else known if values is None else known & values
    return merged


def _required_any(parts: list[_Required]) -> _Required:
    """Requirements of an OR: keys required by every branch that can match (values united)."""
    live = [p for p in parts if p is not None]
    if not live:
        return None
    merged = dict(live[0])
    for part in live[1:]:
        for key in list(merged):
            if key not in part:
                del merged[key]
            else:
                known, values = merged[key], part[key]
                merged[key] = None if known is None or values is None else known | values
    return merged


def _hint_cost(hint: IndexHint) -> tuple[int, int]:
    """Lower is more selective: fewest key-only entries first, then fewest candidate values."""
    key_only = sum(1 for _, values in hint if values is None)
    width = sum(len(values) if values is not None else 1 for _, values in hint)
    return key_only, width


def _union_hints(hints: list[IndexHint]) -> IndexHint:
    merged: dict[str, frozenset[str] | None] = {}
    for hint in hints:
        for key, values in hint:
            if key in merged:
                known = merged[key]
                merged[key] = None if known is None or values is None else known | values
            else:
                merged[key] = values
    return list(merged.items())


def _hint(node: _Node, negated: bool) -> IndexHint | None:
    """Most selective necessary condition for ``node`` (or its negation) to match.

    Candidates: any single label the expression requires (Calico's LabelRestrictions idea), and
    for an OR -- directly or by De Morgan under a negation -- the union of its branches' hints.
    """
    while type(node) is _Not:
        node, negated = node.child, not negated
    required = node.required_neg() if negated else node.required()
    if required is None:
        return []
    candidates: list[IndexHint] = [[(k, v)] for k, v in required.items()]
    if isinstance(node, _Bool):
        acts_as_or = isinstance(node, _Or) != negated
        child_hints = [_hint(c, negated) for c in node.children]
        if acts_as_or:
            if all(h is not None for h in child_hints):
                candidates.append(_union_hints([h for h in child_hints if h]))
        else:
            # Multi-entry hints of AND operands (ORs inside); single entries are in `required`.
            candidates.extend(h for h in child_hints if h is not None and len(h) > 1)
    if not candidates:
        return None
    return min(candidates, key=_hint_cost)


# ---------------------------------------------------------------------------------------------
# Parser
# ---------------------------------------------------------------------------------------------


class _Parser:
    __slots__ = ("depth", "pos", "text", "tokens")

    def __init__(self, text: str, tokens: list[_Token]) -> None:
        self.text = text
        self.tokens = tokens
        self.pos = 0
        self.depth = 0

    def describe(self, tok: _Token) -> str:
        kind = tok[0]
        if kind == _EOF:
            return "end of selector"
        source = self.text[tok[2] : tok[3]]
        if kind in (_LABEL, _STRING, _HAS):
            return _show(source) if len(source) <= 40 else source[:37] + "..."
        return f"'{source}'"

    def fail(self, message: str, tok: _Token) -> NoReturn:
        raise SelectorError(f"{message} (found {self.describe(tok)})", tok[2])

    def parse_root(self) -> _Node:
        if self.tokens[0][0] == _EOF:
            return _ALL_NODE
        node = self.parse_or()
        tok = self.tokens[self.pos]
        if tok[0] != _EOF:
            if tok[0] == _RPAREN:
                self.fail("unmatched ')'", tok)
            self.fail("unexpected content after a complete expression; join terms with && or ||", tok)
        return node

    def parse_or(self) -> _Node:
        nodes = [self.parse_and()]
        tokens = self.tokens
        while tokens[self.pos][0] == _OR:
            self.pos += 1
            nodes.append(self.parse_and())
        return nodes[0] if len(nodes) == 1 else _Or(nodes)

    def parse_and(self) -> _Node:
        nodes = [self.parse_operation()]
        tokens = self.tokens
        while tokens[self.pos][0] == _AND:
            self.pos += 1
            nodes.append(self.parse_operation())
        return nodes[0] if len(nodes) == 1 else _And(nodes)

    def parse_operation(self) -> _Node:
        tokens = self.tokens
        negated = False
        while tokens[self.pos][0] == _NOT:
            negated = not negated
            self.pos += 1
        tok = tokens[self.pos]
        kind = tok[0]
        node: _Node
        if kind == _HAS:
            assert tok[1] is not None
            node = _Has(tok[1])
            self.pos += 1
        elif kind == _ALL:
            node = _ALL_NODE
            self.pos += 1
        elif kind == _GLOBAL:
            node = _GLOBAL_NODE
            self.pos += 1
        elif kind == _LABEL:
            node = self.parse_label_term()
        elif kind == _LPAREN:
            self.depth += 1
            if self.depth > MAX_PAREN_DEPTH:
                raise SelectorError(
                    f"parentheses nested more than {MAX_PAREN_DEPTH} deep (calico-audit limit)", tok[2]
                )
            self.pos += 1
            node = self.parse_or()
            close = tokens[self.pos]
            if close[0] != _RPAREN:
                self.fail(f"expected ')' to close the '(' at offset {tok[2]}", close)
            self.pos += 1
            self.depth -= 1
        else:
            self.fail(self.expected_term_message(), tok)
        return _negate(node) if negated else node

    def expected_term_message(self) -> str:
        base = "expected a selector term such as has(k), k == 'v', all() or '('"
        if self.pos > 0:
            prev = self.tokens[self.pos - 1]
            if prev[0] in (_AND, _OR, _NOT):
                return f"{base} after '{self.text[prev[2] : prev[3]]}'"
        return base

    def parse_label_term(self) -> _Node:
        tokens = self.tokens
        label_tok = tokens[self.pos]
        key = label_tok[1]
        assert key is not None
        op_tok = tokens[self.pos + 1]
        op = op_tok[0]
        if op in (_EQ, _NE, _CONTAINS, _STARTS, _ENDS):
            value_tok = tokens[self.pos + 2]
            if value_tok[0] != _STRING:
                self.fail(f"expected a quoted string after '{_OP_NAMES[op]}'", value_tok)
            value = value_tok[1]
            assert value is not None
            self.pos += 3
            if op == _EQ:
                return _Eq(key, value)
            if op == _NE:
                return _Ne(key, value)
            if op == _CONTAINS:
                return _Contains(key, value)
            if op == _STARTS:
                return _StartsWith(key, value)
            return _EndsWith(key, value)
        if op in (_IN, _NOTIN):
            brace = tokens[self.pos + 2]
            if brace[0] != _LBRACE:
                self.fail(f"expected '{{' to start the set after '{_OP_NAMES[op]}'", brace)
            p = self.pos + 3
            values: list[str] = []
            after_value = False
            while tokens[p][0] == _STRING:
                value = tokens[p][1]
                assert value is not None
                values.append(value)
                p += 1
                if tokens[p][0] == _COMMA:
                    p += 1
                else:
                    after_value = True
                    break
            if tokens[p][0] != _RBRACE:
                if after_value:
                    self.fail("expected ',' or '}' after a set value", tokens[p])
                self.fail("expected a quoted string or '}' in the set", tokens[p])
            self.pos = p + 1
            return _In(key, values) if op == _IN else _NotIn(key, values)
        if op == _LPAREN and key in ("has", "all", "global"):
            raise SelectorError(
                f"no space is allowed between '{key}' and '(': write {key}(...)", label_tok[3]
            )
        self.fail(f"expected an operator ({_OPERATOR_LIST}) after label {key!r}", op_tok)


def _tokens_are_exactly_global(text: str) -> bool:
    if "global(" not in text:
        return False
    try:
        tokens = _tokenize(text)
    except SelectorError:
        return False
    return len(tokens) == 2 and tokens[0][0] == _GLOBAL


# ---------------------------------------------------------------------------------------------
# Public Selector
# ---------------------------------------------------------------------------------------------


class Selector:
    """A parsed Calico selector: immutable, hashable, equal when canonical forms are equal.

    Build one with :func:`parse`, :func:`equals`, :func:`has`, :func:`from_label_selector`, or by
    composing others; the constructor itself is internal.
    """

    __slots__ = ("__weakref__", "_canon", "_exact_global", "_hash", "_hint", "_keys", "_match", "_root", "text")

    text: str

    def __init__(self, root: _Node, text: str | None = None, canon: str | None = None) -> None:
        if canon is None:
            canon = _render(root)
        set_ = object.__setattr__
        set_(self, "_root", root)
        set_(self, "_canon", canon)
        set_(self, "text", canon if text is None else text)
        set_(self, "_match", root.compile())
        set_(self, "_hash", hash(canon))
        set_(self, "_keys", None)
        set_(self, "_hint", 0)
        set_(self, "_exact_global", None)

    # -- immutability, equality, pickling ---------------------------------------------------

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Selector objects are immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Selector objects are immutable")

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Selector):
            return self._canon == other._canon
        return NotImplemented

    def __hash__(self) -> int:
        return self._hash

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self._root, self.text))

    def __str__(self) -> str:
        return self._canon

    def __repr__(self) -> str:
        return f"Selector({self._canon!r})"

    # -- evaluation ----------------------------------------------------------------------------

    def matches(self, labels: Labels) -> bool:
        """True when the label set satisfies the selector (label values are strings)."""
        return self._match(labels)

    @property
    def matcher(self) -> Matcher:
        """The compiled ``labels -> bool`` function, for tight loops (skips one method call)."""
        return self._match

    # -- composition -------------------------------------------------------------------------

    def and_(self, other: Selector) -> Selector:
        """``(self) && (other)``; rendered as Calico renders such a combination."""
        return _shared(_And((self._root, other._root)))

    def or_(self, other: Selector) -> Selector:
        return _shared(_Or((self._root, other._root)))

    def negate(self) -> Selector:
        """``!(self)``; a double negation folds back to the original expression."""
        return _shared(_negate(self._root))

    def prefixed(self, prefix: str) -> Selector:
        """Prefix every label key, like Calico's PrefixVisitor (``pcns.``, ``pcsa.``).

        As in Calico, ``all()`` and ``global()`` are left unchanged (Calico's update processors
        then rewrite them textually; see :meth:`replace_functions`).
        """
        if any(c not in _LABEL_CHARS for c in prefix):
            raise ValueError(f"prefix {prefix!r} contains characters not allowed in a label name")
        if not prefix:
            return self
        return _shared(self._root.with_prefix(prefix))

    def replace_functions(
        self, all_with: Selector | None = None, global_with: Selector | None = None
    ) -> Selector:
        """Substitute every ``all()`` and/or ``global()`` term with another selector.

        Models the rewrite Calico applies after prefixing a namespace selector
        (``all()`` -> ``has(projectcalico.org/namespace)``,
        ``global()`` -> ``!has(projectcalico.org/namespace)``).  Calico does this with a plain
        string replacement on the printed selector, which would also touch string literals that
        contain ``all()``; this structural version does not.
        """
        if all_with is None and global_with is None:
            return self
        root = self._root.replace_functions(
            None if all_with is None else all_with._root,
            None if global_with is None else global_with._root,
        )
        return self if root is self._root else _shared(root)

    # -- inspection --------------------------------------------------------------------------

    def label_keys(self) -> frozenset[str]:
        keys = self._keys
        if keys is None:
            acc: set[str] = set()
            self._root.collect_keys(acc)
            keys = frozenset(acc)
            object.__setattr__(self, "_keys", keys)
        return keys

    def is_all(self) -> bool:
        """True for ``""`` / ``all()``, and for expressions that ``all()`` alone makes true
        (``(all())``, ``all() && all()``, ``all() || x``, ``!!all()``).

        Only ``all()`` counts: ``global()`` and tautologies such as ``a not in {}`` or
        ``has(a) || !has(a)`` do not, because Calico's special handling of selectors that
        "select everything" is keyed on the ``all()`` text.
        """
        return self._root.always_true()

    def uses_global(self) -> bool:
        """True if ``global()`` appears anywhere in the expression."""
        return self._root.uses_global()

    def is_exactly_global(self) -> bool:
        """True when the text is just ``global()``, with optional blanks (``global( )`` too).

        Mirrors Calico's validator, which tokenizes the text and accepts only the single token
        ``global()``: ``(global())`` or ``!!global()`` are *not* exactly global.
        """
        flag = self._exact_global
        if flag is None:
            flag = _tokens_are_exactly_global(self.text)
            object.__setattr__(self, "_exact_global", flag)
        return flag

    def required_labels(self) -> dict[str, frozenset[str] | None] | None:
        """Labels every matching label set carries: ``{key: allowed values, or None for any value}``.

        Empty when nothing is required (``all()``, ``!has(a)``); None when nothing can match. A label
        index may file the selector under any one of these keys (Calico's label restrictions).
        """
        required = self._root.required()
        if required is None:
            return None
        return {key: (None if values is None else frozenset(values)) for key, values in required.items()}

    def index_hint(self) -> IndexHint | None:
        """A necessary condition usable for candidate lookup in a label index.

        If not None, every label set that matches contains, for at least one ``(key, values)``
        entry, the key -- with a value in ``values`` when ``values`` is not None.  An empty list
        means no label set can match (e.g. ``!all()``, ``a in {}``).  None when no such
        condition can be derived (``!has(a)``, ``a != 'x'``, ``all()``...).
        """
        hint = self._hint
        if hint == 0:
            hint = _hint(self._root, False)
            object.__setattr__(self, "_hint", hint)
        return None if hint is None else list(hint)


def _rebuild(root: _Node, text: str) -> Selector:
    return Selector(root, text)


def _render(root: _Node) -> str:
    out: list[str] = []
    root.render(out)
    return "".join(out)


#: Composed selectors (``and_``, ``prefixed``, :func:`equals`, ...) by canonical text, while in use. A
#: model builds the same combination for many rules (``<selector> && projectcalico.org/namespace ==
#: 'ns'``): they share one object, its compiled matcher and its caches, instead of one each. Equal
#: canonical text is equality (``__eq__``), and the text of a composed selector is its canonical text.
_SHARED: weakref.WeakValueDictionary[str, Selector] = weakref.WeakValueDictionary()


def _shared(root: _Node) -> Selector:
    """The selector for ``root`` (text = canonical text): the one in use already, if any."""
    canon = _render(root)
    found = _SHARED.get(canon)
    if found is None:
        found = _SHARED[canon] = Selector(root, canon=canon)
    return found


# ---------------------------------------------------------------------------------------------
# Constructors
# ---------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1 << 16)
def _parse_cached(text: str) -> Selector | SelectorError:
    try:
        root = _Parser(text, _tokenize(text)).parse_root()
    except SelectorError as exc:
        return exc
    return Selector(root, text)


def parse(text: str) -> Selector:
    """Parse a Calico selector; raises :class:`SelectorError` exactly when Calico would reject it."""
    if not isinstance(text, str):
        raise TypeError(f"selector must be a string, not {type(text).__name__}")
    result = _parse_cached(text)
    if isinstance(result, SelectorError):
        # A fresh exception each time: re-raising one cached instance would grow its traceback.
        raise SelectorError(result.message, result.offset)
    return result


def validate(text: str) -> SelectorError | None:
    """The error :func:`parse` would raise for ``text``, or None if it is a valid selector."""
    result = _parse_cached(text)
    if isinstance(result, SelectorError):
        return SelectorError(result.message, result.offset)
    return None


def is_valid_label_name(key: str) -> bool:
    """True if ``key`` can be written as a label name in a selector (1-512 label characters)."""
    return 0 < len(key) <= MAX_LABEL_LENGTH and all(c in _LABEL_CHARS for c in key)


def _check_key(key: str) -> None:
    if not isinstance(key, str) or not is_valid_label_name(key):
        raise ValueError(
            f"{key!r} cannot be used as a selector label name "
            f"(1-{MAX_LABEL_LENGTH} characters from A-Z a-z 0-9 _ . / -)"
        )


def _check_value(value: str) -> None:
    if not isinstance(value, str):
        raise ValueError(f"selector values must be strings, not {type(value).__name__}")
    if '"' in value and "'" in value:
        raise ValueError(f"{value!r} contains both quote characters and cannot be written in a selector")


def equals(key: str, value: str) -> Selector:
    """``key == "value"``."""
    _check_key(key)
    _check_value(value)
    return _shared(_Eq(key, value))


def has(key: str) -> Selector:
    """``has(key)``."""
    _check_key(key)
    return _shared(_Has(key))


def one_of(key: str, values: Iterable[str]) -> Selector:
    """``key in {...}``."""
    _check_key(key)
    vals = list(values)
    for v in vals:
        _check_value(v)
    return _shared(_In(key, vals))


ALL: Selector = parse("")
"""Matches every label set (``all()``)."""


# ---------------------------------------------------------------------------------------------
# Kubernetes LabelSelector
# ---------------------------------------------------------------------------------------------

_K8S_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


_KEY_FAULTS = {
    NameFault.SLASHES: "a label key may contain at most one '/'",
    NameFault.EMPTY_PREFIX: "the prefix before '/' must not be empty",
    NameFault.LONG_PREFIX: "the prefix before '/' must be at most 253 characters",
    NameFault.BAD_PREFIX: "the prefix before '/' must be a DNS subdomain (lowercase a-z, 0-9, '-' and '.')",
    NameFault.EMPTY_NAME: "the name part must not be empty",
    NameFault.LONG_NAME: "the name part must be at most 63 characters",
    NameFault.BAD_NAME: (
        "the name part must consist of alphanumerics, '-', '_' or '.', "
        "and start and end with an alphanumeric character"
    ),
}
_VALUE_FAULTS = {
    NameFault.LONG_NAME: "a label value must be at most 63 characters",
    NameFault.BAD_NAME: (
        "a label value must be empty or consist of alphanumerics, '-', '_' or '.', "
        "starting and ending with an alphanumeric character"
    ),
}


def _check_k8s_key(key: object, path: tuple[str | int, ...]) -> str:
    if not isinstance(key, str):
        raise LabelSelectorError(f"label key must be a string, not {type(key).__name__}", path)
    fault = qualified_name_fault(key)
    if fault is not None:
        raise LabelSelectorError(f"invalid label key {key!r}: {_KEY_FAULTS[fault]}", path)
    return key


def _check_k8s_value(value: object, path: tuple[str | int, ...]) -> str:
    if not isinstance(value, str):
        raise LabelSelectorError(
            f"label value must be a string, not {type(value).__name__} (quote it in YAML)", path
        )
    fault = label_value_fault(value)
    if fault is not None:
        raise LabelSelectorError(f"invalid label value {value!r}: {_VALUE_FAULTS[fault]}", path)
    return value


def from_label_selector(obj: object) -> Selector:
    """Convert a Kubernetes ``LabelSelector`` object to the equivalent Calico selector.

    Kubernetes semantics: None or ``{}`` matches everything; ``matchLabels`` entries and
    ``matchExpressions`` are ANDed; ``NotIn`` and ``DoesNotExist`` match when the key is absent.
    The result has the shape Calico's Kubernetes converter produces (matchLabels sorted by key,
    then the expressions in order).  Raises :class:`LabelSelectorError` for objects the API
    server would reject (bad types, unknown fields, invalid keys/values/operators, values given
    for Exists/DoesNotExist or missing for In/NotIn).
    """
    if obj is None:
        return ALL
    if not isinstance(obj, Mapping):
        raise LabelSelectorError(
            f"a label selector must be a mapping with matchLabels and/or matchExpressions, "
            f"not {type(obj).__name__}",
            (),
        )
    for field in obj:
        if field not in ("matchLabels", "matchExpressions"):
            raise LabelSelectorError(
                f"unknown field {field!r} (a label selector has only matchLabels and matchExpressions)",
                (field,),
            )
    terms: list[_Node] = []

    match_labels = obj.get("matchLabels")
    if match_labels is not None:
        if not isinstance(match_labels, Mapping):
            raise LabelSelectorError(
                f"matchLabels must be a mapping of label keys to values, not {type(match_labels).__name__}",
                ("matchLabels",),
            )
        checked: dict[str, str] = {}
        for key, value in match_labels.items():
            k = _check_k8s_key(key, ("matchLabels", str(key)))
            checked[k] = _check_k8s_value(value, ("matchLabels", k))
        terms.extend(_Eq(k, checked[k]) for k in sorted(checked))

    expressions = obj.get("matchExpressions")
    if expressions is not None:
        if not isinstance(expressions, (list, tuple)):
            raise LabelSelectorError(
                f"matchExpressions must be a list, not {type(expressions).__name__}", ("matchExpressions",)
            )
        for index, expr in enumerate(expressions):
            terms.append(_convert_requirement(expr, ("matchExpressions", index)))

    if not terms:
        return ALL
    return _shared(terms[0] if len(terms) == 1 else _And(terms))


def _convert_requirement(expr: object, path: tuple[str | int, ...]) -> _Node:
    if not isinstance(expr, Mapping):
        raise LabelSelectorError(
            "each match expression must be a mapping with key, operator and values, "
            f"not {type(expr).__name__}",
            path,
        )
    for field in expr:
        if field not in ("key", "operator", "values"):
            raise LabelSelectorError(
                f"unknown field {field!r} (a match expression has key, operator and values)", (*path, field)
            )
    if "key" not in expr or expr["key"] is None:
        raise LabelSelectorError("key is required", (*path, "key"))
    key = _check_k8s_key(expr["key"], (*path, "key"))
    operator = expr.get("operator")
    if operator is None:
        raise LabelSelectorError(
            f"operator is required (one of {', '.join(_K8S_OPERATORS)})", (*path, "operator")
        )
    if operator not in _K8S_OPERATORS:
        raise LabelSelectorError(
            f"{operator!r} is not a valid operator (use one of {', '.join(_K8S_OPERATORS)}; case matters)",
            (*path, "operator"),
        )
    raw_values = expr.get("values")
    values: list[str] = []
    if raw_values is not None:
        if not isinstance(raw_values, (list, tuple)):
            raise LabelSelectorError(
                f"values must be a list of strings, not {type(raw_values).__name__}", (*path, "values")
            )
        values = [_check_k8s_value(v, (*path, "values", i)) for i, v in enumerate(raw_values)]
    if operator in ("In", "NotIn"):
        if not values:
            raise LabelSelectorError(
                f"values must be a non-empty list when operator is {operator}", (*path, "values")
            )
        return _In(key, values) if operator == "In" else _NotIn(key, values)
    if values:
        raise LabelSelectorError(f"values must not be given when operator is {operator}", (*path, "values"))
    return _Has(key) if operator == "Exists" else _Not(_Has(key))
