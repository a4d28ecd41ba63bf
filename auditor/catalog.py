"""The rule catalog: every rule is one module under ``rules/`` (shipped as ``auditor.rules``).

A rule module defines ``RULE = Rule(...)`` (ID, name, title, severity, rationale, remediation,
references and examples) and a ``check(ctx)`` function yielding :class:`~auditor.findings.Issue`
objects. A rule may instead be a list of small per-kind checks, ``Rule(sub_checks=(SubCheck(...), ...))``:
the engine dispatches each resource to the sub-checks of its kind, and every sub-check has a stable
sub-ID (``CA007/ippool-block-size``) that selection, suppressions and the reports understand.
The catalog is discovered by importing those modules; nothing else lists the rules, and the console,
``--list-rules``, ``--explain``, SARIF and the generated docs all read it from here.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditor.findings import Issue, Severity

if TYPE_CHECKING:
    from auditor.context import Context

RULE_ID_RE = re.compile(r"^CA\d{3}$")
RULE_NAME_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
SUB_ID_RE = re.compile(r"^CA\d{3}/[a-z][a-z0-9]*(-[a-z0-9]+)*$")
DOCS_URL = "https://github.com/calico-audit/calico-audit/blob/main/docs/rules.md"

Check = Callable[["Context"], Iterable[Issue]]
ResourceCheck = Callable[[Any], Iterable[Issue]]  # receives one resource (an auditor.model.Resource)
ContextCheck = Callable[[Any, "Context"], Iterable[Issue]]  # one resource and the run's context
Scope = Callable[["Context"], Iterable[Any]]


@dataclass(frozen=True)
class SubCheck:
    """One small check of a rule, run on the resources of ``kinds`` (``("*",)``: every resource in scope).

    ``id`` is ``<RULE>/<kind>-<what>`` (``CA007/ippool-block-size``): stable, like a rule ID, because
    users select, ignore and suppress it by that name. A check that needs more than the resource (a fact
    of the cluster) sets ``uses_context`` and receives ``(resource, ctx)``.
    """

    id: str
    kinds: tuple[str, ...]
    title: str
    check: ResourceCheck | ContextCheck = field(compare=False, repr=False)
    uses_context: bool = False

    @property
    def rule_id(self) -> str:
        return self.id.partition("/")[0]

    @property
    def short(self) -> str:
        """The part after the rule ID: ``ippool-block-size``."""
        return self.id.partition("/")[2]

    def applies_to(self, kind: str) -> bool:
        return "*" in self.kinds or kind in self.kinds


@dataclass(frozen=True)
class Example:
    """A manifest set a rule must (``failing``) or must not (passing) fire on, read from ``rules/examples/``.

    ``files`` maps file names to the YAML as audited: the shared base files it includes first, then its
    own files, without the header and the markers (see :func:`parse_example`). ``expect`` lists the
    findings of the rule the example belongs to, as sorted ``"file:line:col"`` (a place twice when two
    findings share it); ``expected`` holds every marker by the ID it names (a rule ID, another rule's ID
    or a sub-ID such as ``CA007/ippool-block-size``). ``config`` holds configuration overrides (the same
    keys as ``[tool.calico-audit]``).
    """

    title: str
    files: Mapping[str, str]
    expect: tuple[str, ...] = ()
    config: Mapping[str, object] = field(default_factory=dict)
    includes: tuple[str, ...] = ()
    expected: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    source: str = ""  # where it lives, relative to rules/examples (``CA201/01-allow-list.yaml``)

    @property
    def failing(self) -> bool:
        return bool(self.expect)

    @property
    def own_files(self) -> dict[str, str]:
        """The example's own files (the included base files left out)."""
        return {name: text for name, text in self.files.items() if name not in {f"{i}.yaml" for i in self.includes}}


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    title: str
    severity: Severity
    rationale: str  # why it bites
    remediation: str  # how to fix, quoting the guide step where there is one
    references: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    guide_step: str = ""
    security_severity: float | None = None  # GitHub code scanning score; derived from severity when None
    late: bool = False  # runs after suppressions are applied (it reports on them)
    autofix: str | None = None  # "safe" or "unsafe": the kind of fix `audit --fix` applies for it (None: no fix)
    autofix_text: str = ""  # what the fix changes (shown by --explain and docs/rules.md)
    # A rule made of per-kind checks: the engine dispatches the resources of ``scope`` (default: every
    # resource of the model) to the sub-checks of their kind; such a rule needs no check() function.
    sub_checks: tuple[SubCheck, ...] = field(default=(), compare=False, repr=False)
    scope: Scope | None = field(default=None, compare=False, repr=False)
    check: Check | None = field(default=None, compare=False, repr=False)

    @property
    def examples(self) -> tuple[Example, ...]:
        """The rule's examples, read from ``rules/examples/<ID>/`` on first use (a run does not need them)."""
        return examples_for(self.id)

    def sub_check(self, sub_id: str) -> SubCheck | None:
        return next((s for s in self.sub_checks if s.id == sub_id), None)

    @property
    def friendly_name(self) -> str:
        """PascalCase name (SARIF ``rule.name``)."""
        return "".join(part.capitalize() for part in self.name.split("-"))

    @property
    def help_uri(self) -> str:
        return f"{DOCS_URL}#{self.id.lower()}-{self.name}"

    @property
    def score(self) -> float:
        if self.security_severity is not None:
            return self.security_severity
        return {Severity.ERROR: 7.5, Severity.WARNING: 5.0, Severity.NOTE: 2.0}[self.severity]


def _validate(rule: Rule, module: str) -> None:
    problems = []
    if not RULE_ID_RE.match(rule.id):
        problems.append(f"bad id {rule.id!r}")
    if not RULE_NAME_RE.match(rule.name):
        problems.append(f"bad name {rule.name!r}")
    if not module.startswith(rule.id.lower() + "_"):
        problems.append(f"module {module!r} must be named {rule.id.lower()}_<name>")
    for text, what in ((rule.title, "title"), (rule.rationale, "rationale"), (rule.remediation, "remediation")):
        if not text.strip():
            problems.append(f"empty {what}")
    if not (examples_root() / rule.id).is_dir():
        problems.append(f"no examples: add them under rules/examples/{rule.id}/")
    if rule.autofix not in (None, "safe", "unsafe"):
        problems.append(f"fix must be 'safe', 'unsafe' or None, not {rule.autofix!r}")
    if bool(rule.autofix) != bool(rule.autofix_text.strip()):
        problems.append("autofix and autofix_text go together")
    seen: set[str] = set()
    for sub in rule.sub_checks:
        if not SUB_ID_RE.match(sub.id) or sub.rule_id != rule.id:
            problems.append(f"bad sub-check id {sub.id!r} (expected {rule.id}/<kind>-<what>)")
        if sub.id in seen:
            problems.append(f"sub-check {sub.id} is defined twice")
        if not sub.kinds or not sub.title.strip():
            problems.append(f"sub-check {sub.id} needs kinds and a title")
        seen.add(sub.id)
    if problems:
        raise RuntimeError(f"rule module {module}: " + "; ".join(problems))


@lru_cache(maxsize=1)
def all_rules() -> tuple[Rule, ...]:
    """Every rule, sorted by ID (imported once)."""
    import auditor.rules as package

    rules: list[Rule] = []
    seen: dict[str, str] = {}
    for info in pkgutil.iter_modules(package.__path__):
        if not re.match(r"^ca\d{3}_", info.name):
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        rule: Rule = module.RULE
        check = getattr(module, "check", None)
        if check is None and not rule.sub_checks:
            raise RuntimeError(f"rule module {info.name} has no check() function and no sub-checks")
        _validate(rule, info.name)
        for key in (rule.id, rule.name):
            if key in seen:
                raise RuntimeError(f"{key} is defined twice ({seen[key]} and {info.name})")
            seen[key] = info.name
        object.__setattr__(rule, "check", check)
        rules.append(rule)
    return tuple(sorted(rules, key=lambda r: r.id))


def find(key: str) -> Rule | None:
    """A rule by ID (case-insensitive) or name; a sub-check ID finds its rule."""
    key = key.strip()
    if is_sub_selector(key):
        rule = find(key.partition("/")[0])
        return rule if rule is not None and matches(rule, key) else None
    for rule in all_rules():
        if rule.id == key.upper() or rule.name == key.lower():
            return rule
    return None


def normalize_selector(selector: str) -> str:
    """``ca007/IPPool-Block-Size`` -> ``CA007/ippool-block-size``; other selectors are only stripped."""
    sel = selector.strip()
    if "/" not in sel:
        return sel
    head, _, tail = sel.partition("/")
    return f"{head.strip().upper()}/{tail.strip().lower()}"


def is_sub_selector(selector: str) -> bool:
    """A selector naming sub-checks (``CA007/ippool-block-size``, or ``CA007/ippool`` for a kind's)."""
    return "/" in selector


def matches_sub(sub_id: str, selector: str) -> bool:
    """``selector`` names the sub-check ``sub_id`` exactly, or a ``-``-bounded prefix of it (``CA007/ippool``)."""
    sel = normalize_selector(selector)
    return bool(sel) and (sub_id == sel or sub_id.startswith(sel + "-"))


def matches(rule: Rule, selector: str) -> bool:
    """``selector`` is an ID, a name, an ID prefix (``CA2``), ``ALL`` or a sub-ID of one of the rule's checks."""
    sel = selector.strip()
    if not sel:
        return False
    if is_sub_selector(sel):
        return any(matches_sub(sub.id, sel) for sub in rule.sub_checks)
    if sel.upper() == "ALL":
        return True
    return rule.id.startswith(sel.upper()) or rule.name == sel.lower()


def selects(rule: Rule, sub_id: str, selector: str) -> bool:
    """Does ``selector`` cover a finding of ``rule`` (from sub-check ``sub_id``, "" for a whole-rule finding)?

    A rule-level selector covers every sub-check; a sub-ID selector covers only its sub-checks.
    """
    if is_sub_selector(selector.strip()):
        return bool(sub_id) and matches_sub(sub_id, selector)
    return matches(rule, selector)


def enabled_sub_checks(rule: Rule, select: Iterable[str], ignore: Iterable[str]) -> tuple[SubCheck, ...]:
    """The sub-checks of ``rule`` that ``select`` picks and ``ignore`` does not drop."""
    select, ignore = list(select), list(ignore)
    return tuple(
        sub
        for sub in rule.sub_checks
        if any(selects(rule, sub.id, s) for s in select) and not any(selects(rule, sub.id, s) for s in ignore)
    )


def known_ids() -> set[str]:
    """Every rule ID and sub-check ID."""
    return {rule.id for rule in all_rules()} | {sub.id for rule in all_rules() for sub in rule.sub_checks}


def is_known_selector(selector: str) -> bool:
    return any(matches(rule, selector) for rule in all_rules())


def severities(overrides: Mapping[str, Severity]) -> dict[str, Severity]:
    """Configured severities (keys: rule IDs or names) by rule ID; unknown keys are left out (the CLI
    refuses them before a run: see :func:`unknown_rules`)."""
    out: dict[str, Severity] = {}
    for key, level in overrides.items():
        rule = find(key)
        if rule is not None:
            out[rule.id] = level
    return out


def unknown_rules(keys: Iterable[str]) -> list[str]:
    """The keys that name no rule."""
    return [key for key in keys if find(key) is None]


# ------------------------------------------------------------------------------------------------
# Rule examples as files: rules/examples/<RULE-ID>/ (the syntax is documented in docs/rule-examples.md)
# ------------------------------------------------------------------------------------------------

BASE_DIR = "_base"  # shared base files, included by name: ``# include: cluster`` is rules/examples/_base/cluster.yaml
DEFAULT_FILE = "policy.yaml"  # the name a one-file example is audited under, unless ``# file:`` says otherwise
_ID = r"CA\d{3}(?:/[a-z][a-z0-9]*(?:-[a-z0-9]+)*)?"
_IDS = rf"{_ID}(?:\s*,\s*{_ID})*"
_DIRECTIVE_RE = re.compile(r"^# (title|include|config|file|expect-at): ?(.*)$")
_TRAILING_RE = re.compile(rf"^(?P<code>.*\S)\s+# expect: (?P<ids>{_IDS})\s*$")
_CARET_RE = re.compile(rf"^\s*#\s*(?P<caret>\^) (?P<ids>{_IDS})\s*$")
_EXPECT_AT_RE = re.compile(rf"^(?:(?P<file>[^\s:]+):)?(?P<line>\d+):(?P<col>\d+) (?P<ids>{_IDS})\s*$")
_LOOKS_LIKE_MARKER = re.compile(r"#\s*(?:expect(?:-at)?\b|\^)")


class ExampleError(ValueError):
    """A malformed example file (bad header, bad marker, unknown include): raised when the examples load."""


def examples_root() -> Path:
    """``rules/examples`` (``auditor/rules/examples`` in an installed wheel)."""
    import auditor.rules as package

    return Path(package.__path__[0]) / "examples"


def default_column(line: str) -> int:
    """The column a marker without a caret points at: the first key or scalar of the line, after any ``- ``."""
    i = len(line) - len(line.lstrip(" "))
    while line[i:i + 2] == "- " or line[i:] == "-":
        i += 1
        while i < len(line) and line[i] == " ":
            i += 1
    return i + 1


@dataclass
class ParsedExample:
    """One example file, parsed: its directives, its YAML as audited and its markers (line, column, ID)."""

    directives: list[tuple[str, str]]
    text: str
    marks: list[tuple[int, int, str]]


def _ids(text: str) -> list[str]:
    return [part.strip() for part in text.split(",")]


def parse_example(text: str, where: str = "<example>") -> ParsedExample:
    """Split an example file into its header directives, the YAML as audited and the expectation markers.

    The header is the run of ``# key: value`` lines (title, include, config, file, expect-at) at the top.
    A marker is a trailing ``# expect: ID[, ID...]`` on the line a finding points at (column: the line's
    first key or scalar, after any ``- ``), or a comment line ``#   ^ ID`` under it whose caret is the
    column. Header and markers are removed: line numbers count the lines of the YAML as audited.
    """
    lines = text.split("\n")
    directives: list[tuple[str, str]] = []
    while lines and (m := _DIRECTIVE_RE.match(lines[0])):
        directives.append((m.group(1), m.group(2).strip()))
        lines.pop(0)
    out: list[str] = []
    marks: list[tuple[int, int, str]] = []
    for number, line in enumerate(lines, start=len(directives) + 1):
        if caret := _CARET_RE.match(line):
            if not out:
                raise ExampleError(f"{where}:{number}: a caret marker needs a line above it")
            marks += [(len(out), caret.start("caret") + 1, i) for i in _ids(caret.group("ids"))]
            continue
        if trailing := _TRAILING_RE.match(line):
            line = trailing.group("code")
            marks += [(len(out) + 1, default_column(line), i) for i in _ids(trailing.group("ids"))]
        elif _LOOKS_LIKE_MARKER.search(line):
            raise ExampleError(
                f"{where}:{number}: malformed marker {line.strip()!r} (write `# expect: CA201[, CA202]` after the "
                "YAML on the line, or `#    ^ CA201` on the line below, the caret under the column)"
            )
        out.append(line)
    return ParsedExample(directives, "\n".join(out), marks)


def _base_file(name: str, root: Path, where: str) -> str:
    path = root / BASE_DIR / f"{name}.yaml"
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", name) or not path.is_file():
        known = sorted(p.stem for p in (root / BASE_DIR).glob("*.yaml"))
        raise ExampleError(f"{where}: unknown include {name!r} (the shared base files are {', '.join(known)})")
    return path.read_text(encoding="utf-8")


def load_example(rule_id: str, path: Path, root: Path | None = None) -> Example:
    """One example: a YAML file, or a folder of files (audited under their paths inside the folder)."""
    root = root or examples_root()
    where = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
    if path.is_dir():
        sources = {str(p.relative_to(path)): p for p in sorted(path.rglob("*.yaml")) if p.is_file()}
    else:
        sources = {"": path}
    parsed = {name: parse_example(p.read_text(encoding="utf-8"), f"{where}/{name}".rstrip("/"))
              for name, p in sources.items()}
    settings: dict[str, list[str]] = {}
    for p in parsed.values():
        for key, value in p.directives:
            settings.setdefault(key, []).append(value)
    for key in ("title", "config", "file"):
        if len(settings.get(key, ())) > 1:
            raise ExampleError(f"{where}: `# {key}:` given twice")
    if not settings.get("title", [""])[0]:
        raise ExampleError(f"{where}: no `# title:` line at the top")
    if "file" in settings and path.is_dir():
        raise ExampleError(f"{where}: `# file:` is for a one-file example; a folder's files are named by their paths")
    own_name = settings.get("file", [DEFAULT_FILE])[0]
    # A one-file example with nothing under its header is its included files alone.
    own = {(name or own_name): p for name, p in parsed.items() if name or p.text.strip()}
    includes = tuple(i for value in settings.get("include", ()) for i in _ids(value) if i)
    files = {f"{name}.yaml": _base_file(name, root, where) for name in includes}
    clash = set(files) & set(own)
    if clash:
        raise ExampleError(f"{where}: {', '.join(sorted(clash))} is both included and the example's own file")
    files.update({name: p.text for name, p in own.items()})
    try:
        config = json.loads(settings["config"][0]) if "config" in settings else {}
    except json.JSONDecodeError as exc:
        raise ExampleError(f"{where}: `# config:` is not a JSON object: {exc}") from exc
    if not isinstance(config, dict):
        raise ExampleError(f"{where}: `# config:` is not a JSON object")
    expected: dict[str, list[str]] = {}
    for name, p in own.items():
        for line, col, marker_id in p.marks:
            expected.setdefault(marker_id, []).append(f"{name}:{line}:{col}")
    for value in settings.get("expect-at", ()):
        m = _EXPECT_AT_RE.match(value)
        file = (m.group("file") or (own_name if len(own) == 1 else "")) if m else ""
        if m is None or file not in files:
            raise ExampleError(f"{where}: malformed `# expect-at: {value}` (write `# expect-at: FILE:LINE:COL CA201`)")
        for marker_id in _ids(m.group("ids")):
            expected.setdefault(marker_id, []).append(f"{file}:{m.group('line')}:{m.group('col')}")
    return Example(
        title=settings["title"][0],
        files=files,
        expect=tuple(sorted(p for k, v in expected.items() if k.partition("/")[0] == rule_id for p in v)),
        config=config,
        includes=includes,
        expected={k: tuple(sorted(v)) for k, v in sorted(expected.items())},
        source=where,
    )


@cache
def examples_for(rule_id: str) -> tuple[Example, ...]:
    """The examples of one rule, in file-name order, from ``rules/examples/<rule_id>/``.

    Raises :class:`ExampleError` on a malformed file, and when the rule lacks a failing or a passing example.
    """
    folder = examples_root() / rule_id
    if not folder.is_dir():
        return ()
    examples = tuple(load_example(rule_id, p) for p in sorted(folder.iterdir())
                     if p.is_dir() or p.suffix == ".yaml")
    if not any(e.failing for e in examples) or all(e.failing for e in examples):
        raise ExampleError(f"rules/examples/{rule_id}: needs at least one failing and one passing example")
    return examples


def base_files() -> dict[str, str]:
    """The shared base files by include name (``cluster``: the base cluster), for the docs."""
    folder = examples_root() / BASE_DIR
    return {p.stem: p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.yaml"))}
