"""The engine: runs the enabled rules on the model and stamps their issues into findings."""

from __future__ import annotations

import hashlib
import traceback
from collections.abc import Collection, Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from auditor.findings import (
    Finding,
    FlowStep,
    Issue,
    Location,
    Pointer,
    Severity,
    Span,
    Target,
    Witness,
    format_path,
)

if TYPE_CHECKING:
    from auditor.catalog import Rule, SubCheck
    from auditor.context import Context


def resolve(target: Target) -> Location:
    """The place shown for a target: for a rendered document (Helm, kustomize), its source."""
    if isinstance(target, Location):
        return target
    origin = target.doc.origin
    if origin is not None:
        return origin.locate(target.doc, target.path, target.on_key)
    return Location(target.doc.file.path, target.doc.locate(target.path, target.on_key))


def placed(witness: Witness) -> Witness:
    """The witness with its steps placed at file:line:col (as findings and the exposure map carry them)."""
    steps = tuple(
        FlowStep(s.stage, s.outcome, s.text, resolve(s.at) if s.at is not None else None) for s in witness.steps
    )
    return replace(witness, steps=steps)


def rendered_related(target: Target) -> tuple[Location, str] | None:
    """For a target in a rendered document: its place in the rendered output, as a related location."""
    if isinstance(target, Location) or target.doc.origin is None:
        return None
    where = Location(target.doc.file.path, target.doc.locate(target.path, target.on_key))
    return where, f"the same place in the output of `{target.doc.origin.label}`"


def in_string(pointer: Pointer, offset: int, width: int = 1) -> Target:
    """A place inside a one-line string value: ``offset`` characters into its text.

    Works for plain and quoted scalars written on one line; anything else (block scalars, escapes)
    falls back to the whole value.
    """
    if pointer.doc.origin is not None:
        return pointer  # rendered output: placed at its source by resolve()
    span = pointer.doc.locate(pointer.path, pointer.on_key)
    lines = pointer.doc.file.lines
    if not 0 < span.line <= len(lines):
        return pointer
    node: Any = pointer.doc.data
    try:
        for part in pointer.path:
            node = node[part]
    except (KeyError, IndexError, TypeError):
        return pointer
    if not isinstance(node, str):
        return pointer
    line = lines[span.line - 1]
    start = span.column - 1
    if line[start : start + 1] in ("'", '"'):
        start += 1
    if line[start : start + len(node)] != node:
        return pointer
    column = start + 1 + max(0, min(offset, len(node)))
    return Location(pointer.doc.file.path, Span(span.line, column, span.line, column + max(width, 1)))


def _identity(issue: Issue) -> str:
    if issue.identity:
        return issue.identity
    at = issue.at
    if isinstance(at, Pointer):
        return f"{at.doc.file.path}#{at.doc.index}"
    return at.path


def _field_path(target: Target) -> str:
    if isinstance(target, Pointer):
        return format_path(target.path)
    return ""


def fingerprint(rule_id: str, identity: str, field_path: str, key: str) -> str:
    """Stable across line moves: rule + resource identity + field path (+ discriminator)."""
    text = "\x1f".join((rule_id, identity, field_path, key))
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:32]


SUB_ID = "sub_id"  # Finding.extra key of the sub-check that produced a finding


def sub_id(finding: Finding) -> str:
    """The sub-check ID of ``finding`` (``CA007/ippool-block-size``), or "" for a whole-rule finding."""
    value = finding.extra.get(SUB_ID, "")
    return value if isinstance(value, str) else ""


def stamp(rule: Rule, issue: Issue, severity: Severity, sub: SubCheck | None = None) -> Finding:
    location = resolve(issue.at)
    identity = _identity(issue)
    field_path = _field_path(issue.at)
    related = tuple((resolve(r.at), r.message) for r in issue.related)
    rendered = rendered_related(issue.at)
    if rendered is not None:
        related = (rendered, *related)
    witness = issue.witness
    message = issue.message
    if witness is not None:
        # A claim that rests on what the repository does not say says so (once).
        unsaid = [a for a in witness.assumptions if a not in message]
        if unsaid:
            message = f"{message.rstrip('.')}. Assumed: {'; '.join(unsaid)}"
        witness = placed(witness)
    finding = Finding(
        rule_id=rule.id,
        rule_name=rule.name,
        severity=issue.severity or severity,
        message=message,
        location=location,
        # The sub-ID stays out of the fingerprint: findings keep theirs when a rule is split into sub-checks.
        fingerprint=fingerprint(rule.id, identity, field_path, issue.key),
        field_path=field_path,
        identity=identity,
        related=related,
        witness=witness,
        fix=issue.fix,
        autofix=issue.autofix,
    )
    if sub is not None:
        finding.extra[SUB_ID] = sub.id
    return finding


class RuleCrash(Exception):
    """Raised instead of an internal-error finding when debugging (``--debug``, tests)."""


def run_rules(
    ctx: Context,
    rules: Sequence[Rule],
    severities: dict[str, Severity] | None = None,
    debug: bool = False,
    skip: Collection[str] = (),
) -> list[Finding]:
    """Run ``rules`` and return their findings, sorted deterministically.

    An exception inside a rule (or one of its sub-checks) becomes an internal-error finding for that
    rule (or sub-check), or is re-raised with ``debug``, so one broken check never hides the others.
    ``skip`` names sub-checks not to run (deselected by sub-ID).
    """
    severities = severities or {}
    findings: list[Finding] = []
    for rule in rules:
        severity = severities.get(rule.id, rule.severity)
        if rule.sub_checks:
            subs = [s for s in rule.sub_checks if s.id not in skip]
            findings.extend(_run_sub_checks(ctx, rule, subs, severity, debug))
        if rule.check is None:
            continue
        try:
            for issue in rule.check(ctx):
                findings.append(stamp(rule, issue, severity))
        except Exception as exc:
            if debug:
                raise RuleCrash(f"rule {rule.id} crashed: {exc!r}") from exc
            findings.append(_crash_finding(rule, exc))
    return _unique_fingerprints(dedupe(sorted(findings, key=Finding.sort_key)))


def _run_sub_checks(
    ctx: Context, rule: Rule, subs: Sequence[SubCheck], severity: Severity, debug: bool
) -> list[Finding]:
    """Dispatch each resource in the rule's scope to the sub-checks of its kind.

    An exception in a sub-check becomes one internal-error finding for that sub-check; its other
    resources and every other sub-check still run.
    """
    findings: list[Finding] = []
    if not subs:
        return findings
    by_kind: dict[str, list[SubCheck]] = {}
    crashed: dict[str, BaseException] = {}
    resources = rule.scope(ctx) if rule.scope is not None else ctx.model.resources
    for resource in ctx.focused(resources):  # a sub-check places its findings in the resource it checks
        kind = resource.kind
        chosen = by_kind.get(kind)
        if chosen is None:
            chosen = by_kind[kind] = [s for s in subs if s.applies_to(kind)]
        for sub in chosen:
            try:
                issues = sub.check(resource, ctx) if sub.uses_context else sub.check(resource)  # type: ignore[call-arg]
                for issue in issues:
                    findings.append(stamp(rule, issue, severity, sub))
            except Exception as exc:
                if debug:
                    raise RuleCrash(f"sub-check {sub.id} crashed on {resource.identity}: {exc!r}") from exc
                crashed.setdefault(sub.id, exc)
    findings.extend(_crash_finding(rule, exc, rule.sub_check(sid)) for sid, exc in crashed.items())
    return findings


def _unique_fingerprints(findings: list[Finding]) -> list[Finding]:
    """Two findings of one rule on one field get distinct, still line-independent fingerprints."""
    counts: dict[str, int] = {}
    for f in findings:
        n = counts.get(f.fingerprint, 0)
        counts[f.fingerprint] = n + 1
        if n:
            f.fingerprint = fingerprint(f.rule_id, f.identity, f.field_path, f"#{n}")
    return findings


def _crash_finding(rule: Rule, exc: BaseException, sub: SubCheck | None = None) -> Finding:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else ""
    what = f"sub-check {sub.id} of rule {rule.id}" if sub is not None else f"rule {rule.id}"
    message = (
        f"internal error in {what} ({rule.name}): {type(exc).__name__}: {exc}{where}. "
        "Its results for this run are incomplete; please report this with --debug output."
    )
    finding = Finding(
        rule_id=rule.id,
        rule_name=rule.name,
        severity=Severity.ERROR,
        message=message,
        location=Location(".", Span.point(1, 1)),
        fingerprint=fingerprint(rule.id, "internal-error", sub.id if sub is not None else "", type(exc).__name__),
        internal_error=True,
    )
    if sub is not None:
        finding.extra[SUB_ID] = sub.id
    return finding


def dedupe(findings: Iterable[Finding]) -> list[Finding]:
    """Drop exact repeats (same rule, place, message and fix), keeping order."""
    seen: set[tuple[Any, ...]] = set()
    out: list[Finding] = []
    for f in findings:
        key = (f.rule_id, f.location, f.message, f.fix)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out
