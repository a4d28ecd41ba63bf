"""YAML composition: one file's text -> documents (plain data + positions) and problems.

YAML is composed with ruamel.yaml's C-backed composer (``ruamel.yaml.clib``; the pure-Python
composer is the fallback and gives identical results). In one pass over the node tree we build
plain Python data (dicts, lists, str, int, float, bool, None) and, beside it, the position table of
:class:`~auditor.load.document.Document`. Syntax errors, templates, duplicate keys and limits become
:class:`~auditor.load.source.LoadProblem` s.
"""

from __future__ import annotations

import re
import sys
from array import array
from typing import Any

from auditor.findings import Span
from auditor.load.document import COL_BITS, Document, pack_mark
from auditor.load.source import Limits, LoadProblem, SourceFile

_TAG = "tag:yaml.org,2002:"

_STR, _INT, _FLOAT, _BOOL, _NULL = (_TAG + t for t in ("str", "int", "float", "bool", "null"))

_MERGE = _TAG + "merge"

# Kubernetes decodes YAML with go-yaml v2 rules: these plain words are booleans there (YAML 1.1),
# while YAML 1.2 (ruamel's default) keeps them as strings.
BOOL_WORDS = {
    **dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "on", "On", "ON"), True),
    **dict.fromkeys(("n", "N", "no", "No", "NO", "off", "Off", "OFF"), False),
}

_TEMPLATE_RE = re.compile(r"\{\{-?\s*[\w.$/\"(|-]|\{%")

_DOC_SPLIT_RE = re.compile(r"^(?:---|\.\.\.)(?:[ \t].*)?$", re.M)


class _Limit(Exception):
    def __init__(self, message: str, mark: Any, index: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.mark = mark
        self.index = index  # the document (within the text parsed) when known


class _Builder:
    """Turns one composed document into data + position table, with hostile-input limits."""

    __slots__ = ("alias_nodes", "file", "limits", "memo", "merges", "nodes", "pos", "problems")

    def __init__(self, file: SourceFile, limits: Limits) -> None:
        self.file = file
        self.limits = limits
        self.pos: array = array("q")
        self.memo: dict[int, tuple[Any, int, int]] = {}
        self.merges: dict[int, list[tuple[str, Any, Any]]] = {}
        self.problems: list[LoadProblem] = []
        self.nodes = 0
        self.alias_nodes = 0

    def build(self, node: Any) -> Any:
        return self._node(node, -1, 0)

    def _node(self, node: Any, key: int, depth: int) -> Any:
        pos = self.pos
        memo = self.memo.get(id(node))
        if memo is not None:  # an alias: reuse the data, repeat its positions
            data, first, count = memo
            self.alias_nodes += count
            self.nodes += count
            if self.alias_nodes > self.limits.max_alias_nodes or self.nodes > self.limits.max_nodes:
                raise _Limit(
                    f"aliases expand to more than {self.limits.max_alias_nodes:,} nodes (a YAML bomb?)",
                    node.start_mark,
                )
            start = len(pos)
            pos.extend(pos[first * 3 : (first + count) * 3])
            pos[start] = key
            return data
        first = len(pos) // 3
        pos.append(key)
        pos.append(pack_mark(node.start_mark))
        pos.append(pack_mark(node.end_mark))
        self.nodes += 1
        if self.nodes > self.limits.max_nodes:
            raise _Limit(f"document has more than {self.limits.max_nodes:,} nodes", node.start_mark)
        kind = node.id
        tag = node.tag
        if tag not in _KNOWN_TAGS:
            self._odd_tag(node, tag)
        if kind == "scalar":
            data: Any = _scalar(node, tag)
            if node.value == "" and not node.style and key >= 0:
                # An empty value (`labels:` and nothing): the parsers place it differently; use its key.
                pos[first * 3 + 1] = pos[first * 3 + 2] = key
        else:
            if depth >= self.limits.max_depth:
                raise _Limit(f"nesting deeper than {self.limits.max_depth} levels", node.start_mark)
            if kind == "mapping":
                data = {}
                for k, knode, vnode in self._entries(node, depth):
                    data[k] = self._node(vnode, pack_mark(knode.start_mark), depth + 1)
            else:
                data = [self._node(item, -1, depth + 1) for item in node.value]
            if len(pos) // 3 > first + 1 and node.flow_style is not True:
                # A block collection ends where its last value ends. (libyaml and the pure-Python
                # parser disagree on the end mark of block collections; this keeps them identical.)
                pos[first * 3 + 2] = pos[-1]
        if kind != "scalar" or node.anchor is not None:
            # The C composer does not record anchors: an alias is the same node object again, so
            # every collection is remembered (a YAML bomb then costs its expanded size in alias_nodes).
            self.memo[id(node)] = (data, first, len(pos) // 3 - first)
        return data

    def _entries(self, node: Any, depth: int) -> list[tuple[str, Any, Any]]:
        """Mapping entries in final order: merges (``<<``) first, later keys override, duplicates reported."""
        entries: list[tuple[str, Any, Any]] = []
        index: dict[str, int] = {}
        merged: list[tuple[str, Any, Any]] = []
        for knode, vnode in node.value:
            if knode.tag == _MERGE:
                sources = vnode.value if vnode.id == "sequence" else [vnode]
                for src in sources:
                    if src.id != "mapping":
                        raise _Limit("a merge key (<<) must refer to a mapping", vnode.start_mark)
                    if depth > self.limits.max_depth:
                        raise _Limit(f"nesting deeper than {self.limits.max_depth} levels", src.start_mark)
                    # Each merged mapping is flattened once; re-merging it costs its size (no merge-key bomb).
                    sub = self.merges.get(id(src))
                    if sub is None:
                        sub = self.merges[id(src)] = self._entries(src, depth + 1)
                    self.alias_nodes += len(sub)
                    if self.alias_nodes > self.limits.max_alias_nodes:
                        raise _Limit(
                            f"merge keys (<<) expand to more than {self.limits.max_alias_nodes:,} entries "
                            "(a YAML bomb?)",
                            vnode.start_mark,
                        )
                    merged.extend(sub)
                continue
            key = self._key(knode)
            if key in index:
                prev = entries[index[key]][1]
                self.problems.append(
                    LoadProblem(
                        self.file,
                        span_of(knode, len(key)),
                        f"duplicate key `{key}` (first at line {prev.start_mark.line + 1}); "
                        "YAML forbids it and tools disagree on which value wins",
                        "duplicate-key",
                        "remove one of the two keys",
                    )
                )
                entries[index[key]] = (key, knode, vnode)
            else:
                index[key] = len(entries)
                entries.append((key, knode, vnode))
        if merged:
            seen: set[str] = set(index)
            head: list[tuple[str, Any, Any]] = []
            for entry in merged:
                if entry[0] not in seen:
                    seen.add(entry[0])
                    head.append(entry)
            entries = head + entries
        return entries

    def _odd_tag(self, node: Any, tag: str) -> None:
        """A tag outside YAML's core types: the value stays plain data, but say so (it often is a typo)."""
        shown = tag.replace(_TAG, "!!", 1)
        if tag.startswith("!") and node.id == "scalar" and node.value == "" and not node.style:
            message = (
                f"`{shown}` is read as a YAML tag, so this value is empty: a value that starts with `!` "
                f"(a selector such as `{shown}`) must be quoted"
            )
            self.problems.append(
                LoadProblem(self.file, span_of(node, len(shown)), message, "tag-value", f"write `'{shown}'`")
            )
            return
        self.problems.append(
            LoadProblem(
                self.file,
                span_of(node, len(shown)),
                f"unknown YAML tag `{shown}`: read as plain data (nothing is constructed), as Kubernetes does",
                "tag",
                "remove the tag",
            )
        )

    def _key(self, knode: Any) -> str:
        value = knode.value
        if isinstance(value, str):
            # Keys keep their text (`on:`, `80:` and `true:` stay strings); a repository repeats the same
            # few hundred keys millions of times, so each is stored once.
            return sys.intern(value)
        raise _Limit("complex mapping keys (a list or mapping used as a key) are not supported", knode.start_mark)


def span_of(node: Any, width: int = 1) -> Span:
    line, col = node.start_mark.line + 1, node.start_mark.column + 1
    return Span.point(line, col, width)


_INT_RE = re.compile(r"[-+]?(?:0|[1-9][0-9_]*)$")

#: Tags that are plain YAML: the core schema and the widely known types (still loaded as plain data).
_KNOWN_TAGS = frozenset(
    _TAG + t
    for t in (
        "str",
        "int",
        "float",
        "bool",
        "null",
        "map",
        "seq",
        "merge",
        "binary",
        "timestamp",
        "set",
        "omap",
        "pairs",
    )
) | {"!"}


def _scalar(node: Any, tag: str | None = None) -> Any:
    tag = node.tag if tag is None else tag
    value = node.value
    if tag == _STR:
        if not node.style:
            flag = BOOL_WORDS.get(value)
            if flag is not None:
                return flag
        return sys.intern(value) if len(value) <= 24 else value  # `TCP`, `Allow`, `k8s-role`: stored once
    if tag == _INT:
        return _to_int(value)
    if tag == _BOOL:
        return value.lower() == "true"
    if tag == _NULL:
        return None
    if tag == _FLOAT:
        return _to_float(value)
    return value  # timestamps, binary and unknown or custom tags stay text: nothing is constructed


def _to_int(text: str) -> Any:
    clean = text.replace("_", "")
    try:
        if _INT_RE.match(clean):
            return int(clean)
        sign = -1 if clean.startswith("-") else 1
        body = clean.lstrip("+-")
        if body[:2] in ("0x", "0X"):
            return sign * int(body[2:], 16)
        if body[:2] in ("0o", "0O"):
            return sign * int(body[2:], 8)
        if body[:2] in ("0b", "0B"):
            return sign * int(body[2:], 2)
        if body.startswith("0") and body.isdigit():
            return sign * int(body, 8)
    except ValueError:
        pass
    return text


def _to_float(text: str) -> Any:
    low = text.lower().lstrip("+")
    if low in (".inf", "-.inf"):
        return float("-inf") if low.startswith("-") else float("inf")
    if low == ".nan":
        return float("nan")
    try:
        return float(text.replace("_", ""))
    except ValueError:
        return text


def _fast_resolver() -> type:
    """A resolver with YAML 1.2 core rules (ruamel's own table) but without ruamel's per-scalar
    version lookup, which was a third of the loading time. Both the C and the pure-Python composer
    use it, so they resolve alike; a ``%YAML 1.1`` directive is not honoured (Kubernetes' own
    YAML 1.1 booleans are applied later, in :func:`_scalar`)."""
    from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode
    from ruamel.yaml.resolver import BaseResolver, implicit_resolvers
    from ruamel.yaml.tag import Tag

    table: dict[str | None, list[tuple[Any, Any]]] = {}
    tags: dict[str, Any] = {}
    for versions, tag, regexp, first in implicit_resolvers:
        if (1, 2) not in versions:
            continue
        shared = tags.setdefault(tag, Tag(suffix=tag))
        for ch in first:
            table.setdefault(ch, []).append((shared, regexp))
    string, sequence, mapping = (Tag(suffix=_TAG + t) for t in ("str", "seq", "map"))
    anywhere = table.get(None, [])

    class FastResolver(BaseResolver):  # type: ignore[misc]
        def __init__(self, version: Any = None, loader: Any = None, loadumper: Any = None) -> None:
            BaseResolver.__init__(self, loadumper=loadumper or loader)

        @property
        def processing_version(self) -> tuple[int, int]:
            return (1, 2)

        def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
            if kind is ScalarNode:
                if implicit[0]:
                    for tag, regexp in table.get(value[:1], ()):
                        if regexp.match(value):
                            return tag
                    for tag, regexp in anywhere:
                        if regexp.match(value):
                            return tag
                return string
            if kind is SequenceNode:
                return sequence
            if kind is MappingNode:
                return mapping
            return string

    return FastResolver


def _yaml(pure: bool) -> Any:
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=pure)
    yaml.Resolver = _fast_resolver()
    return yaml


_PARSERS: dict[bool, Any] = {}


def _composer(pure: bool = False) -> Any:
    parser = _PARSERS.get(pure)
    if parser is None:
        parser = _PARSERS[pure] = _yaml(pure)
    return parser


def _error_position(exc: BaseException, text: str, line_offset: int) -> tuple[Span, str]:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or ""
    context = getattr(exc, "context", None) or ""
    if mark is not None:
        line, col = mark.line + 1 + line_offset, mark.column + 1
    else:
        position = getattr(exc, "position", None)
        if isinstance(position, int):
            before = text[:position]
            line = before.count("\n") + 1 + line_offset
            col = position - (before.rfind("\n") + 1) + 1
        else:
            line, col = 1 + line_offset, 1
        problem = problem or str(exc).splitlines()[0]
    message = problem if not context else f"{problem} ({context})"
    return Span.point(line, col), message


def _template_span(text: str) -> Span | None:
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.lstrip()
        if stripped.startswith("#"):
            continue
        match = _TEMPLATE_RE.search(line)
        if match:
            return Span.point(number, match.start() + 1, 2)
    return None


TEMPLATE_HINT = "render it first, e.g. `helm template RELEASE CHART | audit -` or `kustomize build DIR | audit -`"


def parse_text(
    file: SourceFile, limits: Limits | None = None, pure: bool = False
) -> tuple[list[Document], list[LoadProblem]]:
    """Parse a file's text into documents; never raises for bad input."""
    limits = limits or Limits()
    text = file.text or ""
    if file.path.endswith(".json") and "\t" in text:
        text = text.replace("\t", " ")  # JSON allows tabs between tokens, YAML does not; columns are kept
    docs: list[Document] = []
    problems: list[LoadProblem] = []
    try:
        _compose_into(file, text, 0, 0, limits, pure, docs, problems)
        return docs, problems
    except Exception as exc:  # RecursionError included: never raise for bad input
        first_error = exc
    template = _template_span(text)
    if template is not None:
        return [], [
            LoadProblem(
                file,
                template,
                "unrendered template: this file contains template expressions (`{{ … }}`) and is not valid YAML",
                "template",
                TEMPLATE_HINT,
            )
        ]
    # Salvage: parse the documents of a multi-document stream one by one, so one broken
    # document does not hide the others.
    docs, problems = [], []
    chunks = _split_documents(text)
    if len(chunks) <= 1:
        return [], [_failure(file, first_error, text, 0, 0, limits)]
    index = 0
    for offset, chunk in chunks:
        before = len(docs)
        try:
            _compose_into(file, chunk, offset, index, limits, pure, docs, problems)
        except Exception as exc:
            del docs[before:]
            problems.append(_failure(file, exc, chunk, offset, index, limits))
            index += 1
        else:
            index += max(len(docs) - before, 1)
    return docs, problems


def _failure(
    file: SourceFile, exc: BaseException, text: str, line_offset: int, index: int, limits: Limits
) -> LoadProblem:
    """The problem for a text (or one chunk of a stream) that could not be composed."""
    if isinstance(exc, _Limit):
        line, col = exc.mark.line + 1 + line_offset, exc.mark.column + 1
        number = index + (exc.index or 0) + 1
        return LoadProblem(file, Span.point(line, col), f"document {number} skipped: {exc.message}", "limit")
    if isinstance(exc, RecursionError):
        return LoadProblem(
            file,
            Span.point(1 + line_offset, 1),
            f"nesting too deep to parse (more than {limits.max_depth} levels)",
            "limit",
        )
    span, message = _error_position(exc, text, line_offset)
    return LoadProblem(file, span, f"invalid YAML: {message}", "syntax")


#: Nesting the composers may meet unchecked. Both recurse once per level: the C composer on the
#: C stack (tens of thousands of levels crash the process with SIGSEGV), the pure one on Python's.
_SAFE_NESTING = 300

_BLOCK_PREFIX_RE = re.compile(r"^(?:---[ \t]+)?[ \t]*(?:[-?:][ \t]+)*", re.M)


def _nesting_bound(text: str) -> int:
    """A cheap upper bound of the nesting depth of ``text``.

    Flow nesting is at most the number of ``[`` and ``{``; block nesting is at most twice the
    widest line prefix of indentation and ``- ``/``? ``/``: `` indicators, plus the root.
    """
    bound = text.count("[") + text.count("{")
    if bound > _SAFE_NESTING:
        return bound
    prefix = max((m.end() - m.start() for m in _BLOCK_PREFIX_RE.finditer(text)), default=0)
    return bound + 2 * prefix + 2


def _check_nesting(text: str, limits: Limits, pure: bool) -> None:
    """Raise _Limit at the first collection nested deeper than the limit, before composing.

    The parser's events come from a loop, not recursion, and stopping at the limit also keeps
    libyaml's per-token cost (which grows with the flow depth) small.
    """
    depth = 0
    index = -1
    events = _composer(pure).parse(text)
    try:
        for event in events:
            name = type(event).__name__
            if name in ("MappingStartEvent", "SequenceStartEvent"):
                depth += 1
                if depth > limits.max_depth:
                    raise _Limit(f"nesting deeper than {limits.max_depth} levels", event.start_mark, max(index, 0))
            elif name in ("MappingEndEvent", "SequenceEndEvent"):
                depth -= 1
            elif name == "DocumentStartEvent":
                index += 1
                depth = 0
    finally:
        events.close()


def _split_documents(text: str) -> list[tuple[int, str]]:
    chunks: list[tuple[int, str]] = []
    starts = [0] + [m.start() for m in _DOC_SPLIT_RE.finditer(text)]
    starts = sorted(set(starts))
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(text)
        chunk = text[start:end]
        if chunk.strip() and chunk.strip() not in ("---", "..."):
            line_offset = text.count("\n", 0, start)
            chunks.append((line_offset, chunk))
    return chunks


def _compose_into(
    file: SourceFile,
    text: str,
    line_offset: int,
    first_index: int,
    limits: Limits,
    pure: bool,
    docs: list[Document],
    problems: list[LoadProblem],
) -> None:
    if _nesting_bound(text) > _SAFE_NESTING:
        _check_nesting(text, limits, pure)
    composer = _composer(pure)
    for index, root in enumerate(composer.compose_all(text), first_index):
        if root is None:
            continue
        builder = _Builder(file, limits)
        try:
            data = builder.build(root)
        except _Limit as exc:
            line = exc.mark.line + 1 + line_offset
            source_line = file.lines[line - 1] if 0 < line <= len(file.lines) else ""
            if "complex mapping keys" in exc.message and _TEMPLATE_RE.search(source_line):
                # `name: {{ .Release.Name }}` parses as a mapping used as a key: it is a template.
                column = _TEMPLATE_RE.search(source_line).start() + 1  # type: ignore[union-attr]
                problems.append(
                    LoadProblem(
                        file,
                        Span.point(line, column, 2),
                        "unrendered template: this document contains template expressions (`{{ … }}`) and "
                        "is not valid YAML for Kubernetes",
                        "template",
                        TEMPLATE_HINT,
                    )
                )
                continue
            problems.append(
                LoadProblem(
                    file,
                    Span.point(line, exc.mark.column + 1),
                    f"document {index + 1} skipped: {exc.message}",
                    "limit",
                )
            )
            continue
        if line_offset:
            _shift(builder.pos, line_offset)
            for problem in builder.problems:
                s = problem.span
                problem.span = Span(s.line + line_offset, s.column, s.end_line + line_offset, s.end_column)
        problems.extend(builder.problems)
        # A copy of exactly the table's size: the array grown by appends keeps up to an eighth spare.
        docs.append(Document(file, index, data, builder.pos[:]))


def _shift(pos: array, lines: int) -> None:
    delta = lines << COL_BITS
    for i, value in enumerate(pos):
        if value >= 0:
            pos[i] = value + delta
