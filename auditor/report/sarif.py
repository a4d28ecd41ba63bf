"""SARIF 2.1.0 for GitHub code scanning (and any other SARIF viewer).

Shape decisions (see also ``docs/json-format.md`` for the JSON format):

* One run; ``tool.driver.rules`` is the whole enabled catalog (plus a minimal descriptor for any
  finding whose rule is not in it), so alerts always have their documentation.
* Paths below the working directory are relative URIs (``/``-separated, percent-encoded) with
  ``uriBaseId: "%SRCROOT%"``. ``originalUriBaseIds`` declares ``%SRCROOT%`` with a description but
  **no absolute uri**: GitHub resolves relative paths against the checkout itself, and leaving the
  machine's directory out keeps the file byte-identical across machines and checkouts. Paths
  outside the working directory become absolute ``file://`` URIs without a ``uriBaseId``. GitHub
  cannot place those (they are outside any checkout; the SARIF multitool's GH1006 flags them, and
  naming ``invocations[].workingDirectory`` would not help since they are outside it too), so
  upload SARIF produced from the repository root on files inside it.
* Nothing depends on the clock or the environment: no timestamps, no durations, stable key order.
* ``message.text`` is the message (what is wrong and why); the finding's fix text (what to do) is
  ``properties.fix``. It is not a ``fixes[]`` entry: a SARIF fix needs ``artifactChanges``, so ``fixes``
  holds only what ``audit --fix`` would change, described by that edit's own description.
* Suppressed findings stay in the log with ``suppressions`` (GitHub shows them as dismissed).
* Rule severity overrides from the configuration go to ``ruleConfigurationOverrides``;
  ``defaultConfiguration`` keeps the catalog's level.
* GitHub's upload limits are enforced here: at most 25,000 results per run (the most severe are
  kept: internal errors, then active findings by severity, then suppressed ones; ties keep the
  report order), 1,000 related locations per result and 10 MB gzipped. Whatever is dropped is
  recorded in ``run.properties`` (``calicoAudit/capped`` …) and told by :func:`capped_note`.
"""

from __future__ import annotations

import gzip
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from auditor import __version__
from auditor.engine import sub_id
from auditor.findings import Finding, Location, Severity, Span
from auditor.report.common import clean_span, cluster_phrase

if TYPE_CHECKING:
    from auditor.catalog import Rule
    from auditor.loader import SourceFile
    from auditor.run import AuditResult

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
TOOL_NAME = "calico-audit"
INFORMATION_URI = "https://github.com/calico-audit/calico-audit"
FINGERPRINT_KEY = "calicoAudit/v1"
SRCROOT = "%SRCROOT%"

#: GitHub code scanning limits (docs.github.com, "SARIF support for code scanning").
MAX_RESULTS = 25_000
MAX_RELATED = 1_000
MAX_GZIP_BYTES = 10 * 1024 * 1024
#: Stay a little under the gzip limit: GitHub may compress differently from us.
_GZIP_BUDGET = MAX_GZIP_BYTES - 256 * 1024
MAX_TAGS = 10  # GitHub shows 10 tags per rule and rejects more than 20
MAX_DESCRIPTION = 1024  # GitHub's limit for shortDescription/fullDescription text
MAX_SNIPPET_CHARS = 2_000

LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTE: "note"}


# ------------------------------------------------------------------------------------------
# Public API
# ------------------------------------------------------------------------------------------


def render(result: AuditResult) -> str:
    """The SARIF log as text: two-space indented JSON, stable key order, newline at the end."""
    return dumps(build(result))


def dumps(log: dict[str, Any]) -> str:
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"


def build(result: AuditResult) -> dict[str, Any]:
    """The SARIF log (a fresh dict) for ``result``, capped to GitHub's limits."""
    return _build(result)


def capped_note(result: AuditResult) -> str | None:
    """One sentence saying what the SARIF output of ``result`` left out, or None when complete.

    This builds the log again; when you have it already, :func:`capped_note_for` reads it instead.
    """
    return capped_note_for(build(result))


def capped_note_for(log: dict[str, Any]) -> str | None:
    """:func:`capped_note` for an already built log."""
    props = log["runs"][0].get("properties", {})
    if not props.get("calicoAudit/capped"):
        return None
    total = props["calicoAudit/totalResults"]
    kept = props["calicoAudit/keptResults"]
    parts = []
    if kept < total:
        reason = props.get("calicoAudit/cappedBy", "results")
        why = (
            f"GitHub code scanning accepts at most {MAX_RESULTS:,} results per run"
            if reason == "results"
            else f"GitHub code scanning accepts at most {MAX_GZIP_BYTES // (1024 * 1024)} MB gzipped"
        )
        parts.append(f"kept {kept:,} of {total:,} results, the most severe first ({why})")
    trimmed = props.get("calicoAudit/relatedLocationsTrimmed", 0)
    if trimmed:
        parts.append(
            f"related locations of {trimmed:,} {'result' if trimmed == 1 else 'results'} "
            f"trimmed to {MAX_RELATED:,} each"
        )
    return "SARIF output capped: " + "; ".join(parts) + "."


# ------------------------------------------------------------------------------------------
# Building the log
# ------------------------------------------------------------------------------------------


def _build(result: AuditResult) -> dict[str, Any]:
    rules, index = _rules(result)
    findings = list(result.findings)
    files = result.files

    def assemble(kept: list[Finding], capped_by: str) -> dict[str, Any]:
        results = [_result(f, index, files) for f in kept]
        return _log(result, rules, results, kept, len(findings), capped_by)

    kept = _select(findings, MAX_RESULTS)
    capped_by = "results" if len(kept) < len(findings) else ""
    log = assemble(kept, capped_by)
    # 10 MB gzipped: only worth compressing when the raw text is over the budget.
    text = dumps(log).encode("utf-8", "backslashreplace")
    if len(text) > _GZIP_BUDGET:
        size = len(gzip.compress(text, 6))
        while size > _GZIP_BUDGET and kept:
            # Shrink in proportion (with a margin), always by at least one result.
            keep = max(0, min(len(kept) - 1, int(len(kept) * _GZIP_BUDGET / size * 0.95)))
            kept = _select(findings, keep)
            log = assemble(kept, "size")
            size = len(gzip.compress(dumps(log).encode("utf-8", "backslashreplace"), 6))
    return log


def _priority(f: Finding) -> tuple[int, int]:
    """Lower sorts first: internal errors, then active findings by severity, then suppressed."""
    if f.internal_error:
        return (0, 0)
    if f.suppression is None:
        return (1, -int(f.severity))
    return (2, -int(f.severity))


def _select(findings: list[Finding], limit: int) -> list[Finding]:
    """The ``limit`` most important findings, in their original (report) order."""
    if len(findings) <= limit:
        return findings
    order = sorted(range(len(findings)), key=lambda i: (_priority(findings[i]), i))
    chosen = sorted(order[:limit])
    return [findings[i] for i in chosen]


def _log(
    result: AuditResult,
    rules: list[dict[str, Any]],
    results: list[dict[str, Any]],
    kept: list[Finding],
    total: int,
    capped_by: str,
) -> dict[str, Any]:
    trimmed = sum(1 for f in kept if len(f.related) > MAX_RELATED)
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": TOOL_NAME,
                "version": __version__,
                "semanticVersion": __version__,
                "informationUri": INFORMATION_URI,
                "rules": rules,
            }
        },
        "invocations": [_invocation(result, rules)],
        "originalUriBaseIds": {
            SRCROOT: {
                "description": {
                    "text": "The directory calico-audit ran in (the repository root in CI); "
                    "result paths are relative to it."
                }
            }
        },
        "columnKind": "unicodeCodePoints",
        "results": results,
    }
    if len(kept) < total or trimmed:
        run["properties"] = {
            "calicoAudit/capped": True,
            "calicoAudit/cappedBy": capped_by or "relatedLocations",
            "calicoAudit/totalResults": total,
            "calicoAudit/keptResults": len(kept),
            "calicoAudit/relatedLocationsTrimmed": trimmed,
        }
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def _invocation(result: AuditResult, rules: list[dict[str, Any]]) -> dict[str, Any]:
    internal = [f for f in result.findings if f.internal_error and f.suppression is None]
    invocation: dict[str, Any] = {"executionSuccessful": not internal}
    overrides = []
    for i, descriptor in enumerate(rules):
        level = result.config.severity.get(descriptor["id"])
        if level is not None and LEVELS[level] != descriptor["defaultConfiguration"]["level"]:
            overrides.append(
                {"descriptor": {"id": descriptor["id"], "index": i}, "configuration": {"level": LEVELS[level]}}
            )
    if overrides:
        invocation["ruleConfigurationOverrides"] = overrides
    notifications = []
    index = {descriptor["id"]: i for i, descriptor in enumerate(rules)}
    for f in internal:
        notifications.append(
            {
                "level": "error",
                "message": {"text": f.message},
                "associatedRule": {"id": f.rule_id, "index": index[f.rule_id]},
            }
        )
    for note in result.notes:
        notifications.append({"level": "note", "message": {"text": note}})
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    return invocation


# ------------------------------------------------------------------------------------------
# Rules
# ------------------------------------------------------------------------------------------


def _rules(result: AuditResult) -> tuple[list[dict[str, Any]], dict[str, int]]:
    descriptors: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    for rule in result.rules:
        if rule.id not in index:
            index[rule.id] = len(descriptors)
            descriptors.append(_rule(rule))
    # A finding of a rule outside the enabled catalog (should not happen) still needs a descriptor.
    extra: dict[str, Finding] = {}
    for f in result.findings:
        if f.rule_id not in index and f.rule_id not in extra:
            extra[f.rule_id] = f
    for rule_id in sorted(extra):
        index[rule_id] = len(descriptors)
        descriptors.append(_bare_rule(extra[rule_id]))
    return descriptors, index


def _clip(text: str, limit: int = MAX_DESCRIPTION) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0]
    return cut + "…"


def _tags(rule: Rule) -> list[str]:
    tags: list[str] = []
    for tag in ("security", "calico", *rule.tags):
        if tag and tag not in tags:
            tags.append(tag)
    return tags[:MAX_TAGS]


def _help(rule: Rule) -> tuple[str, str]:
    text = [rule.rationale.strip(), "", "How to fix: " + rule.remediation.strip()]
    md = [rule.rationale.strip(), "", "**How to fix:** " + rule.remediation.strip()]
    if rule.guide_step:
        text += ["", "Guide step: " + rule.guide_step]
        md += ["", "**Guide step:** " + rule.guide_step]
    if rule.references:
        text += ["", "References:"] + [f"- {ref}" for ref in rule.references]
        md += ["", "**References:**", ""] + [f"- <{ref}>" if "://" in ref else f"- {ref}" for ref in rule.references]
    text += ["", f"Documentation: {rule.help_uri}"]
    md += ["", f"[Documentation of {rule.id} {rule.name}]({rule.help_uri})"]
    return "\n".join(text), "\n".join(md)


def _rule(rule: Rule) -> dict[str, Any]:
    help_text, help_markdown = _help(rule)
    return {
        "id": rule.id,
        "name": rule.friendly_name,
        "shortDescription": {"text": _clip(rule.title)},
        "fullDescription": {"text": _clip(rule.rationale)},
        "help": {"text": help_text, "markdown": help_markdown},
        "helpUri": rule.help_uri,
        "defaultConfiguration": {"level": LEVELS[rule.severity]},
        "properties": {
            "tags": _tags(rule),
            "security-severity": f"{rule.score:.1f}",
            "precision": "high",
            "calicoAudit/name": rule.name,
            **_sub_checks(rule),
        },
    }


def _sub_checks(rule: Rule) -> dict[str, Any]:
    """The rule's sub-checks (results name theirs in ``properties.subId``); nothing for a plain rule."""
    if not rule.sub_checks:
        return {}
    return {
        "calicoAudit/subChecks": [{"id": s.id, "title": s.title, "kinds": list(s.kinds)} for s in rule.sub_checks]
    }


def _bare_rule(f: Finding) -> dict[str, Any]:
    friendly = "".join(part.capitalize() for part in f.rule_name.split("-")) or f.rule_id
    title = f"{f.rule_id} {f.rule_name}".strip()
    return {
        "id": f.rule_id,
        "name": friendly,
        "shortDescription": {"text": title},
        "fullDescription": {"text": title},
        "help": {"text": title, "markdown": title},
        "defaultConfiguration": {"level": LEVELS[f.severity]},
        "properties": {"tags": ["security", "calico"], "precision": "high", "calicoAudit/name": f.rule_name},
    }


# ------------------------------------------------------------------------------------------
# Results
# ------------------------------------------------------------------------------------------


def _result(f: Finding, index: dict[str, int], files: dict[str, SourceFile]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ruleId": f.rule_id,
        "ruleIndex": index[f.rule_id],
        "level": LEVELS[f.severity],
        "message": {"text": f"{f.message} ({cluster_phrase(f)})" if f.cluster else f.message},
        "locations": [{"physicalLocation": _physical(f.location, files.get(f.location.path), snippet=True)}],
        "partialFingerprints": {FINGERPRINT_KEY: f.fingerprint},
    }
    if f.related:
        related = []
        for i, (loc, message) in enumerate(f.related[:MAX_RELATED], start=1):
            entry: dict[str, Any] = {"id": i, "physicalLocation": _physical(loc, None, snippet=False)}
            text = message or loc.description
            if text:
                entry["message"] = {"text": text}
            related.append(entry)
        out["relatedLocations"] = related
    if f.witness is not None:
        out["codeFlows"] = [_code_flow(f)]
    fixes = _fixes(f)
    if fixes:
        out["fixes"] = fixes
    if f.suppression is not None:
        s = f.suppression
        out["suppressions"] = [
            {
                "kind": s.kind if s.kind in ("inSource", "external") else "external",
                "status": "accepted",
                "justification": s.justification,
                "properties": {"source": s.source},
            }
        ]
    props: dict[str, Any] = {}
    if f.identity:
        props["resource"] = f.identity
    if f.field_path:
        props["field"] = f.field_path
    if f.fix:
        props["fix"] = f.fix  # what to do; a text-only fix cannot be a `fixes[]` entry (those need artifactChanges)
    if sub_id(f):
        props["subId"] = sub_id(f)
    if f.internal_error:
        props["internalError"] = True
    if f.cluster:
        props["calicoAudit/cluster"] = f.cluster
        props["calicoAudit/clusters"] = list(f.clusters or (f.cluster,))
    if len(f.related) > MAX_RELATED:
        props["calicoAudit/relatedLocationsTotal"] = len(f.related)
    if f.witness is not None:
        props["witness"] = {k: v for k, v in f.witness.as_dict().items() if k != "steps"}
    if props:
        out["properties"] = props
    return out


def _code_flow(f: Finding) -> dict[str, Any]:
    """The witness flow as one thread flow: a location per step of the packet path (GitHub shows the path).

    Steps without a place of their own (kube-proxy's DNAT, SNAT, default verdicts) are shown at the
    finding's location, so every step has a physical location."""
    w = f.witness
    assert w is not None
    locations = []
    for step in w.steps:
        loc = step.at if isinstance(step.at, Location) else f.location
        locations.append(
            {
                "location": {
                    "physicalLocation": _physical(loc, None, snippet=False),
                    "message": {"text": f"[{step.stage}] {step.text}"},
                },
                "kinds": [_STEP_KINDS.get(step.outcome, "unknown")],
                "importance": "essential" if step.outcome in ("allow", "deny") else "important",
            }
        )
    text = w.summary
    if w.command:
        text += f" (replay: {w.command})"
    return {"message": {"text": text}, "threadFlows": [{"locations": locations}]}


_STEP_KINDS = {
    "allow": "acquire",
    "deny": "terminate",
    "pass": "branch",
    "no-match": "branch",
    "skip": "branch",
    "info": "enter",
}


def _fixes(f: Finding) -> list[dict[str, Any]]:
    """What ``audit --fix`` would change (SARIF §3.55): the replacements, with the fix's safety in properties."""
    if f.autofix is None or f.suppression is not None:
        return []
    from auditor.fix import resolve

    edits = resolve(f.autofix)
    if not edits:
        return []
    replacements = [
        {
            "deletedRegion": {
                "startLine": e.start[0],
                "startColumn": e.start[1],
                "endLine": e.end[0],
                "endColumn": e.end[1],
            },
            "insertedContent": {"text": e.text},
        }
        for e in edits
    ]
    return [
        {
            "description": {"text": f.autofix.description},
            "artifactChanges": [{"artifactLocation": _artifact(edits[0].path), "replacements": replacements}],
            "properties": {"calicoAudit/safety": "safe" if f.autofix.safe else "unsafe"},
        }
    ]


def _physical(loc: Location, file: SourceFile | None, *, snippet: bool) -> dict[str, Any]:
    span = clean_span(loc.span)
    region: dict[str, Any] = {
        "startLine": span.line,
        "startColumn": span.column,
        "endLine": span.end_line,
        "endColumn": span.end_column,
    }
    if snippet and file is not None:
        text = _snippet(file, span)
        if text:
            region["snippet"] = {"text": text}
    return {"artifactLocation": _artifact(loc.path), "region": region}


def _snippet(file: SourceFile, span: Span) -> str:
    """The exact text of the region (SARIF §3.30.13), when the file's text is at hand."""
    lines = file.lines
    if span.line > len(lines):
        return ""
    chunk = lines[span.line - 1 : span.end_line]
    if not chunk:
        return ""
    if len(chunk) == 1:
        text = chunk[0][span.column - 1 : span.end_column - 1]
    else:
        last = chunk[-1][: span.end_column - 1] if span.end_line <= len(lines) else chunk[-1]
        text = "\n".join([chunk[0][span.column - 1 :], *chunk[1:-1], last])
    return text if len(text) <= MAX_SNIPPET_CHARS else ""


def _is_absolute(path: str) -> bool:
    return path.startswith("/") or (len(path) > 2 and path[1] == ":" and path[2] == "/")


def _file_uri(path: str) -> str:
    if not path.startswith("/"):  # a Windows drive path, C:/x
        path = "/" + path
    return "file://" + quote(path, safe="/:", errors="surrogateescape")


def _artifact(path: str) -> dict[str, Any]:
    if _is_absolute(path):
        return {"uri": _file_uri(path)}
    return {"uri": quote(path, safe="/", errors="surrogateescape"), "uriBaseId": SRCROOT}
