"""What a rule's ``check`` receives: the run's input, model, configuration and packet-path questions."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Protocol, TypeVar

from auditor.config import Config
from auditor.findings import SuppressionProblem
from auditor.load import LoadResult, RawResource
from auditor.model import Model
from auditor.packet.questions import Questions


class Placed(Protocol):
    """Anything a finding can be about: a model resource (its ``raw.doc`` is where it is written)."""

    @property
    def raw(self) -> RawResource: ...


P = TypeVar("P", bound=Placed)


@dataclass
class Context:
    """One cluster's part of a run, as rules see it. ``packet`` is built on first use and shared by every
    rule of the run; ``notes`` collects run notes; ``suppression_problems`` is filled in before the late
    rules (CA008) run.

    ``focus``: the files whose findings are reported (``audit --pre-commit`` reports the changed files
    only), or None for all. A rule may skip a subject when :meth:`in_focus` says none of the files its
    findings would be placed in is reported; findings elsewhere are dropped by the caller anyway, so
    skipping only saves time (``tests/test_focus.py`` checks every rule's findings agree with a full run's).
    """

    load: LoadResult
    model: Model
    config: Config
    notes: list[str] = field(default_factory=list)
    suppression_problems: list[SuppressionProblem] = field(default_factory=list)
    focus: frozenset[str] | None = None

    def in_focus(self, *subjects: Placed) -> bool:
        """True when a finding placed in any of ``subjects`` can be reported: always without a focus;
        for a rendered document (Helm, kustomize) always too, as its fields are placed at their
        sources, which may be several files."""
        focus = self.focus
        if focus is None:
            return True
        for subject in subjects:
            doc = subject.raw.doc
            if doc.origin is not None or doc.file.path in focus:
                return True
        return False

    def any_in_focus(self, subjects: Iterable[Placed]) -> bool:
        """:meth:`in_focus` of a collection (a filter to hand to a question that iterates)."""
        return self.in_focus(*subjects)

    def focused(self, subjects: Iterable[P]) -> list[P]:
        """``subjects`` that :meth:`in_focus` keeps (all of them without a focus)."""
        if self.focus is None:
            return list(subjects)
        return [s for s in subjects if self.in_focus(s)]

    @cached_property
    def packet(self) -> Questions:
        """The packet-path questions of this model (built on first use)."""
        return Questions(self.model, self.config)
