"""GitHub Actions workflow commands: one annotation per active finding.

``::error file=p.yaml,line=12,col=9,endLine=12,endColumn=22,title=CA004 invalid-cidr::message``

Severity ``warning`` becomes ``::warning`` and ``note`` becomes ``::notice``. Properties and data
are escaped the way the Actions runner unescapes them (``%``, CR and LF everywhere; ``:`` and
``,`` in properties too). Columns are sent only for single-line spans, as the Checks API accepts
columns only when start and end lines are equal; ``endColumn`` is exclusive, as in SARIF and ruff.
Related locations follow the message on their own lines, then the fix (``= fix: …``). Suppressed findings are left out;
internal errors are annotations without a file. GitHub shows only the first few annotations of
each kind per step (10) and per job (50), so internal errors come first, then errors, warnings and
notes, each in report order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from auditor.findings import Finding, Severity
from auditor.report.common import cluster_phrase

if TYPE_CHECKING:
    from auditor.run import AuditResult

COMMANDS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTE: "notice"}


def escape_data(text: str) -> str:
    """Escape a command's message (after ``::``)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a property value (``file=``, ``title=`` …)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(f: Finding) -> str:
    props: list[tuple[str, str]] = []
    if not f.internal_error:
        span = f.location.span
        props.append(("file", f.location.path))
        props.append(("line", str(span.line)))
        single = span.end_line <= span.line
        if single:
            props.append(("col", str(span.column)))
        props.append(("endLine", str(max(span.end_line, span.line))))
        if single:
            props.append(("endColumn", str(max(span.end_column, span.column))))
    title = f"{f.rule_id} {f.rule_name}"
    if f.internal_error:
        title = "internal error in " + title
    if f.cluster:
        title += f" ({cluster_phrase(f)})"
    props.append(("title", title))
    message = f.message
    for loc, note in f.related:
        message += f"\n= note: {note or loc.description} at {loc}"
    if f.fix:
        message += f"\n= fix: {f.fix}"
    prop_text = ",".join(f"{key}={escape_property(value)}" for key, value in props)
    return f"::{COMMANDS[f.severity]} {prop_text}::{escape_data(message)}"


def render(result: AuditResult) -> str:
    ordered = sorted(result.active(), key=lambda f: (not f.internal_error, -f.severity))  # stable
    lines = [annotation(f) for f in ordered]
    return "".join(line + "\n" for line in lines)
