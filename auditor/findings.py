"""Findings: what the engine reports, with severities and exact places.

Rules never build these directly: a rule yields :class:`Issue` objects (what is wrong and where in
the data); the engine stamps the rule ID, severity, file, line and column and produces
:class:`Finding` objects, which every reporter consumes.
"""

from __future__ import annotations

import enum
import shlex
from dataclasses import dataclass, field
from typing import Any, Protocol

PathT = tuple[str | int, ...]


class Severity(enum.IntEnum):
    """Finding severity; the integer order is the order of importance."""

    NOTE = 1
    WARNING = 2
    ERROR = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown severity {text!r} (expected error, warning or note)") from None


@dataclass(frozen=True, slots=True, order=True)
class Span:
    """A 1-based region of a text file; ``end_column`` is the column just after the last character."""

    line: int
    column: int
    end_line: int
    end_column: int

    @classmethod
    def point(cls, line: int, column: int, width: int = 1) -> Span:
        return cls(line, column, line, column + max(width, 1))


@dataclass(frozen=True, slots=True)
class Location:
    """A place in a file, as shown to the user."""

    path: str  # display path: relative to the working directory when below it, with "/"
    span: Span
    description: str = ""

    def __str__(self) -> str:
        return f"{self.path}:{self.span.line}:{self.span.column}"


class Document(Protocol):
    """What a place needs of a parsed document (:class:`auditor.load.Document` is one): its file, its
    index in the file, its data and the positions of its nodes."""

    file: Any
    index: int
    data: Any

    def locate(self, path: PathT, on_key: bool = False) -> Span: ...


@dataclass(frozen=True, slots=True)
class Pointer:
    """A node inside a parsed document, addressed by its path from the document root."""

    doc: Document
    path: PathT
    on_key: bool = False


def format_path(path: PathT) -> str:
    """Render a data path the way users read it: ``spec.ingress[0].source.nets[1]``."""
    out: list[str] = []
    for part in path:
        if isinstance(part, int):
            out.append(f"[{part}]")
        else:
            text = str(part)
            plain = text.replace("-", "").replace("_", "").isalnum()
            out.append(("." if out else "") + text if plain else f"[{text!r}]")
    return "".join(out)


Target = Pointer | Location


@dataclass(frozen=True, slots=True)
class Related:
    """A secondary place that explains a finding (the Service, the policy, the HostEndpoint)."""

    at: Target
    message: str


@dataclass(frozen=True, slots=True)
class FlowStep:
    """One step of a witness flow: a stage of the packet path and what decided it there."""

    stage: str  # "host endpoint", "pre-DNAT", "DNAT", "forward", "SNAT", "pod", "host", ...
    outcome: str  # allow, deny, pass, no-match, skip, info
    text: str
    at: Target | None = None  # the policy rule, Service or HostEndpoint of this step (a Location once stamped)


@dataclass(frozen=True, slots=True)
class Witness:
    """The concrete flow that backs a semantic finding, and the evaluator's verdict on it.

    ``allowed`` is the verdict the finding claims (True: the flow gets through; False: it is dropped).
    ``kind`` is ``flow`` (a packet from ``source`` to ``destination:port/protocol`` through host endpoint
    ``via``, replayable with ``audit trace``) or ``chain`` (a packet that one policy chain decides before a
    later rule sees it, for shadowed rules; ``target`` names the endpoint whose chain it is).
    """

    kind: str
    allowed: bool
    source: str
    destination: str
    port: int
    protocol: str
    steps: tuple[FlowStep, ...]
    via: str = ""  # host endpoint name ("" when none polices the flow)
    direction: str = "ingress"  # "egress": sent by the host behind ``via``
    mode: str = ""  # "cluster", "local", "host", "forward", "pod"
    target: str = ""  # backend pod, host or endpoint the flow ends at
    service: str = ""  # "namespace/name" when ``destination`` stands for that Service's auto-assigned cluster IP
    assumptions: tuple[str, ...] = ()

    @property
    def flow_text(self) -> str:
        dst = f"[{self.destination}]" if ":" in self.destination else self.destination
        if self.protocol not in ("TCP", "UDP", "SCTP"):
            return f"{self.source} -> {dst} ({self.protocol})"
        return f"{self.source} -> {dst}:{self.port}/{self.protocol}"

    @property
    def command(self) -> str:
        """The ``audit trace`` command that shows this flow (empty for chain witnesses)."""
        if self.kind != "flow":
            return ""
        dst = f"[{self.destination}]" if ":" in self.destination else self.destination
        if self.direction == "egress":
            cmd = f"audit trace --egress --to {dst}:{self.port}/{self.protocol}"
        else:
            cmd = f"audit trace --from {self.source} --to {dst}:{self.port}/{self.protocol}"
        if self.service:
            cmd += f" --service {shlex.quote(self.service)}"
        if self.via:
            cmd += f" --via {shlex.quote(self.via)}"
        return cmd

    @property
    def verdict_text(self) -> str:
        return "ALLOWED" if self.allowed else "DENIED"

    @property
    def summary(self) -> str:
        """One line: the flow, where it is decided, and the verdict."""
        if self.kind == "flow":
            return f"{self.flow_text} via {self.via or '(no HostEndpoint)'}: {self.verdict_text}"
        where = f"{self.direction} of {self.target}" if self.target else self.direction
        return f"{self.flow_text} ({where}, {self.mode} stage): {self.verdict_text}"

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "kind": self.kind,
            "verdict": "allowed" if self.allowed else "denied",
            "source": self.source,
            "destination": self.destination,
            "port": self.port,
            "protocol": self.protocol,
            "direction": self.direction,
            "via": self.via,
            "mode": self.mode,
            "target": self.target,
            "service": self.service,
            "assumptions": list(self.assumptions),
            "steps": [
                {"stage": s.stage, "outcome": s.outcome, "text": s.text}
                | ({"location": str(s.at)} if isinstance(s.at, Location) else {})
                for s in self.steps
            ],
        }
        if self.command:
            out["command"] = self.command
        return out


@dataclass(frozen=True, slots=True)
class Edit:
    """One change of an :class:`AutoFix`, in data terms (``auditor.fix`` turns it into a text edit).

    ``op`` is one of:

    - ``set``: the scalar at ``at`` becomes ``value`` (its quoting kept; ``quote`` forces quotes);
    - ``add-key``: the mapping at ``at`` gets the entry ``key: value`` after its entry ``after`` (its last
      entry when ``after`` is empty);
    - ``quote``: the scalar at ``at`` (a boolean or number as written) becomes the string it is written as;
    - ``append-item``: the list at ``at`` gets ``value`` as its last item;
    - ``split-list``: the items of the list at ``at`` from ``index`` on move to a new sibling key ``key``;
    - ``add-document``: the mapping ``value`` becomes a new YAML document after the one of ``at``.
    """

    op: str
    at: Pointer
    value: object = None
    key: str = ""
    index: int = 0
    quote: bool = False
    after: str = ""


@dataclass(frozen=True, slots=True)
class AutoFix:
    """What ``audit --fix`` changes for a finding. ``safe`` fixes only remove the finding; unsafe ones
    (``--unsafe-fixes``) change behaviour beyond it, such as a new deny policy."""

    description: str
    edits: tuple[Edit, ...]
    safe: bool = True


@dataclass(frozen=True, slots=True)
class Issue:
    """What a rule reports: the message and where, in data terms.

    ``identity`` names the resource for fingerprints (``Kind/namespace/name``); ``key`` tells apart
    several issues of one rule on the same field. Both are filled in from the pointer when empty.
    """

    message: str
    at: Target
    related: tuple[Related, ...] = ()
    identity: str = ""
    key: str = ""
    severity: Severity | None = None  # overrides the rule's severity (for example when a default was assumed)
    witness: Witness | None = None  # the flow that shows the claim (semantic findings)
    fix: str = ""  # what the user should do, one sentence (shown apart from the message)
    autofix: AutoFix | None = None  # what `audit --fix` would change


@dataclass(frozen=True, slots=True)
class Suppression:
    """Why a finding is not counted (an inline comment, an annotation or the baseline)."""

    kind: str  # "inSource" or "external"
    justification: str
    source: str  # "comment", "annotation", "file", "baseline"


@dataclass(frozen=True, slots=True)
class SuppressionProblem:
    """A suppression that names an unknown rule, gives no reason or covers no finding (CA008 reports it)."""

    message: str
    location: Location
    key: str
    fix: str = ""  # what to do, one sentence (CA008 shows it apart from the message)


@dataclass(slots=True)
class Finding:
    """A rule violation, fully placed and stamped by the engine."""

    rule_id: str
    rule_name: str
    severity: Severity
    message: str
    location: Location
    fingerprint: str
    field_path: str = ""
    identity: str = ""
    related: tuple[tuple[Location, str], ...] = ()
    suppression: Suppression | None = None
    internal_error: bool = False
    extra: dict[str, object] = field(default_factory=dict)
    witness: Witness | None = None  # steps placed (``FlowStep.at`` is a Location)
    # The cluster the finding is about, when ``clusters`` is configured ("" otherwise); a finding on
    # a shared file that holds alike in several clusters is reported once and ``clusters`` names them all.
    cluster: str = ""
    clusters: tuple[str, ...] = ()
    fix: str = ""  # what the user should do (the issue's fix text)
    autofix: AutoFix | None = None  # the rule's fix, still in data terms (``auditor.fix.resolve`` places it)

    def sort_key(self) -> tuple[str, int, int, str, str]:
        s = self.location.span
        return (self.location.path, s.line, s.column, self.rule_id, self.message)
