"""Documents and resources: plain data with a compact position table.

Beside the data, a document keeps three packed integers per node in pre-order (key start, value start,
value end). A path such as ``("spec", "ingress", 0, "source", "nets", 1)`` is turned into a position on
demand by walking the data in the same pre-order, so the data never carries position keys of its own.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from typing import Any, Protocol

from auditor.findings import Location, PathT, Span
from auditor.load.source import LoadProblem, SourceFile

COL_BITS = 24

COL_MASK = (1 << COL_BITS) - 1


def pack_mark(mark: Any) -> int:
    return ((mark.line + 1) << COL_BITS) | min(mark.column + 1, COL_MASK)


def unpack_mark(value: int) -> tuple[int, int]:
    return value >> COL_BITS, value & COL_MASK


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
            line, col = unpack_mark(key)
            width = len(str(path[matched - 1])) if matched and isinstance(path[matched - 1], str) else 1
            return Span.point(line, col, self._key_width(line, col, width))
        line, col = unpack_mark(start)
        end_line, end_col = unpack_mark(end)
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
        return (unpack_mark(key) if key >= 0 else None), unpack_mark(start), unpack_mark(end)

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
        line, col = unpack_mark(self.pos[2])
        return line - 1 if col == 1 and line > 1 else line

    def root_span(self) -> Span:
        if not self.pos:
            return Span.point(1, 1)
        line, col = unpack_mark(self.pos[1])
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
