"""The rule catalog: every rule is one module under ``rules/`` (shipped as ``auditor.rules``).

A rule module defines ``RULE = Rule(...)`` (ID, name, title, severity, rationale, remediation,
references and examples) and a ``check(ctx)`` function yielding :class:`~auditor.findings.Issue`
objects. The catalog is discovered by importing those modules; nothing else lists the rules, and
the console, ``--list-rules``, ``--explain``, SARIF and the generated docs all read it from here.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from auditor.findings import Issue, Severity

if TYPE_CHECKING:
    from auditor.engine import Context

RULE_ID_RE = re.compile(r"^CA\d{3}$")
RULE_NAME_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
DOCS_URL = "https://github.com/calico-audit/calico-audit/blob/main/docs/rules.md"

Check = Callable[["Context"], Iterable[Issue]]


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
    check: Check | None = field(default=None, compare=False, repr=False)

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
        if check is None:
            raise RuntimeError(f"rule module {info.name} has no check() function")
        _validate(rule, info.name)
        for key in (rule.id, rule.name):
            if key in seen:
                raise RuntimeError(f"{key} is defined twice ({seen[key]} and {info.name})")
            seen[key] = info.name
        object.__setattr__(rule, "check", check)
        rules.append(rule)
    return tuple(sorted(rules, key=lambda r: r.id))


def find(key: str) -> Rule | None:
    """A rule by ID (case-insensitive) or name."""
    key = key.strip()
    for rule in all_rules():
        if rule.id == key.upper() or rule.name == key.lower():
            return rule
    return None


def matches(rule: Rule, selector: str) -> bool:
    """``selector`` is an ID, a name, an ID prefix (``CA2``) or ``ALL``."""
    sel = selector.strip()
    if not sel:
        return False
    if sel.upper() == "ALL":
        return True
    return rule.id.startswith(sel.upper()) or rule.name == sel.lower()


def is_known_selector(selector: str) -> bool:
    return any(matches(rule, selector) for rule in all_rules())
