"""Input files and what keeps them from being audited: :class:`SourceFile`, :class:`LoadProblem`, :class:`Limits`."""

from __future__ import annotations

import re
from dataclasses import dataclass

from auditor.findings import Span
from auditor.load.decode import decode

# The line breaks YAML readers count (str.splitlines also splits on \f, \v and others).
LINE_BREAK = re.compile("\r\n|\r|\n|\x85|\u2028|\u2029")


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
            self._lines = LINE_BREAK.split(self.text or "")
            if self._lines and self._lines[-1] == "":
                self._lines.pop()
        return self._lines

    def __repr__(self) -> str:
        return f"SourceFile({self.path!r})"


@dataclass
class LoadProblem:
    """Something that kept (part of) a file from being audited; reported as CA001."""

    file: SourceFile
    span: Span
    message: str
    code: str  # syntax, encoding, binary, template, duplicate-key, too-large, unreadable, limit, symlink, tag...
    hint: str = ""
