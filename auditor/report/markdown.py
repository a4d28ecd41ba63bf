"""A short Markdown report for the GitHub Actions job summary (``$GITHUB_STEP_SUMMARY``).

A heading, a one-line verdict, the counts per rule, the exposure section (filled in by the
exposure evaluator, empty for now) and the findings that fail the run, at most
:data:`MAX_LISTED` of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from auditor.report.common import (
    cluster_label,
    failing_problems,
    internal_errors,
    plural,
    problems,
    rule_counts,
    severity_phrase,
    summary_line,
)

if TYPE_CHECKING:
    from auditor.run import AuditResult

MAX_LISTED = 50
TITLE = "calico-audit"


def cell(text: str) -> str:
    """Text safe inside a Markdown table cell: one line, no column breaks, no HTML."""
    text = " ".join(text.split())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("\\", "\\\\").replace("|", "\\|")


def code(text: str) -> str:
    """An inline code span that survives backticks inside ``text``."""
    text = " ".join(text.split()).replace("|", "\\|")
    fence = "`"
    while fence in text:
        fence += "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def verdict(result: AuditResult) -> str:
    found = problems(result)
    failing = failing_problems(result)
    internal = internal_errors(result)
    fail_on = result.config.fail_on
    line = summary_line(result)
    if internal:
        return f"💥 **Incomplete: {plural(len(internal), 'internal error')}.** {line}."
    if failing:
        threshold = fail_on.label if fail_on is not None else ""
        return f"❌ **Failed: {plural(len(failing), 'problem')} at or above {threshold}.** {line}."
    if found:
        return f"⚠️ **Passed** ({severity_phrase(found)} below the failure threshold). {line}."
    return f"✅ **Passed.** {line}."


def exposure_section(result: AuditResult) -> str:
    """A Mermaid diagram of which outside sources reach the advertised Services ("" when none);
    with ``clusters`` configured, one per cluster under the cluster's name."""
    from auditor.exposure import markdown_section

    if not result.config.clusters:
        return markdown_section(result.context)
    parts = []
    for run in result.clusters:
        section = markdown_section(run.context)
        if section:
            parts.append(f"### Cluster {code(run.name)}\n\n{section.rstrip(chr(10))}\n")
    return "\n".join(parts)


def render(result: AuditResult) -> str:
    out: list[str] = [f"## {TITLE}", "", verdict(result), ""]
    rows = rule_counts(problems(result))
    if rows:
        out += ["| Rule | Name | Severity | Count |", "| --- | --- | --- | ---: |"]
        out += [f"| {r.rule_id} | {cell(r.name)} | {r.severity.label} | {r.count:,} |" for r in rows]
        out.append("")
    exposure = exposure_section(result)
    if exposure:
        out += [exposure.rstrip("\n"), ""]
    # Internal errors fail the run whatever the threshold: list them first.
    failing = internal_errors(result) + failing_problems(result)
    if failing:
        out += ["### Findings that fail the run", ""]
        clustered = bool(result.config.clusters)
        if clustered:
            out += ["| Cluster | Location | Rule | Message |", "| --- | --- | --- | --- |"]
        else:
            out += ["| Location | Rule | Message |", "| --- | --- | --- |"]
        for f in failing[:MAX_LISTED]:
            where = "(internal)" if f.internal_error else f"{f.location.path}:{f.location.span.line}"
            cluster = f"| {cell(cluster_label(f))} " if clustered else ""
            message = cell(f.message) + (f"<br>**Fix:** {cell(f.fix)}" if f.fix else "")
            out.append(f"{cluster}| {code(where)} | {f.rule_id} {cell(f.rule_name)} | {message} |")
        if len(failing) > MAX_LISTED:
            out += ["", f"… and {len(failing) - MAX_LISTED:,} more."]
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"
