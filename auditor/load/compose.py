"""The one loader: files and folders -> documents with plain data and exact positions.

YAML is composed with ruamel.yaml's C-backed composer (``ruamel.yaml.clib``; the pure-Python
composer is the fallback and gives identical results). In one pass over the node tree we build
plain Python data (dicts, lists, str, int, float, bool, None) and, beside it, a compact position
table: three packed integers per node in pre-order (key start, value start, value end). A path
such as ``("spec", "ingress", 0, "source", "nets", 1)`` is turned into a position on demand by
walking the data in the same pre-order, so the data never carries position keys of its own.

Anything wrong with a file (syntax errors, undecodable bytes, templates, duplicate keys, limits)
becomes a :class:`LoadProblem` for that file; the rest of the input is still loaded.
"""

from __future__ import annotations

import codecs
import fnmatch
import os
import re
import stat
import sys
from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from auditor.findings import Location, PathT, Span


class ParseCache(Protocol):
    """What the loader asks of the cache of parsed files (:class:`auditor.cache.ParseCache` is one)."""

    def key(self, text: str, *parts: object) -> str: ...

    def get(self, real: str, key: str) -> Any: ...

    def put(self, real: str, key: str, value: Any) -> None: ...


class Renderer(Protocol):
    """What discovery asks of Helm/kustomize rendering (:class:`auditor.render.Renderer` is one): the
    loader never imports the renderer; a run hands it one."""

    enabled: bool
    helm_hint: str
    kustomize_hint: str

    def can_render_helm(self) -> bool: ...

    def can_render_kustomize(self) -> bool: ...

    def is_chart(self, folder: str) -> bool: ...

    def kustomization_file(self, folder: str) -> str | None: ...

    def plan_kustomize(self, folders: list[str]) -> Any: ...

    def load_rendered(
        self, result: LoadResult, candidate: Candidate, known_kinds: frozenset[str], limits: Limits, pure: bool
    ) -> None: ...

YAML_SUFFIXES = (".yaml", ".yml", ".json")
#: Folders never descended into: version control and tool caches.
SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".bzr",
        "_darcs",
        ".jj",
        ".tox",
        ".nox",
        ".venv",
        "venv",
        "node_modules",
        "__pycache__",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".hypothesis",
        ".terraform",
        ".idea",
        ".calico-audit-cache",
        ".direnv",
        ".eggs",
    }
)

_TAG = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL = (_TAG + t for t in ("str", "int", "float", "bool", "null"))
_MERGE = _TAG + "merge"
# Kubernetes decodes YAML with go-yaml v2 rules: these plain words are booleans there (YAML 1.1),
# while YAML 1.2 (ruamel's default) keeps them as strings.
_BOOL_WORDS = {
    **dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "on", "On", "ON"), True),
    **dict.fromkeys(("n", "N", "no", "No", "NO", "off", "Off", "OFF"), False),
}
_TEMPLATE_RE = re.compile(r"\{\{-?\s*[\w.$/\"(|-]|\{%")
_DOC_SPLIT_RE = re.compile(r"^(?:---|\.\.\.)(?:[ \t].*)?$", re.M)

# The line breaks YAML readers count (str.splitlines also splits on \f, \v and others).
_LINE_BREAK = re.compile("\r\n|\r|\n|\x85|\u2028|\u2029")
_COL_BITS = 24
_COL_MASK = (1 << _COL_BITS) - 1


@dataclass
class Limits:
    """Resource limits for hostile input (documented in docs/limits.md)."""

    max_file_bytes: int = 20 * 1024 * 1024
    max_depth: int = 200
    max_nodes: int = 2_000_000
    max_alias_nodes: int = 200_000
    follow_symlinks_outside: bool = False


class SourceFile:
    """One input file: its display path and text (for code frames and suppression comments).

    Once parsed, the text of a file on disk is released (:meth:`release`) and read again only if a
    finding needs its lines: a big repository would otherwise hold all of its text until the end.
    """

    __slots__ = ("_lines", "_text", "has_directive", "path", "real")

    def __init__(self, path: str, real: str | None, text: str | None = None) -> None:
        self.path = path
        self.real = real
        self._text = text
        self._lines: list[str] | None = None
        self.has_directive = text is not None and "calico-audit" in text

    @property
    def text(self) -> str | None:
        if self._text is None and self.real is not None and self._lines is None:
            return self._reread()
        return self._text

    @text.setter
    def text(self, value: str | None) -> None:
        self._text = value
        self._lines = None
        self.has_directive = value is not None and "calico-audit" in value

    def release(self) -> None:
        """Forget the text of a file that can be read again from disk."""
        if self.real is not None:
            self._text = None

    def _reread(self) -> str | None:
        try:
            with open(self.real, "rb") as fh:  # type: ignore[arg-type]
                text, _, _ = decode(fh.read())
        except OSError:
            return None
        return text

    @property
    def lines(self) -> list[str]:
        if self._lines is None:
            self._lines = _LINE_BREAK.split(self.text or "")
            if self._lines and self._lines[-1] == "":
                self._lines.pop()
        return self._lines

    def __repr__(self) -> str:
        return f"SourceFile({self.path!r})"


def _pack(mark: Any) -> int:
    return ((mark.line + 1) << _COL_BITS) | min(mark.column + 1, _COL_MASK)


def _unpack(value: int) -> tuple[int, int]:
    return value >> _COL_BITS, value & _COL_MASK


class Origin(Protocol):
    """Where a rendered document came from (see :mod:`auditor.render`)."""

    label: str  # the tool that rendered it: "helm template", "kustomize build"

    def locate(self, doc: Document, path: PathT, on_key: bool) -> Location:
        """The place in the source of the node at ``path`` of ``doc``."""
        ...

    def extent(self) -> tuple[str, int, int]:
        """The source file and the lines (first, last) the document comes from."""
        ...

    def document(self) -> Document | None:
        """The source document, when the source is YAML (kustomize), for comment suppressions."""
        ...


class Document:
    """One YAML document: plain data plus its position table.

    The data must be treated as read-only: positions are found by walking it.
    """

    __slots__ = ("data", "file", "index", "pos")
    origin: Origin | None = None  # set on rendered documents: findings are placed at their source

    def __init__(self, file: SourceFile, index: int, data: Any, pos: array) -> None:
        self.file = file
        self.index = index
        self.data = data
        self.pos = pos

    def __repr__(self) -> str:
        return f"Document({self.file.path!r}#{self.index})"

    def _slot(self, path: PathT) -> tuple[int, int]:
        """Pre-order index of the deepest existing node on ``path`` and how many path parts matched."""
        node = self.data
        idx = 0
        sizes: dict[int, int] = {}
        for depth, part in enumerate(path):
            if isinstance(node, dict):
                if not isinstance(part, str) or part not in node:
                    return idx, depth
                idx += 1
                for key, value in node.items():
                    if key == part:
                        break
                    idx += _size(value, sizes)
                node = node[part]
            elif isinstance(node, list):
                if not isinstance(part, int) or not -len(node) <= part < len(node):
                    return idx, depth
                part %= len(node)
                idx += 1
                for value in node[:part]:
                    idx += _size(value, sizes)
                node = node[part]
            else:
                return idx, depth
        return idx, len(path)

    def exists(self, path: PathT) -> bool:
        return self._slot(path)[1] == len(path)

    def locate(self, path: PathT, on_key: bool = False) -> Span:
        """The span of the node at ``path`` (its key with ``on_key``).

        A missing field points at the key of its deepest existing parent; a collection value
        points at its key, so a finding about a whole list lands on ``ingress:`` and not on the
        line after it.
        """
        idx, matched = self._slot(path)
        base = idx * 3
        if base + 2 >= len(self.pos):  # pragma: no cover - table always covers the data
            return Span.point(1, 1)
        key, start, end = self.pos[base], self.pos[base + 1], self.pos[base + 2]
        node = self._node_at(path[:matched])
        is_collection = isinstance(node, (dict, list))
        if key >= 0 and (on_key or matched < len(path) or is_collection):
            line, col = _unpack(key)
            width = len(str(path[matched - 1])) if matched and isinstance(path[matched - 1], str) else 1
            return Span.point(line, col, self._key_width(line, col, width))
        line, col = _unpack(start)
        end_line, end_col = _unpack(end)
        if is_collection or end_line > line:
            # Multi-line values (block scalars, collections): mark the rest of the first line.
            text = self._line(line)
            end_line, end_col = line, max(col + 1, len(text.rstrip()) + 1)
        return Span(line, col, end_line, max(end_col, col + 1))

    def marks(self, path: PathT) -> tuple[tuple[int, int] | None, tuple[int, int], tuple[int, int]] | None:
        """Exact 1-based (line, column) marks of the node at ``path``: its key (None for a list item or the
        root), its start and its end (just after it; a block collection ends where its last value ends).
        None when the path does not exist."""
        idx, matched = self._slot(path)
        if matched < len(path) or idx * 3 + 2 >= len(self.pos):
            return None
        key, start, end = self.pos[idx * 3], self.pos[idx * 3 + 1], self.pos[idx * 3 + 2]
        return (_unpack(key) if key >= 0 else None), _unpack(start), _unpack(end)

    def _node_at(self, path: PathT) -> Any:
        node = self.data
        for part in path:
            node = node[part]
        return node

    def _line(self, line: int) -> str:
        lines = self.file.lines
        return lines[line - 1] if 0 < line <= len(lines) else ""

    def _key_width(self, line: int, col: int, default: int) -> int:
        text = self._line(line)[col - 1 :]
        if text[:1] in ("'", '"'):
            end = text.find(text[0], 1)
            return end + 1 if end > 0 else default
        colon = text.find(":")
        return colon if colon > 0 else default

    def end_line(self) -> int:
        """The last line of the document's content."""
        if not self.pos:
            return 1
        line, col = _unpack(self.pos[2])
        return line - 1 if col == 1 and line > 1 else line

    def root_span(self) -> Span:
        if not self.pos:
            return Span.point(1, 1)
        line, col = _unpack(self.pos[1])
        return Span.point(line, col)


class RenderedDocument(Document):
    """A document of rendered output (``helm template``, ``kustomize build``) that knows its source."""

    __slots__ = ("origin",)

    def __init__(self, doc: Document, origin: Origin) -> None:
        super().__init__(doc.file, doc.index, doc.data, doc.pos)
        self.origin = origin  # type: ignore[misc]


def _size(value: Any, memo: dict[int, int]) -> int:
    """Number of pre-order slots of a data subtree (aliases are expanded, like the table)."""
    if isinstance(value, dict):
        key = id(value)
        if key not in memo:
            memo[key] = 1 + sum(_size(v, memo) for v in value.values())
        return memo[key]
    if isinstance(value, list):
        key = id(value)
        if key not in memo:
            memo[key] = 1 + sum(_size(v, memo) for v in value)
        return memo[key]
    return 1


@dataclass
class LoadProblem:
    """Something that kept (part of) a file from being audited; reported as CA001."""

    file: SourceFile
    span: Span
    message: str
    code: str  # syntax, encoding, binary, template, duplicate-key, too-large, unreadable, limit, symlink, tag...
    hint: str = ""


@dataclass
class RawResource:
    """A document (or an item of a ``*List`` or of a top-level list) that has ``apiVersion`` and ``kind``.

    ``data`` is the resource as calicoctl decodes it: a top-level key written in another case
    (``Spec:``, ``METADATA:``) is found under its real name, because Go's ``encoding/json`` matches
    field names case-insensitively. ``written`` then holds the mapping as written (for the schema
    check, which reports the spelling) and ``renamed`` maps each real name to the key as written,
    so positions still point at what is in the file (:meth:`written_path`).
    """

    doc: Document
    base: PathT
    data: dict[str, Any]
    written: dict[str, Any] | None = None
    renamed: dict[str, str] | None = None

    @property
    def as_written(self) -> dict[str, Any]:
        return self.data if self.written is None else self.written

    def written_path(self, path: PathT) -> PathT:
        """``path`` (relative to the resource) with a renamed top-level key spelt as in the file."""
        if self.renamed and path and isinstance(path[0], str) and path[0] in self.renamed:
            return (self.renamed[path[0]], *path[1:])
        return path


@dataclass
class LoadResult:
    files: list[SourceFile] = field(default_factory=list)
    documents: list[Document] = field(default_factory=list)
    resources: list[RawResource] = field(default_factory=list)
    problems: list[LoadProblem] = field(default_factory=list)
    skipped_documents: int = 0  # documents without apiVersion/kind (CI configs, values files)
    empty_documents: int = 0


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
        pos.append(_pack(node.start_mark))
        pos.append(_pack(node.end_mark))
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
                    data[k] = self._node(vnode, _pack(knode.start_mark), depth + 1)
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
                        _span_of(knode, len(key)),
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
                LoadProblem(self.file, _span_of(node, len(shown)), message, "tag-value", f"write `'{shown}'`")
            )
            return
        self.problems.append(
            LoadProblem(
                self.file,
                _span_of(node, len(shown)),
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


def _span_of(node: Any, width: int = 1) -> Span:
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
            flag = _BOOL_WORDS.get(value)
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


# --------------------------------------------------------------------------------------------
# Decoding and parsing of one file's bytes
# --------------------------------------------------------------------------------------------

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def decode(raw: bytes) -> tuple[str | None, str, Span]:
    """Bytes -> text. On failure returns (None, message, span of the bad byte)."""
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            try:
                return raw[len(bom) :].decode(encoding), "", Span.point(1, 1)
            except UnicodeDecodeError as exc:
                return None, f"not valid {encoding.upper()} ({exc.reason})", Span.point(1, 1)
    if b"\x00" in raw[:8192]:
        return None, "binary file (contains NUL bytes), not YAML or JSON", Span.point(1, 1)
    try:
        return raw.decode("utf-8"), "", Span.point(1, 1)
    except UnicodeDecodeError as exc:
        before = raw[: exc.start].decode("utf-8", errors="replace")
        line = before.count("\n") + 1
        col = len(before) - (before.rfind("\n") + 1) + 1
        return (
            None,
            f"not valid UTF-8: byte 0x{raw[exc.start]:02x} at line {line}, column {col} "
            "(Kubernetes and Calico read manifests as UTF-8)",
            Span.point(line, col),
        )


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


def c_parser_available() -> bool:
    """True when ruamel.yaml.clib's C parser is in use (the fast path)."""
    try:
        from ruamel.yaml.cyaml import CParser  # noqa: F401
    except ImportError:
        return False
    return True


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


_TEMPLATE_HINT = "render it first, e.g. `helm template RELEASE CHART | audit -` or `kustomize build DIR | audit -`"


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
                _TEMPLATE_HINT,
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
                        _TEMPLATE_HINT,
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
        docs.append(Document(file, index, data, builder.pos))


def _shift(pos: array, lines: int) -> None:
    delta = lines << _COL_BITS
    for i, value in enumerate(pos):
        if value >= 0:
            pos[i] = value + delta


# --------------------------------------------------------------------------------------------
# Resources inside documents
# --------------------------------------------------------------------------------------------


# Top-level fields of a Calico resource whose case calicoctl ignores (apiVersion and kind are read
# first, exactly, to pick the type; the typed decode that follows matches names case-insensitively).
_CASE_FOLDED = {"metadata": "metadata", "spec": "spec", "status": "status"}
_CALICOCTL_API = "projectcalico.org/v3"


def _is_resource(data: Any, known_kinds: frozenset[str]) -> bool:
    if not isinstance(data, dict):
        return False
    kind = data.get("kind")
    return isinstance(kind, str) and (isinstance(data.get("apiVersion"), str) or kind in known_kinds)


def _resource(doc: Document, base: PathT, data: dict[str, Any]) -> RawResource:
    """A resource, with top-level keys in another case renamed the way calicoctl reads them."""
    if data.get("apiVersion") != _CALICOCTL_API:
        return RawResource(doc, base, data)
    renamed: dict[str, str] = {}
    for key in data:
        real = _CASE_FOLDED.get(key.lower()) if isinstance(key, str) else None
        if real is not None and key != real and real not in data:
            renamed[real] = key  # several spellings: the last one wins, as in encoding/json
    if not renamed:
        return RawResource(doc, base, data)
    decoded: dict[str, Any] = {}
    for key, value in data.items():
        real = _CASE_FOLDED.get(key.lower()) if isinstance(key, str) else None
        if real not in renamed:
            decoded[key] = value
        elif renamed[real] == key:
            decoded[real] = value
    return RawResource(doc, base, decoded, written=data, renamed=renamed)


def resources_of(doc: Document, known_kinds: frozenset[str]) -> tuple[list[RawResource], bool]:
    """The resources a document holds, and whether it was one at all.

    A ``*List`` is expanded, and so is a top-level list of resources, which calicoctl applies
    like a ``List``.
    """
    data = doc.data
    if isinstance(data, list):
        out = [_resource(doc, (i,), item) for i, item in enumerate(data) if _is_resource(item, known_kinds)]
        return out, bool(out)
    if not _is_resource(data, known_kinds):
        return [], False
    items = data.get("items")
    if data["kind"].endswith("List") and isinstance(items, list):
        out = []
        for i, item in enumerate(items):
            if isinstance(item, dict) and isinstance(item.get("kind"), str):
                out.append(_resource(doc, ("items", i), item))
        return out, True
    return [_resource(doc, (), data)], True


# --------------------------------------------------------------------------------------------
# Finding the files
# --------------------------------------------------------------------------------------------


def display_path(path: str) -> str:
    """Relative to the working directory when below it, always with ``/``."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        rel = path
    if rel.startswith(".." + os.sep) or rel == "..":
        rel = os.path.abspath(path)
    return rel.replace(os.sep, "/")


@dataclass
class Candidate:
    path: str  # path as found (for display)
    real: str | None  # resolved path, None for stdin
    explicit: bool = False
    render: str = ""  # "helm" or "kustomize": a folder to render (auditor.render) instead of a file


def _excluded(rel: str, name: str, patterns: Iterable[str]) -> bool:
    for pattern in patterns:
        pat = pattern.rstrip("/")
        if fnmatch.fnmatch(name, pat) or fnmatch.fnmatch(rel, pat) or fnmatch.fnmatch(rel, pat + "/*"):
            return True
        if pat.startswith("**/") and fnmatch.fnmatch(rel, pat[3:]):
            return True
    return False


def discover(
    paths: Iterable[str],
    exclude: Iterable[str] = (),
    limits: Limits | None = None,
    render: Renderer | None = None,
) -> tuple[list[Candidate], list[LoadProblem]]:
    """Expand files and folders to the list of files to read, in a stable order.

    Folders are walked recursively for ``*.yaml``, ``*.yml`` and ``*.json``; VCS and tool folders
    are skipped; symlink loops, unreadable folders and links leaving the given roots are reported.
    Helm charts and kustomizations become folders to render when the tools are on PATH (their
    files are then not read on their own); see :mod:`auditor.render`.
    Raises FileNotFoundError for a path that does not exist (a usage error).
    """
    limits = limits or Limits()
    rendering = render
    kustomizations: list[str] = []
    exclude = list(exclude)
    found: list[Candidate] = []
    problems: list[LoadProblem] = []
    seen_real: set[str] = set()
    roots = [os.path.realpath(p) for p in paths if p != "-"]

    def inside_roots(real: str) -> bool:
        return any(real == r or real.startswith(r.rstrip(os.sep) + os.sep) for r in roots)

    def add(path: str, explicit: bool) -> None:
        real = os.path.realpath(path)
        if real in seen_real:
            return
        seen_real.add(real)
        found.append(Candidate(path, real, explicit))

    def walk(top: str, active: set[str]) -> None:
        if rendering is not None and rendering.enabled and rendering.is_chart(top) and rendering.can_render_helm():
            real_top = os.path.realpath(top)
            if real_top not in seen_real:
                seen_real.add(real_top)
                found.append(Candidate(top, real_top, render="helm"))
            return
        if rendering is not None and rendering.enabled and rendering.kustomization_file(top):
            if rendering.can_render_kustomize():
                kustomizations.append(top)
            else:
                problems.append(
                    _fs_problem(
                        rendering.kustomization_file(top) or top,
                        "kustomization not rendered: its files are audited as they are",
                        "render-unavailable",
                        rendering.kustomize_hint,
                    )
                )
        try:
            with os.scandir(top) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            problems.append(_fs_problem(top, f"cannot read folder: {exc.strerror or exc}", "unreadable"))
            return
        for entry in entries:
            full = os.path.join(top, entry.name)
            rel = display_path(full)
            if _excluded(rel, entry.name, exclude):
                continue
            try:
                is_link = entry.is_symlink()
                is_dir = entry.is_dir(follow_symlinks=True)
            except OSError:
                is_link, is_dir = True, False
            if is_link:
                real = os.path.realpath(full)
                if not os.path.exists(real):
                    if entry.name.endswith(YAML_SUFFIXES):
                        problems.append(_fs_problem(full, "dangling symlink: its target does not exist", "symlink"))
                    continue
                if not inside_roots(real) and not limits.follow_symlinks_outside:
                    if is_dir or entry.name.endswith(YAML_SUFFIXES):
                        problems.append(
                            _fs_problem(
                                full,
                                "symlink to a path outside the audited folders, not followed "
                                "(use --follow-symlinks to allow it)",
                                "symlink",
                            )
                        )
                    continue
            if is_dir:
                if entry.name in SKIP_DIRS:
                    continue
                if entry.name == "templates" and os.path.isfile(os.path.join(top, "Chart.yaml")):
                    problems.append(
                        _fs_problem(
                            full,
                            "Helm chart templates are not manifests until rendered; folder skipped",
                            "helm-templates",
                            _helm_hint(rendering),
                        )
                    )
                    continue
                real = os.path.realpath(full)
                if real in active:
                    problems.append(_fs_problem(full, "symlink loop: this folder contains itself", "symlink"))
                    continue
                walk(full, active | {real})
            elif entry.name.endswith(YAML_SUFFIXES):
                try:
                    mode = entry.stat(follow_symlinks=True).st_mode
                except OSError as exc:
                    problems.append(_fs_problem(full, f"cannot read: {exc.strerror or exc}", "unreadable"))
                    continue
                if stat.S_ISREG(mode):
                    add(full, False)
                else:
                    problems.append(_fs_problem(full, "not a regular file (a FIFO or device?), skipped", "unreadable"))

    for path in paths:
        if path == "-":
            found.append(Candidate("-", None, True))
            continue
        if not os.path.lexists(path):
            raise FileNotFoundError(path)
        if os.path.isdir(path):
            real = os.path.realpath(path)
            walk(path, {real})
        else:
            try:
                mode = os.stat(path).st_mode
            except OSError as exc:
                problems.append(_fs_problem(path, f"cannot read: {exc.strerror or exc}", "unreadable"))
                continue
            if stat.S_ISREG(mode):
                add(path, True)
            else:
                problems.append(_fs_problem(path, "not a regular file (a FIFO or device?), skipped", "unreadable"))
    if kustomizations and rendering is not None:
        plan = rendering.plan_kustomize(kustomizations)
        problems.extend(plan.problems)
        found = [c for c in found if c.explicit or c.real not in plan.consumed]
        for folder in plan.roots:
            real = os.path.realpath(folder)
            if real not in seen_real:
                seen_real.add(real)
                found.append(Candidate(folder, real, render="kustomize"))
    return found, problems


def _helm_hint(rendering: Renderer | None) -> str:
    if rendering is None:
        return _TEMPLATE_HINT
    return rendering.helm_hint if rendering.enabled else "`render = false` in the configuration"


def _fs_problem(path: str, message: str, code: str, hint: str = "") -> LoadProblem:
    return LoadProblem(SourceFile(display_path(path), None), Span.point(1, 1), message, code, hint)


def _size_text(size: int) -> str:
    """``20 MiB``, ``200.0 MiB``, ``1 KiB``, ``512 bytes``."""
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            value = size / scale
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{size} bytes"


def read_file(candidate: Candidate, limits: Limits, stdin_name: str = "-") -> tuple[SourceFile, LoadProblem | None]:
    """Read and decode one file, refusing files above the size limit without reading them."""
    if candidate.real is None:
        file = SourceFile(stdin_name, None)
        raw = sys.stdin.buffer.read(limits.max_file_bytes + 1)
    else:
        file = SourceFile(display_path(candidate.path), candidate.real)
        try:
            size = os.stat(candidate.real).st_size
            if size > limits.max_file_bytes:
                return file, LoadProblem(
                    file,
                    Span.point(1, 1),
                    f"file is {_size_text(size)}, above the {_size_text(limits.max_file_bytes)} limit; not read",
                    "too-large",
                    "raise the limit with --max-file-size if this file really is a manifest",
                )
            with open(candidate.real, "rb") as fh:
                raw = fh.read(limits.max_file_bytes + 1)
        except OSError as exc:
            return file, LoadProblem(file, Span.point(1, 1), f"cannot read: {exc.strerror or exc}", "unreadable")
    if len(raw) > limits.max_file_bytes:
        return file, LoadProblem(
            file,
            Span.point(1, 1),
            f"input is larger than the {_size_text(limits.max_file_bytes)} limit; not audited",
            "too-large",
            "raise the limit with --max-file-size if this really is a manifest",
        )
    text, message, span = decode(raw)
    if text is None:
        code = "binary" if "binary" in message else "encoding"
        return file, LoadProblem(file, span, message, code, "save the file as UTF-8" if code == "encoding" else "")
    file.text = text
    return file, None


def load(
    paths: Iterable[str],
    known_kinds: frozenset[str],
    exclude: Iterable[str] = (),
    limits: Limits | None = None,
    stdin_name: str = "-",
    pure: bool = False,
    render: Renderer | None = None,
    cache: ParseCache | None = None,
) -> LoadResult:
    """Load everything under ``paths``. Raises FileNotFoundError for a missing path.

    With a ``cache``, files whose text was parsed before (by the same version of the loader, with
    the same parser and limits) are not parsed again: the result is the same either way.
    """
    limits = limits or Limits()
    candidates, problems = discover(paths, exclude, limits, render)
    result = LoadResult(problems=problems)
    for candidate in candidates:
        if candidate.render and render is not None:
            render.load_rendered(result, candidate, known_kinds, limits, pure)
            continue
        file, problem = read_file(candidate, limits, stdin_name)
        result.files.append(file)
        if problem is not None:
            result.problems.append(problem)
            continue
        add_file(result, file, known_kinds, limits, pure, cache)
        file.release()
    return result


def parse_cached(
    file: SourceFile, limits: Limits, pure: bool, cache: ParseCache
) -> tuple[list[Document], list[LoadProblem]]:
    """:func:`parse_text` through the on-disk cache of parsed files (see :mod:`auditor.cache`)."""
    if file.real is None:  # standard input: nothing to file it under
        return parse_text(file, limits, pure)
    text = file.text or ""
    key = cache.key(
        text,
        "pure" if pure else "c",
        file.path.endswith(".json"),
        limits.max_depth,
        limits.max_nodes,
        limits.max_alias_nodes,
    )
    entry = cache.get(file.real, key)
    if entry is not None:
        cached_docs, cached_problems = entry
        docs = [Document(file, index, data, pos) for index, data, pos in cached_docs]
        problems = [
            LoadProblem(file, Span(line, col, end_line, end_col), message, code, hint)
            for line, col, end_line, end_col, message, code, hint in cached_problems
        ]
        return docs, problems
    docs, problems = parse_text(file, limits, pure)
    cache.put(
        file.real,
        key,
        (
            [(d.index, d.data, d.pos) for d in docs],
            [
                (p.span.line, p.span.column, p.span.end_line, p.span.end_column, p.message, p.code, p.hint)
                for p in problems
            ],
        ),
    )
    return docs, problems


def add_file(
    result: LoadResult,
    file: SourceFile,
    known_kinds: frozenset[str],
    limits: Limits,
    pure: bool = False,
    cache: ParseCache | None = None,
) -> None:
    docs, problems = parse_text(file, limits, pure) if cache is None else parse_cached(file, limits, pure, cache)
    add_documents(result, docs, problems, known_kinds)


def add_documents(
    result: LoadResult, docs: Iterable[Document], problems: Iterable[LoadProblem], known_kinds: frozenset[str]
) -> None:
    """Add parsed documents (and their file's problems) to ``result``."""
    result.problems.extend(problems)
    for doc in docs:
        result.documents.append(doc)
        if doc.data is None:
            result.empty_documents += 1
            continue
        found, is_resource = resources_of(doc, known_kinds)
        if is_resource:
            result.resources.extend(found)
        else:
            result.skipped_documents += 1


def load_texts(
    files: Mapping[str, bytes],
    known_kinds: frozenset[str],
    exclude: Iterable[str] = (),
    limits: Limits | None = None,
    pure: bool = False,
) -> LoadResult:
    """Load in-memory files (display path -> raw bytes), such as a git revision's blobs, the way
    :func:`load` loads a folder: the same suffixes, skipped folders, ``exclude`` globs, Helm
    ``templates/`` folders, size limit and decoding. Paths use ``/``; they are shown as given."""
    limits = limits or Limits()
    exclude = list(exclude)
    result = LoadResult()
    present = set(files)
    templates: set[str] = set()
    for path in sorted(files, key=lambda p: p.split("/")):
        parts = path.split("/")
        if not parts[-1].endswith(YAML_SUFFIXES):
            continue
        folders = ["/".join(parts[: i + 1]) for i in range(len(parts) - 1)]
        if any(part in SKIP_DIRS for part in parts[:-1]):
            continue
        if any(_excluded(rel, rel.rsplit("/", 1)[-1], exclude) for rel in [*folders, path]):
            continue
        charted = [f for f in folders if f.rsplit("/", 1)[-1] == "templates"]
        chart = next((f for f in charted if f[: -len("templates")] + "Chart.yaml" in present), None)
        if chart is not None:
            if chart not in templates:
                templates.add(chart)
                result.problems.append(
                    _fs_problem(chart, "Helm chart templates are not manifests until rendered; folder skipped",
                                "helm-templates", _TEMPLATE_HINT)
                )
            continue
        file = SourceFile(path, None)
        raw = files[path]
        result.files.append(file)
        if len(raw) > limits.max_file_bytes:
            result.problems.append(
                LoadProblem(
                    file,
                    Span.point(1, 1),
                    f"file is {_size_text(len(raw))}, above the {_size_text(limits.max_file_bytes)} limit; not read",
                    "too-large",
                    "raise the limit with --max-file-size if this file really is a manifest",
                )
            )
            continue
        text, message, span = decode(raw)
        if text is None:
            code = "binary" if "binary" in message else "encoding"
            hint = "save the file as UTF-8" if code == "encoding" else ""
            result.problems.append(LoadProblem(file, span, message, code, hint))
            continue
        file.text = text
        add_file(result, file, known_kinds, limits, pure)
    return result
