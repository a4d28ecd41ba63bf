"""The engine: runs the enabled rules on the model and stamps their issues into findings."""

from __future__ import annotations

import hashlib
import traceback
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from auditor.findings import (
    Finding,
    FlowStep,
    Issue,
    Location,
    Pointer,
    Related,
    Severity,
    Span,
    Target,
    format_path,
)

if TYPE_CHECKING:
    from auditor.catalog import Rule
    from auditor.config import Config
    from auditor.loader import LoadResult
    from auditor.model import Model
    from auditor.packet.questions import Questions


@dataclass
class Context:
    """What a rule's ``check`` receives: the loaded input, the model and the configuration."""

    load: LoadResult
    model: Model
    config: Config
    notes: list[str] = field(default_factory=list)
    suppression_problems: list[Any] = field(default_factory=list)  # filled in before the late rules run
    _packet: Questions | None = None

    @property
    def packet(self) -> Questions:
        """The packet-path questions (built on first use, shared by every rule of the run)."""
        if self._packet is None:
            from auditor.packet.questions import Questions

            self._packet = Questions(self.model, self.config)
        return self._packet


def resolve(target: Target) -> Location:
    """The place shown for a target: for a rendered document (Helm, kustomize), its source."""
    if isinstance(target, Location):
        return target
    origin = target.doc.origin
    if origin is not None:
        return origin.locate(target.doc, target.path, target.on_key)
    return Location(target.doc.file.path, target.doc.locate(target.path, target.on_key))


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


def stamp(rule: Rule, issue: Issue, severity: Severity) -> Finding:
    location = resolve(issue.at)
    identity = _identity(issue)
    field_path = _field_path(issue.at)
    related = tuple((resolve(r.at), r.message) for r in issue.related)
    rendered = rendered_related(issue.at)
    if rendered is not None:
        related = (rendered, *related)
    witness = issue.witness
    if witness is not None:
        steps = tuple(FlowStep(s.stage, s.outcome, s.text, resolve(s.at) if s.at is not None else None)
                      for s in witness.steps)
        witness = replace(witness, steps=steps)
    return Finding(
        rule_id=rule.id,
        rule_name=rule.name,
        severity=issue.severity or severity,
        message=issue.message,
        location=location,
        fingerprint=fingerprint(rule.id, identity, field_path, issue.key),
        field_path=field_path,
        identity=identity,
        related=related,
        witness=witness,
    )


class RuleCrash(Exception):
    """Raised instead of an internal-error finding when debugging (``--debug``, tests)."""


def run_rules(
    ctx: Context,
    rules: Sequence[Rule],
    severities: dict[str, Severity] | None = None,
    debug: bool = False,
) -> list[Finding]:
    """Run ``rules`` and return their findings, sorted deterministically.

    An exception inside a rule becomes an internal-error finding for that rule (or is re-raised
    with ``debug``), so one broken rule never hides the others.
    """
    severities = severities or {}
    findings: list[Finding] = []
    for rule in rules:
        assert rule.check is not None
        severity = severities.get(rule.id, rule.severity)
        try:
            for issue in rule.check(ctx):
                findings.append(stamp(rule, issue, severity))
        except Exception as exc:
            if debug:
                raise RuleCrash(f"rule {rule.id} crashed: {exc!r}") from exc
            findings.append(_crash_finding(rule, exc))
    return _unique_fingerprints(dedupe(sorted(findings, key=Finding.sort_key)))


def _unique_fingerprints(findings: list[Finding]) -> list[Finding]:
    """Two findings of one rule on one field get distinct, still line-independent fingerprints."""
    counts: dict[str, int] = {}
    for f in findings:
        n = counts.get(f.fingerprint, 0)
        counts[f.fingerprint] = n + 1
        if n:
            f.fingerprint = fingerprint(f.rule_id, f.identity, f.field_path, f"#{n}")
    return findings


def _crash_finding(rule: Rule, exc: BaseException) -> Finding:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else ""
    message = (
        f"internal error in rule {rule.id} ({rule.name}): {type(exc).__name__}: {exc}{where}. "
        "Its results for this run are incomplete; please report this with --debug output."
    )
    return Finding(
        rule_id=rule.id,
        rule_name=rule.name,
        severity=Severity.ERROR,
        message=message,
        location=Location(".", Span.point(1, 1)),
        fingerprint=fingerprint(rule.id, "internal-error", "", type(exc).__name__),
        internal_error=True,
    )


def dedupe(findings: Iterable[Finding]) -> list[Finding]:
    """Drop exact repeats (same rule, place and message), keeping order."""
    seen: set[tuple[Any, ...]] = set()
    out: list[Finding] = []
    for f in findings:
        key = (f.rule_id, f.location, f.message)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def related(target: Target, message: str) -> Related:
    return Related(target, message)
