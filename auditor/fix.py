"""``audit --fix``: apply the fixes rules attach to their findings, as surgical text edits.

A rule's :class:`~auditor.findings.Fix` says what to change in data terms (set a scalar, add a key,
append an item, move list items under a new key, add a document). :func:`resolve` turns each edit into a
:class:`TextEdit` from the exact node positions the loader keeps, so everything outside the edited lines
stays byte-identical (comments, key order, quoting, flow or block style). Before a file is written, the
result is parsed again with the project's loader (ruamel.yaml) and must hold exactly the data the fixes
intend, and nothing else; a file that does not is left alone and reported. Writes are atomic (a temporary
file renamed over the original, mode bits kept).
"""

from __future__ import annotations

import contextlib
import copy
import difflib
import json
import os
import re
import stat
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from auditor.findings import AutoFix, Edit, Finding, PathT
from auditor.load import BOOL_WORDS, LINE_BREAK, Document, RenderedDocument, SourceFile, parse_text

Position = tuple[int, int]  # 1-based line, column (code points)


@dataclass(frozen=True, slots=True, order=True)
class TextEdit:
    """Replace the text from ``start`` to ``end`` (exclusive) of ``path`` with ``text``; start == end inserts."""

    start: Position
    end: Position
    text: str
    path: str = field(compare=False)


class Unfixable(Exception):
    """The text around an edit has a shape the fixer does not rewrite (flow mapping, block scalar, ...)."""


# ---- rendering new YAML -------------------------------------------------------------------------------

_PLAIN_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_./-]*$")
_RESERVED = {w.lower() for w in BOOL_WORDS} | {"null", "~"}


def scalar_text(value: object) -> str:
    """A YAML scalar that reads back as ``value`` (strings quoted unless plainly safe)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if _PLAIN_RE.match(text) and text.lower() not in _RESERVED:
        return text
    return json.dumps(text, ensure_ascii=False)


def flow_text(value: object) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(flow_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{scalar_text(k)}: {flow_text(v)}" for k, v in value.items()) + "}"
    return scalar_text(value)


def _simple(value: object) -> bool:
    return not isinstance(value, (dict, list)) or (
        isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value)
    ) or not value


def block_lines(key: str, value: object) -> list[str]:
    """``key: value`` as block YAML lines, relative to the key's indentation."""
    if _simple(value):
        return [f"{scalar_text(key)}: {flow_text(value)}"]
    lines = [f"{scalar_text(key)}:"]
    if isinstance(value, dict):
        for k, v in value.items():
            lines.extend("  " + line for line in block_lines(k, v))
    else:
        for item in value:  # type: ignore[union-attr]
            lines.extend(_item_lines(item))
    return lines


def _item_lines(item: object) -> list[str]:
    if isinstance(item, dict) and item:
        body = [line for k, v in item.items() for line in block_lines(k, v)]
        return ["- " + body[0], *("  " + line for line in body[1:])]
    return ["- " + flow_text(item)]


def document_lines(value: dict[str, Any]) -> list[str]:
    return [line for k, v in value.items() for line in block_lines(k, v)]


# ---- resolving edits to text ----------------------------------------------------------------------------


def _node(doc: Document, path: PathT) -> Any:
    node = doc.data
    for part in path:
        node = node[part]
    return node


def _marks(doc: Document, path: PathT) -> tuple[Position | None, Position, Position]:
    marks = doc.marks(path)
    if marks is None:
        raise Unfixable(f"no node at {path!r}")
    return marks


def _line(lines: Sequence[str], number: int) -> str:
    if not 0 < number <= len(lines):
        raise Unfixable(f"line {number} is outside the file")
    return lines[number - 1]


def _char(lines: Sequence[str], pos: Position) -> str:
    text = _line(lines, pos[0])
    return text[pos[1] - 1 : pos[1]]


def _content_end(lines: Sequence[str], end: Position) -> int:
    """The last line that holds a node ending at ``end`` (an end at column 1 belongs to the line before)."""
    line, col = end
    return line - 1 if col == 1 and line > 1 else line


def _eol(lines: Sequence[str], line: int) -> Position:
    return line, len(_line(lines, line)) + 1


def _indent_block(indent: int, body: Iterable[str], newline: str) -> str:
    pad = " " * indent
    return "".join(newline + pad + row for row in body)


def _scalar_change(edit: Edit) -> tuple[Position, Position, str, object]:
    """A ``set`` or ``quote`` edit: the region of the scalar, its new text, and the value it will read as.

    The scalar's quoting is kept: a quoted number stays a quoted string (``"443"`` -> ``"9443"``).
    """
    doc, path = edit.at.doc, edit.at.path
    _, start, end = _marks(doc, path)
    if start[0] != end[0]:
        raise Unfixable("multi-line scalar")
    source = _line(doc.file.lines, start[0])[start[1] - 1 : end[1] - 1]
    if source[:1] in ("|", ">", "&", "!", "*", "[", "{"):
        raise Unfixable("block scalar, anchor, tag, alias or collection")
    quote = source[:1] if source[:1] in ("'", '"') else ""
    if edit.op == "quote":
        if quote or isinstance(_node(doc, path), str):
            raise Unfixable("already a string")
        value: object = source
        quote = '"'
    else:
        value = edit.value
        if edit.quote and not quote:
            quote = '"'
    if quote:
        value = str(value)
        text = "'" + value.replace("'", "''") + "'" if quote == "'" else json.dumps(value, ensure_ascii=False)
    else:
        text = value if isinstance(value, str) else scalar_text(value)
    return start, end, text, value


def _edit_text(edit: Edit, newline: str) -> TextEdit:
    doc = edit.at.doc
    lines = doc.file.lines
    path = edit.at.path
    where = doc.file.path
    json_file = where.lower().endswith(".json")
    if json_file and edit.op != "set" and edit.op != "quote" and (
        edit.op != "append-item" or _char(lines, _marks(doc, path)[1]) != "["
    ):
        raise Unfixable("block YAML cannot go into a JSON file")
    if edit.op in ("set", "quote"):
        start, end, text, _ = _scalar_change(edit)
        return TextEdit(start, end, text, where)
    if edit.op == "add-key":
        mapping = _node(doc, path)
        if not isinstance(mapping, dict) or not mapping or edit.key in mapping:
            raise Unfixable("not a non-empty mapping without that key")
        _, start, end = _marks(doc, path)
        if _char(lines, start) == "{":
            raise Unfixable("flow mapping")
        first = _marks(doc, (*path, next(iter(mapping))))[0]
        if first is None:
            raise Unfixable("mapping without key positions")
        if edit.after:
            if edit.after not in mapping:
                raise Unfixable(f"no key {edit.after!r}")
            end = _marks(doc, (*path, edit.after))[2]
        body = block_lines(edit.key, edit.value)
        return TextEdit(*[_eol(lines, _content_end(lines, end))] * 2, _indent_block(first[1] - 1, body, newline),
                        where)
    if edit.op == "append-item":
        items = _node(doc, path)
        if not isinstance(items, list):
            raise Unfixable("not a list")
        _, start, end = _marks(doc, path)
        if _char(lines, start) == "[":
            if not items:
                close = (end[0], end[1] - 1)
                return TextEdit(close, close, flow_text(edit.value), where)
            last_end = _marks(doc, (*path, len(items) - 1))[2]
            return TextEdit(last_end, last_end, ", " + flow_text(edit.value), where)
        if not items:
            raise Unfixable("empty block list")
        last_start = _marks(doc, (*path, len(items) - 1))[1]
        text = _line(lines, last_start[0])[: last_start[1] - 1]
        dash = text.rstrip().rfind("-")
        if dash < 0 or text[dash + 1 :].strip():
            raise Unfixable("list item without its dash on the line")
        body = _item_lines(edit.value)
        return TextEdit(*[_eol(lines, _content_end(lines, end))] * 2, _indent_block(dash, body, newline), where)
    if edit.op == "split-list":
        items = _node(doc, path)
        parent = _node(doc, path[:-1])
        if not isinstance(items, list) or not 0 < edit.index < len(items) or edit.key in parent:
            raise Unfixable("nothing to split")
        key, start, _ = _marks(doc, path)
        if key is None or _char(lines, start) == "[":
            raise Unfixable("flow list or list without a key")
        before_end = _content_end(lines, _marks(doc, (*path, edit.index - 1))[2])
        moved_start = _marks(doc, (*path, edit.index))[1]
        if moved_start[0] <= before_end:
            raise Unfixable("items share a line")
        return TextEdit(*[_eol(lines, before_end)] * 2, _indent_block(key[1] - 1, [f"{edit.key}:"], newline),
                        where)
    if edit.op == "add-document":
        if not isinstance(edit.value, dict):
            raise Unfixable("a document must be a mapping")
        last = doc.end_line()
        body = ["---", *document_lines(edit.value)]
        return TextEdit(*[_eol(lines, last)] * 2, _indent_block(0, body, newline), where)
    raise Unfixable(f"unknown edit {edit.op!r}")


def _newline(file: SourceFile) -> str:
    try:
        text = _read(file.real)[1] if file.real else file.text or ""
    except (OSError, UnicodeDecodeError):
        text = ""
    match = LINE_BREAK.search(text)
    return match.group(0) if match and match.group(0) in ("\r\n", "\r") else "\n"


def resolve(fix: AutoFix) -> tuple[TextEdit, ...] | None:
    """The text edits of ``fix``, sorted; None when its text has a shape the fixer does not rewrite.

    Documents rendered from a Helm chart or a kustomization are not fixed (their text is the tool's
    output, not a file of the repository), nor is input read from stdin.
    """
    if not fix.edits or any(isinstance(e.at.doc, RenderedDocument) or e.at.doc.file.real is None for e in fix.edits):
        return None
    try:
        newline = _newline(fix.edits[0].at.doc.file)
        return tuple(sorted(_edit_text(edit, newline) for edit in fix.edits))
    except (Unfixable, KeyError, IndexError, TypeError, ValueError, AttributeError):
        return None


def _data_effect(docs: list[tuple[int, Any]], edit: Edit) -> None:
    """Apply ``edit`` to the plain data of the documents (what the file must parse to afterwards)."""
    pos = next(i for i, (index, _) in enumerate(docs) if index == edit.at.doc.index)
    data = docs[pos][1]
    path = edit.at.path
    if edit.op == "add-document":
        docs.insert(pos + 1, (-1, copy.deepcopy(edit.value)))
        return
    if edit.op in ("set", "quote"):
        _walk(data, path[:-1])[path[-1]] = _scalar_change(edit)[3]
    elif edit.op == "add-key":
        _walk(data, path)[edit.key] = copy.deepcopy(edit.value)
    elif edit.op == "append-item":
        _walk(data, path).append(copy.deepcopy(edit.value))
    elif edit.op == "split-list":
        parent = _walk(data, path[:-1])
        items = parent[path[-1]]
        parent[path[-1]] = items[: edit.index]
        parent[edit.key] = items[edit.index :]


def _walk(data: Any, path: PathT) -> Any:
    for part in path:
        data = data[part]
    return data


# ---- planning and applying ----------------------------------------------------------------------------


@dataclass
class Planned:
    finding: Finding
    edits: tuple[TextEdit, ...]


@dataclass
class FileResult:
    path: str
    real: str
    before: str
    after: str
    fixes: list[Planned]
    error: str = ""

    @property
    def changed(self) -> bool:
        return not self.error and self.after != self.before

    def diff(self) -> str:
        return "".join(
            difflib.unified_diff(
                self.before.splitlines(keepends=True),
                self.after.splitlines(keepends=True),
                f"a/{self.path}",
                f"b/{self.path}",
            )
        )


def fixable(finding: Finding, unsafe: bool) -> bool:
    return (
        finding.autofix is not None
        and finding.suppression is None
        and not finding.internal_error
        and (finding.autofix.safe or unsafe)
    )


def _overlaps(a: TextEdit, b: TextEdit) -> bool:
    if a.start == a.end and b.start == b.end:
        return a.start == b.start
    return (a.start < b.end and b.start < a.end) or a.start == b.start


def _offsets(text: str) -> list[int]:
    starts = [0]
    starts.extend(m.end() for m in LINE_BREAK.finditer(text))
    return starts


def apply_edits(text: str, edits: Iterable[TextEdit]) -> str:
    """``text`` with ``edits`` applied (they must not overlap)."""
    starts = _offsets(text)

    def offset(pos: Position) -> int:
        line, col = pos
        if not 0 < line <= len(starts):
            raise Unfixable(f"line {line} is outside the file")
        return starts[line - 1] + col - 1

    out = text
    for edit in sorted(edits, reverse=True):
        out = out[: offset(edit.start)] + edit.text + out[offset(edit.end) :]
    return out


def plan(findings: Iterable[Finding], unsafe: bool) -> dict[str, list[Planned]]:
    """Per file, the fixes to apply in this pass: one fix per finding, none overlapping another.

    A fix that overlaps one already chosen waits for the next pass (after the re-audit).
    """
    per_file: dict[str, list[Planned]] = {}
    seen: set[tuple[TextEdit, ...]] = set()
    for finding in findings:
        if not fixable(finding, unsafe):
            continue
        assert finding.autofix is not None
        edits = resolve(finding.autofix)
        if edits is None or edits in seen:
            continue
        files = {e.at.doc.file for e in finding.autofix.edits}
        if len(files) != 1:
            continue
        path = edits[0].path
        chosen = per_file.setdefault(path, [])
        if any(_overlaps(a, b) for p in chosen for a in p.edits for b in edits):
            continue
        seen.add(edits)
        chosen.append(Planned(finding, edits))
    return {path: fixes for path, fixes in per_file.items() if fixes}


def _read(real: str) -> tuple[bytes, str]:
    with open(real, "rb") as fh:
        raw = fh.read()
    bom = b"\xef\xbb\xbf" if raw.startswith(b"\xef\xbb\xbf") else b""
    return bom, raw[len(bom) :].decode("utf-8")


def _parsed(path: str, text: str) -> tuple[list[tuple[int, Any]], set[str]]:
    docs, problems = parse_text(SourceFile(path, None, text))
    return [(d.index, d.data) for d in docs], {p.code for p in problems}


def fix_file(path: str, fixes: list[Planned]) -> FileResult:
    """Apply ``fixes`` to the text of one file (in memory) and check the result parses to the intended data."""
    file = fixes[0].finding.autofix.edits[0].at.doc.file  # type: ignore[union-attr]
    real = file.real or ""
    result = FileResult(path, real, "", "", fixes)
    try:
        _, before = _read(real)
    except (OSError, UnicodeDecodeError) as exc:
        result.error = f"cannot read it as UTF-8: {exc}"
        return result
    result.before = result.after = before
    lines = LINE_BREAK.split(before)
    if lines and lines[-1] == "":
        lines.pop()
    if lines != file.lines:
        result.error = "the file changed since it was audited"
        return result
    try:
        after = apply_edits(before, [e for p in fixes for e in p.edits])
    except Unfixable as exc:
        result.error = str(exc)
        return result
    original, problems_before = _parsed(path, before)
    parsed, problems_after = _parsed(path, after)
    if not problems_after <= problems_before:
        result.error = "the fixed text does not parse cleanly; left unchanged"
        return result
    expected = copy.deepcopy(original)
    try:
        for planned in fixes:
            for edit in planned.finding.autofix.edits:  # type: ignore[union-attr]
                _data_effect(expected, edit)
    except (KeyError, IndexError, TypeError, StopIteration, Unfixable):
        result.error = "the fix does not fit the file's data"
        return result
    if [d for _, d in parsed] != [d for _, d in expected]:
        result.error = "the fixed text does not parse to the intended data; left unchanged"
        return result
    result.after = after
    return result


def write(result: FileResult) -> None:
    """Write the fixed text atomically, keeping the file's mode bits and BOM."""
    real = os.path.realpath(result.real)
    bom, current = _read(real)
    if current != result.before:
        raise OSError(f"{result.path} changed while it was being fixed")
    mode = stat.S_IMODE(os.stat(real).st_mode)
    fd, tmp = tempfile.mkstemp(prefix=".calico-audit-fix-", suffix=".tmp", dir=os.path.dirname(real))
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(bom + result.after.encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, real)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def fix_pass(findings: Iterable[Finding], unsafe: bool) -> list[FileResult]:
    """One pass: the fixed text of every file with something to fix (nothing written)."""
    return [fix_file(path, fixes) for path, fixes in sorted(plan(findings, unsafe).items())]


@dataclass
class FixRun:
    """What ``--fix``/``--diff`` did: files changed (or that would change), fixes applied, files left alone."""

    files: list[FileResult] = field(default_factory=list)
    skipped: list[FileResult] = field(default_factory=list)
    passes: int = 0

    @property
    def fixed(self) -> int:
        return sum(len(f.fixes) for f in self.files)

    def diff(self) -> str:
        return "".join(f.diff() for f in self.files)

    def summary(self, dry: bool) -> str:
        if not self.files and not self.skipped:
            return "nothing to fix"
        verb = "would fix" if dry else "fixed"
        paths = sorted({f.path for f in self.files})
        lines = [f"{verb} {self.fixed} finding(s) in {len(paths)} file(s)" + (f": {', '.join(paths)}" if paths else "")]
        lines.extend(f"not fixed: {f.path}: {f.error}" for f in self.skipped)
        return "\n".join(lines)


def run(findings: Sequence[Finding], unsafe: bool, dry: bool, reaudit: Any = None, max_passes: int = 5) -> FixRun:
    """Fix ``findings``: one pass with ``dry`` (nothing written), else passes until nothing is left to fix.

    ``reaudit()`` returns the findings after a pass (fixes that overlapped another wait for it). A finding
    whose fix was applied and that is still there afterwards is not fixed again.
    """
    out = FixRun()
    failed: set[str] = set()
    applied: set[tuple[str, str]] = set()
    for _ in range(max_passes if not dry else 1):
        todo = [f for f in findings if (f.rule_id, f.fingerprint) not in applied]
        results = [r for r in fix_pass(todo, unsafe) if r.path not in failed]
        if not results:
            break
        out.passes += 1
        wrote = False
        for result in results:
            if result.error:
                failed.add(result.path)
                out.skipped.append(result)
                continue
            if not result.changed:
                continue
            if not dry:
                write(result)
                wrote = True
                applied.update((p.finding.rule_id, p.finding.fingerprint) for p in result.fixes)
            out.files.append(result)
        if dry or not wrote or reaudit is None:
            break
        findings = reaudit()
    return out
