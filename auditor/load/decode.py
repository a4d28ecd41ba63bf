"""Decoding a file's bytes: byte-order marks, UTF-8/16/32, binary files."""

from __future__ import annotations

import codecs

from auditor.findings import Span

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
