"""Reporters: turn an :class:`~auditor.run.AuditResult` into text for people and machines.

Each format is one module with a ``render(result, ...) -> str`` function; :func:`render` picks one.
Every reporter is a pure function of the result: no clock, no environment (except ``console`` with
``color=None``/``width=None``, which then asks the terminal), so the same input gives the same bytes.

This module stays cheap to import (``audit --version`` must start fast): the reporters and their
dependencies (rich) are imported only when a format is rendered. What they share is in
:mod:`auditor.report.common`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from auditor.report.common import FORMATS, failed, summary_line

if TYPE_CHECKING:
    from auditor.run import AuditResult

__all__ = ["FORMATS", "failed", "render", "summary_line"]


def render(
    result: AuditResult,
    fmt: str,
    *,
    color: bool | None = None,
    width: int | None = None,
    show_suppressed: bool = False,
    statistics: bool = False,
    quiet: bool = False,
) -> str:
    """Render ``result`` in format ``fmt`` (one of :data:`FORMATS`).

    ``color``, ``width``, ``show_suppressed``, ``statistics`` and ``quiet`` shape the console
    output only: machine formats (SARIF, JSON, GitHub annotations, Markdown) are always complete,
    so ``--quiet --format sarif --output x.sarif`` still writes the file. Non-empty output always
    ends with a newline.
    """
    if fmt == "console":
        from auditor.report import console

        return console.render(
            result, color=color, width=width, show_suppressed=show_suppressed, statistics=statistics, quiet=quiet
        )
    if fmt == "sarif":
        from auditor.report import sarif

        return sarif.render(result)
    if fmt == "json":
        from auditor.report import jsonfmt

        return jsonfmt.render(result)
    if fmt == "github":
        from auditor.report import github

        return github.render(result)
    if fmt == "markdown":
        from auditor.report import markdown

        return markdown.render(result)
    raise ValueError(f"unknown format {fmt!r} (expected one of: {', '.join(FORMATS)})")
