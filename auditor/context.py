"""What a rule's ``check`` receives: the run's input, model, configuration and packet-path questions."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from auditor.config import Config
from auditor.findings import SuppressionProblem
from auditor.load import LoadResult
from auditor.model import Model
from auditor.packet.questions import Questions


@dataclass
class Context:
    """One cluster's part of a run, as rules see it. ``packet`` is built on first use and shared by every
    rule of the run; ``notes`` collects run notes; ``suppression_problems`` is filled in before the late
    rules (CA008) run."""

    load: LoadResult
    model: Model
    config: Config
    notes: list[str] = field(default_factory=list)
    suppression_problems: list[SuppressionProblem] = field(default_factory=list)

    @cached_property
    def packet(self) -> Questions:
        """The packet-path questions of this model (built on first use)."""
        return Questions(self.model, self.config)
