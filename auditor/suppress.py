"""Suppressions, with a reason, never silent.

Three in-source forms and one external one:

* ``# calico-audit: ignore[CA206] reason`` at the end of the finding's line, or alone on the line
  just above it;
* the same comment in a document's header (before its first key): the whole resource;
* ``# calico-audit: ignore-file[CA206] reason`` anywhere in a file: the whole file;
* the annotation ``calico-audit.io/ignore: "CA206: reason"`` on a resource (it survives Helm and
  kustomize rendering, which drop comments); several entries are separated by ``;`` or new lines,
  and an entry may name several rules: ``"CA206, CA207: reason"``;
* ``--baseline FILE``: findings whose fingerprints are recorded there (external).

Wherever a rule ID goes, a sub-check ID may go instead (``ignore[CA007/ippool-block-size]``, or
``CA007/ippool`` for all of a kind's sub-checks): it covers only that sub-check's findings, while a
plain ``CA007`` still covers all of them.

Suppressed findings keep their place in SARIF (``suppressions`` with the justification) and do
not fail the run. A suppression that matches nothing, names an unknown rule or gives no reason
is reported (rule CA008).
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from auditor.catalog import matches_sub, normalize_selector
from auditor.engine import sub_id
from auditor.findings import Finding, Location, Span, Suppression
from auditor.loader import Document, LoadResult, SourceFile
from auditor.model import Model

ANNOTATION = "calico-audit.io/ignore"
_COMMENT_RE = re.compile(
    r"#\s*calico-audit:\s*(?P<kind>ignore|ignore-file)\s*\[(?P<ids>[^\]]*)\]\s*(?P<reason>.*?)\s*$"
)
_RULE_ID_RE = re.compile(r"^CA\d{3}(/[a-z0-9-]+)?$")


@dataclass
class Directive:
    """One suppression as written, and whether it was used."""

    rules: tuple[str, ...]
    reason: str
    scope: str  # "line", "resource", "file", "annotation"
    location: Location
    file: str
    first_line: int = 0  # the lines it covers (inclusive)
    last_line: int = 0
    used: set[str] = field(default_factory=set)

    def covers(self, finding: Finding) -> bool:
        return bool(self.matching(finding))

    def matching(self, finding: Finding) -> str:
        """The rule or sub-check ID of this directive that covers ``finding`` ("" when none does)."""
        if finding.location.path != self.file:
            return ""
        if not (self.scope == "file" or self.first_line <= finding.location.span.line <= self.last_line):
            return ""
        for token in self.rules:
            if token == finding.rule_id:
                return token
            if "/" in token and token.startswith(finding.rule_id + "/") and _covers_sub(token, finding):
                return token
        return ""


def _covers_sub(token: str, finding: Finding) -> bool:
    sub = sub_id(finding)
    return bool(sub) and matches_sub(sub, token)


@dataclass
class SuppressionProblem:
    message: str
    location: Location
    key: str
    fix: str = ""  # what to do, one sentence (CA008 shows it apart from the message)


def _comment_of(line: str) -> re.Match[str] | None:
    if "calico-audit" not in line:
        return None
    hash_at = _comment_start(line)
    if hash_at < 0:
        return None
    return _COMMENT_RE.match(line[hash_at:])


def _comment_start(line: str) -> int:
    """Index of the ``#`` that starts a YAML comment (not one inside quotes)."""
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in ("'", '"'):
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return i
    return -1


def _ids(text: str) -> tuple[str, ...]:
    """Rule IDs upper-cased (``ca206`` -> ``CA206``), sub-check IDs as ``CA007/ippool-block-size``."""
    parts = (part.strip() for part in re.split(r"[,\s]+", text) if part.strip())
    return tuple(normalize_selector(p) if "/" in p else p.upper() for p in parts)


def _document_ranges(docs: Sequence[Document]) -> list[tuple[Document, int, int, int]]:
    """Per document: (doc, header start line, first key line, last line)."""
    out = []
    previous_end = 0
    for doc in sorted(docs, key=lambda d: d.root_span().line):
        first = doc.root_span().line
        end = doc.end_line()
        out.append((doc, previous_end + 1, first, end))
        previous_end = end
    return out


def comment_directives(file: SourceFile, docs: Sequence[Document]) -> list[Directive]:
    directives: list[Directive] = []
    lines = file.lines
    ranges = _document_ranges(docs)
    for number, line in enumerate(lines, 1):
        match = _comment_of(line)
        if match is None:
            continue
        rules = _ids(match.group("ids"))
        reason = match.group("reason").strip()
        where = Location(
            file.path, Span.point(number, _comment_start(line) + 1, len(line.rstrip()) - _comment_start(line))
        )
        if match.group("kind") == "ignore-file":
            directives.append(Directive(rules, reason, "file", where, file.path))
            continue
        alone = line[: _comment_start(line)].strip() == ""
        header = next((r for r in ranges if r[1] <= number < r[2]), None) if alone else None
        if header is not None:
            _, _, first, last = header
            directives.append(Directive(rules, reason, "resource", where, file.path, first, last))
        elif alone:
            target = _next_content_line(lines, number)
            directives.append(Directive(rules, reason, "line", where, file.path, target, target))
        else:
            directives.append(Directive(rules, reason, "line", where, file.path, number, number))
    return directives


def _next_content_line(lines: Sequence[str], number: int) -> int:
    for n in range(number + 1, len(lines) + 1):
        text = lines[n - 1].strip()
        if text and not text.startswith("#"):
            return n
    return number


def annotation_directives(model: Model) -> list[Directive]:
    directives: list[Directive] = []
    for resource in model.resources:
        value = resource.annotations.get(ANNOTATION)
        if value is None:
            continue
        doc = resource.raw.doc
        pointer = resource.ptr("metadata", "annotations", ANNOTATION)
        where = Location(doc.file.path, doc.locate(pointer.path))
        path, first, last = doc.file.path, doc.root_span().line, doc.end_line()
        if doc.origin is not None:  # rendered (Helm, kustomize): covers the source its findings are placed in
            where = doc.origin.locate(doc, pointer.path, False)
            path, first, last = doc.origin.extent()
        for entry in re.split(r"[;\n]", value):
            if not entry.strip():
                continue
            ids, _, reason = entry.partition(":")
            directives.append(Directive(_ids(ids), reason.strip(), "annotation", where, path, first, last))
    return directives


def collect(load: LoadResult, model: Model) -> list[Directive]:
    by_file: dict[str, list[Document]] = {}
    sources: set[int] = set()
    for doc in load.documents:
        by_file.setdefault(doc.file.path, []).append(doc)
        source = doc.origin.document() if doc.origin is not None else None
        if source is not None and id(source) not in sources:
            sources.add(id(source))  # a rendered resource's own file: its header comments cover it
            by_file.setdefault(source.file.path, []).append(source)
    directives: list[Directive] = []
    for file in load.files:
        if file.has_directive:
            directives.extend(comment_directives(file, by_file.get(file.path, [])))
    directives.extend(annotation_directives(model))
    return directives


def apply(findings: Iterable[Finding], directives: Sequence[Directive]) -> None:
    """Mark findings covered by a directive as suppressed (in place) and record what was used."""
    by_file: dict[str, list[Directive]] = {}
    for directive in directives:
        by_file.setdefault(directive.file, []).append(directive)
    for finding in findings:
        if finding.suppression is not None or finding.internal_error:
            continue
        for directive in by_file.get(finding.location.path, ()):
            token = directive.matching(finding)
            if token:
                directive.used.add(token)
                source = (
                    "annotation"
                    if directive.scope == "annotation"
                    else ("file" if directive.scope == "file" else "comment")
                )
                finding.suppression = Suppression("inSource", directive.reason, source)
                break


def problems(directives: Sequence[Directive], known: set[str], ran: set[str]) -> list[SuppressionProblem]:
    """Suppressions that name unknown rules, give no reason, or match no finding of a rule that ran."""
    out: list[SuppressionProblem] = []
    for d in directives:
        form = "annotation" if d.scope == "annotation" else "comment"
        if not d.rules:
            out.append(
                SuppressionProblem(
                    f"suppression {form} names no rule", d.location, "empty", "Write `ignore[CA206] reason`."
                )
            )
            continue
        for rule in d.rules:
            if not _RULE_ID_RE.match(rule) or not _known(rule, known):
                out.append(
                    SuppressionProblem(
                        f"suppression names unknown rule `{rule}`",
                        d.location,
                        f"unknown/{rule}",
                        "Name a rule ID, name or sub-check that `audit --list-rules` lists.",
                    )
                )
            elif _known(rule, ran) and rule not in d.used:
                out.append(
                    SuppressionProblem(
                        f"unused suppression of {rule}: no {rule} finding is covered by this {form}",
                        d.location,
                        f"unused/{rule}",
                        f"Remove {rule} from this {form}.",
                    )
                )
        if not d.reason:
            out.append(
                SuppressionProblem(
                    f"suppression of {', '.join(d.rules)} gives no reason",
                    d.location,
                    "no-reason",
                    "Say why after the rule list (`# calico-audit: ignore[CA206] nodePorts closed at the load "
                    "balancer`).",
                )
            )
    return out


def _known(token: str, ids: set[str]) -> bool:
    """``token`` is one of ``ids``, or (a sub-check selector) names at least one sub-check among them."""
    if token in ids:
        return True
    if "/" not in token:
        return False
    return any(matches_sub(i, token) for i in ids if "/" in i)


# ------------------------------------------------------------------------------------------
# Per-path ignores (configuration) and the baseline
# ------------------------------------------------------------------------------------------


def path_ignored(path: str, rule_id: str, per_path: dict[str, list[str]], sub: str = "") -> bool:
    """Is a finding of ``rule_id`` (from sub-check ``sub``) in ``path`` ignored by ``per-path-ignores``?"""
    from auditor import catalog

    rule = catalog.find(rule_id)
    for pattern, selectors in per_path.items():
        matched = fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(path, pattern.rstrip("/") + "/*")
        if matched and rule is not None and any(catalog.selects(rule, sub, s) for s in selectors):
            return True
    return False


BASELINE_VERSION = 1


class BaselineError(Exception):
    pass


def write_baseline(findings: Iterable[Finding]) -> str:
    entries = [
        {
            "fingerprint": f.fingerprint,
            "rule": f.rule_id,
            **({"sub": sub} if (sub := sub_id(f)) else {}),
            "path": f.location.path,
            "resource": f.identity,
            "field": f.field_path,
            "message": f.message,
        }
        for f in findings
        if f.suppression is None and not f.internal_error
    ]
    entries.sort(key=lambda e: (e["path"], e["rule"], e["fingerprint"]))
    return json.dumps({"calico-audit-baseline": BASELINE_VERSION, "findings": entries}, indent=2) + "\n"


def read_baseline(path: str) -> set[str]:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except OSError as exc:
        raise BaselineError(f"cannot read baseline {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise BaselineError(f"baseline {path} is not JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("calico-audit-baseline") != BASELINE_VERSION:
        raise BaselineError(f"{path} is not a calico-audit baseline (write one with --write-baseline)")
    return {e["fingerprint"] for e in data.get("findings", []) if isinstance(e, dict) and "fingerprint" in e}


def apply_baseline(findings: Iterable[Finding], fingerprints: set[str], path: str) -> int:
    count = 0
    for finding in findings:
        if finding.suppression is None and finding.fingerprint in fingerprints:
            finding.suppression = Suppression("external", f"accepted in baseline {path}", "baseline")
            count += 1
    return count
