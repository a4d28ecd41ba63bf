"""The JSON report: a small, documented and stable shape for scripts (``docs/json-format.md``).

Keys keep a fixed order (not sorted) and the output is indented by two spaces; every finding is
listed, suppressed ones included with their ``suppressed`` object, so consumers filter as they
need. Bump :data:`FORMAT_VERSION` on any incompatible change.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from auditor import __version__
from auditor.engine import sub_id
from auditor.findings import Finding, Location
from auditor.report.common import (
    SEVERITY_ORDER,
    failed,
    internal_errors,
    problems,
    rule_counts,
    severity_counts,
    shown_path_count,
)

if TYPE_CHECKING:
    from auditor.run import AuditResult

FORMAT_VERSION = 1


def render(result: AuditResult) -> str:
    return json.dumps(build(result), indent=2, ensure_ascii=False) + "\n"


def build(result: AuditResult) -> dict[str, Any]:
    found = problems(result)
    stats = result.stats
    by_severity = severity_counts(found)
    fail_on = result.config.fail_on
    return {
        "version": FORMAT_VERSION,
        "tool": {"name": "calico-audit", "version": __version__},
        "summary": {
            "problems": len(found),
            "by_severity": {sev.label: by_severity[sev] for sev in SEVERITY_ORDER},
            "by_rule": {row.rule_id: row.count for row in rule_counts(found)},
            "files": stats.files,
            "files_with_problems": shown_path_count(found),
            "documents": stats.documents,
            "resources": stats.resources,
            "skipped": stats.skipped_documents,
            "empty": stats.empty_documents,
            "suppressed": sum(1 for f in result.findings if f.suppression is not None),
            "internal_errors": len(internal_errors(result)),
            "fail_on": fail_on.label if fail_on is not None else None,
            "failed": failed(result),
            "clusters": [run.name for run in result.clusters] if result.config.clusters else [],
        },
        "findings": [finding(f) for f in result.findings],
    }


def _place(loc: Location) -> dict[str, Any]:
    s = loc.span
    return {"path": loc.path, "line": s.line, "column": s.column, "end_line": s.end_line, "end_column": s.end_column}


def finding(f: Finding) -> dict[str, Any]:
    out: dict[str, Any] = {
        "rule": f.rule_id,
        "name": f.rule_name,
        "severity": f.severity.label,
        "message": f.message,
        "fix": f.fix,  # what to do, "" when the rule has no remedy to offer
        **_place(f.location),
        "fingerprint": f.fingerprint,
        "resource": f.identity,
        "field": f.field_path,
        "related": [{"message": message or loc.description, **_place(loc)} for loc, message in f.related],
        "suppressed": None,
        "internal_error": f.internal_error,
        "cluster": f.cluster or None,
        "clusters": list(f.clusters),
    }
    if f.witness is not None:
        out["witness"] = f.witness.as_dict()
    if f.suppression is not None:
        s = f.suppression
        out["suppressed"] = {"kind": s.kind, "justification": s.justification, "source": s.source}
    if sub_id(f):
        out["sub_id"] = sub_id(f)  # only for findings of a rule's sub-check (CA007/ippool-block-size)
    return out
