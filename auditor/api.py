"""The rule contract, in one import: what a module under ``rules/`` needs to exist.

A rule module writes ``from auditor.api import Context, Example, Issue, Rule, Severity`` (and whatever
else of this list it uses) and nothing else from the core: the catalog (:class:`Rule`, :class:`SubCheck`
for per-kind checks, :class:`Example`), what ``check`` receives (:class:`Context`, its :class:`Config`)
and what it yields (:class:`Issue` with its places, :class:`Related` locations, a :class:`Witness` of
:class:`FlowStep` s, an :class:`AutoFix` of :class:`Edit` s). Domain modules (``auditor.model``,
``auditor.ports``, ``auditor.packet.questions``, ``auditor.wording`` ...) are imported as they are.
"""

from __future__ import annotations

from auditor.catalog import Example, Rule, SubCheck
from auditor.config import Config
from auditor.context import Context
from auditor.engine import in_string, resolve
from auditor.findings import (
    AutoFix,
    Edit,
    FlowStep,
    Issue,
    Location,
    PathT,
    Pointer,
    Related,
    Severity,
    Span,
    Target,
    Witness,
    format_path,
)

__all__ = [
    "AutoFix",
    "Config",
    "Context",
    "Edit",
    "Example",
    "FlowStep",
    "Issue",
    "Location",
    "PathT",
    "Pointer",
    "Related",
    "Rule",
    "Severity",
    "Span",
    "SubCheck",
    "Target",
    "Witness",
    "format_path",
    "in_string",
    "resolve",
]

# The modules a rule module takes the contract from this one instead of (tests/test_rule_api.py).
CONTRACT_MODULES = ("auditor.catalog", "auditor.config", "auditor.context", "auditor.engine", "auditor.findings")
