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
import pkgutil
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
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
    """A manifest set a rule must (``failing``) or must not (passing) fire on.

    ``files`` maps file names to YAML text; ``expect`` lists the findings of this rule the example
    produces, as ``"file:line:col"`` (or ``"line:col"`` when there is one file). ``config`` holds
    configuration overrides (the same keys as ``[tool.calico-audit]``).
    """

    title: str
    files: Mapping[str, str]
    expect: tuple[str, ...] = ()
    config: Mapping[str, object] = field(default_factory=dict)

    @property
    def failing(self) -> bool:
        return bool(self.expect)


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    title: str
    severity: Severity
    rationale: str  # why it bites
    remediation: str  # how to fix, quoting the guide step where there is one
    examples: tuple[Example, ...]
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
    if not any(e.failing for e in rule.examples) or all(e.failing for e in rule.examples):
        problems.append("needs at least one failing and one passing example")
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
