"""What every reporter shares: counting, wording and places, so they speak about a result alike."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from auditor.findings import Finding, Severity, Span

if TYPE_CHECKING:
    from auditor.run import AuditResult

FORMATS = ("console", "sarif", "json", "github", "markdown")

#: Severities from the most to the least important, as reporters list them.
SEVERITY_ORDER = (Severity.ERROR, Severity.WARNING, Severity.NOTE)


# ------------------------------------------------------------------------------------------
# Shared wording and counting
# ------------------------------------------------------------------------------------------


def plural(count: int, word: str, words: str | None = None) -> str:
    """``1 error``, ``2 errors``, ``0 files``; ``words`` for irregular plurals."""
    return f"{count:,} {word if count == 1 else (words or word + 's')}"


def severity_counts(findings: Iterable[Finding]) -> dict[Severity, int]:
    """Findings per severity, every severity present (zeros included), most severe first."""
    counts = dict.fromkeys(SEVERITY_ORDER, 0)
    for f in findings:
        counts[f.severity] += 1
    return counts


def severity_phrase(findings: Sequence[Finding]) -> str:
    """``3 errors, 4 warnings`` (severities with no finding are left out)."""
    counts = severity_counts(findings)
    return ", ".join(plural(n, sev.label) for sev, n in counts.items() if n)


@dataclass(frozen=True)
class RuleCount:
    """One row of the per-rule tables: how often a rule fired, at its worst severity."""

    rule_id: str
    name: str
    severity: Severity
    count: int


def rule_counts(findings: Iterable[Finding]) -> list[RuleCount]:
    """Rows of the per-rule table, by rule ID. ``severity`` is the worst one seen for the rule
    (a finding may carry a different severity from its rule's default)."""
    rows: dict[str, RuleCount] = {}
    for f in findings:
        row = rows.get(f.rule_id)
        if row is None:
            rows[f.rule_id] = RuleCount(f.rule_id, f.rule_name, f.severity, 1)
        else:
            rows[f.rule_id] = RuleCount(row.rule_id, row.name, max(row.severity, f.severity), row.count + 1)
    return [rows[key] for key in sorted(rows)]


def cluster_label(f: Finding) -> str:
    """The cluster(s) a finding holds in, for people: ``clusters/a``, or ``clusters/a, clusters/b``
    for a finding on a shared file reported once for several; "" when ``clusters`` is not configured."""
    return ", ".join(f.clusters) if f.clusters else f.cluster


def cluster_phrase(f: Finding) -> str:
    """``cluster clusters/a`` or ``clusters clusters/a, clusters/b`` ("" without clusters)."""
    label = cluster_label(f)
    if not label:
        return ""
    return f"{'clusters' if len(f.clusters) > 1 else 'cluster'} {label}"


def by_cluster(result: AuditResult, findings: Iterable[Finding]) -> list[tuple[str, list[Finding]]]:
    """``findings`` grouped by :func:`cluster_label`: the clusters in run order, then the findings
    that hold in several clusters; within a group the report order. One "" group without clusters."""
    order = {run.name: i for i, run in enumerate(result.clusters)}
    groups: dict[str, list[Finding]] = {}
    for f in sorted(findings, key=Finding.sort_key):
        groups.setdefault(cluster_label(f), []).append(f)

    def rank(label: str) -> tuple[int, int, str]:
        names = label.split(", ")
        return (len(names) > 1, order.get(names[0], len(order)), label)

    return [(label, groups[label]) for label in sorted(groups, key=rank)]


def clean_span(span: Span) -> Span:
    """``span`` made well-formed (1-based, end not before start), whatever a rule produced."""
    line = max(span.line, 1)
    column = max(span.column, 1)
    end_line = max(span.end_line, line)
    end_column = max(span.end_column, 1)
    if end_line == line:
        end_column = max(end_column, column)
    return Span(line, column, end_line, end_column)


def problems(result: AuditResult) -> list[Finding]:
    """The findings that count as problems: not suppressed, not internal errors (a crashed rule is
    reported on its own, not as a violation of that rule)."""
    return [f for f in result.findings if f.suppression is None and not f.internal_error]


def internal_errors(result: AuditResult) -> list[Finding]:
    """Rules that crashed in this run (not suppressed)."""
    return [f for f in result.findings if f.suppression is None and f.internal_error]


def failing_problems(result: AuditResult) -> list[Finding]:
    """Problems at or above the configured ``fail_on`` threshold."""
    return [f for f in result.failing() if not f.internal_error]


def shown_path_count(findings: Iterable[Finding]) -> int:
    """How many distinct files the findings are in (internal errors are not in a file)."""
    return len({f.location.path for f in findings if not f.internal_error})


def summary_line(result: AuditResult) -> str:
    """The one-line verdict the console and the job summary end with.

    ``Found 7 problems (3 errors, 4 warnings) in 3 of 12 files; 2 suppressed; 245 documents
    audited (12 without apiVersion/kind skipped)`` or ``No problems found in 12 files; …``.
    """
    found = problems(result)
    stats = result.stats
    parts: list[str] = []
    if found:
        head = f"Found {plural(len(found), 'problem')} ({severity_phrase(found)})"
        in_files = shown_path_count(found)
        parts.append(f"{head} in {in_files:,} of {plural(stats.files, 'file')}")
    else:
        parts.append(f"No problems found in {plural(stats.files, 'file')}")
    suppressed = sum(1 for f in result.findings if f.suppression is not None)
    if suppressed:
        parts.append(f"{suppressed:,} suppressed")
    internal = internal_errors(result)
    if internal:
        parts.append(f"{plural(len(internal), 'internal error')} (results are incomplete)")
    documents = f"{plural(stats.documents, 'document')} audited"
    if stats.skipped_documents:
        documents += f" ({stats.skipped_documents:,} without apiVersion/kind skipped)"
    parts.append(documents)
    return "; ".join(parts)


def failed(result: AuditResult) -> bool:
    """Whether the run fails: a problem at or above ``fail_on``, or an internal error."""
    return bool(failing_problems(result)) or bool(internal_errors(result))
