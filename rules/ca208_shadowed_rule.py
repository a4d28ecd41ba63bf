"""CA208 shadowed-rule: a rule that never decides, because earlier rules decide all its traffic."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import NamedTuple

from auditor.addrset import AddressSet
from auditor.api import Context, Issue, Related, Rule, Severity, Witness
from auditor.model import EntityRule, Policy, PolicyRule
from auditor.packet.questions import Questions
from auditor.ports import ALL_PORTS, PortRange, PortSet

RULE = Rule(
    id="CA208",
    name="shadowed-rule",
    title="A rule that never decides: earlier rules decide all of its traffic, or its direction is not in types",
    severity=Severity.WARNING,
    rationale=(
        "Calico evaluates tiers by order, policies by `order` (missing = last) then name, and rules in list "
        "order; the first Allow or Deny is final. A rule whose whole match is already decided by an earlier rule "
        "never takes effect: a Deny placed after a broader Allow protects nothing, an Allow after a broader Deny "
        "admits nothing. Likewise, when `types` is explicit, rules of a direction it does not list are never "
        "evaluated."
    ),
    remediation=(
        "Reorder (give the specific rule or policy a lower `order`), narrow the earlier rule, or delete the dead "
        "rule. For rules ignored by `types`, add the direction to `types` or remove the rules."
    ),
    references=("https://docs.tigera.io/calico/latest/network-policy/policy-tiers/tiered-policy",),
    tags=("hygiene",),
)


#: Rule pairs per chain (each rule with every earlier one, its own policy's included): enough for any
#: hand-written policy set, and a bound on the quadratic work a generated (or hostile) policy with
#: thousands of rules would cost. The index (:class:`_Earlier`) compares only some of them.
MAX_PAIRS = 200_000
Nets = tuple[AddressSet, AddressSet]  # the IPv4 and IPv6 addresses of a rule's nets
_NETS: dict[int, tuple[object, Nets | None]] = {}


def _nets(refs: Iterable[object]) -> Nets | None:
    """The addresses of ``nets`` as address sets, per family (cached: compared once per rule pair);
    None when an entry is invalid (not comparable)."""
    cached = _NETS.get(id(refs))
    if cached is not None and cached[0] is refs:
        return cached[1]
    values = [r.value for r in refs if r.value is not None]  # type: ignore[attr-defined]
    result = None
    if len(values) == len(list(refs)):
        result = (AddressSet.of(4, values), AddressSet.of(6, values))
    _NETS[id(refs)] = (refs, result)
    return result


def _subset(inner: Nets, outer: Nets) -> bool:
    return inner[0].issubset(outer[0]) and inner[1].issubset(outer[1])


def _overlaps(a: Nets, b: Nets) -> bool:
    return not (a[0].isdisjoint(b[0]) and a[1].isdisjoint(b[1]))


def _ports(refs: Sequence[object]) -> tuple[PortSet, frozenset[str]] | None:
    numeric, named = [], set()
    for ref in refs:
        value = ref.value  # type: ignore[attr-defined]
        if isinstance(value, PortRange):
            numeric.append(value)
        elif isinstance(value, str):
            named.add(value)
        else:
            return None
    return PortSet.of(*numeric), frozenset(named)


def _entity_covers(e: EntityRule, r: EntityRule) -> bool:
    """Every packet end that ``r`` matches is also matched by ``e`` (conservative: False when unsure)."""
    if e.services and e.services != r.services:
        return False
    if e.nets:
        mine, theirs = _nets(e.nets), _nets(r.nets)
        if mine is None or theirs is None or not r.nets or not _subset(theirs, mine):
            return False
    if e.not_nets:
        mine = _nets(e.not_nets)
        theirs_in = _nets(r.nets) if r.nets else None
        if mine is None or theirs_in is None or _overlaps(theirs_in, mine):
            return False
    if e.effective_selector is not None and str(e.effective_selector) != str(r.effective_selector):
        return False
    if e.effective_not_selector is not None and str(e.effective_not_selector) != str(r.effective_not_selector):
        return False
    if e.ports:
        mine_p, theirs_p = _ports(e.ports), _ports(r.ports)
        if mine_p is None or theirs_p is None or not r.ports:
            return False
        if not mine_p[0].issuperset(theirs_p[0]) or not theirs_p[1] <= mine_p[1]:
            return False
    if e.not_ports:
        mine_n = _ports(e.not_ports)
        theirs_p = _ports(r.ports) if r.ports else (ALL_PORTS, frozenset())
        if mine_n is None or theirs_p is None or mine_n[1] or theirs_p[1] or (mine_n[0] & theirs_p[0]):
            return False
    return True


def covers(e: PolicyRule, r: PolicyRule) -> bool:
    """Rule ``e`` matches every packet rule ``r`` matches."""
    if e.has_http or (e.icmp is not None and e.icmp != r.icmp):
        return False
    if e.protocol is not None and (r.protocol is None or e.protocol.value != r.protocol.value):
        return False
    if e.not_protocol is not None and not (
        (r.protocol is not None and r.protocol.value != e.not_protocol.value)
        or (r.not_protocol is not None and r.not_protocol.value == e.not_protocol.value)
    ):
        return False
    if e.ip_version is not None and e.ip_version != r.ip_version:
        return False
    return _entity_covers(e.source, r.source) and _entity_covers(e.destination, r.destination)


_ABSENT = object()  # the protocol of a rule that sets none: equal to none a covering rule requires


class _Shape(NamedTuple):
    """What :func:`covers` requires to be equal, as keys (computed once per rule): a necessary condition."""

    has: tuple[object, ...]  # protocol, IP version, source selector and not-selector, the same of destination
    pins: tuple[int, ...]  # the fields of ``has`` this rule sets: a rule it covers has the same values there
    points: tuple[tuple[int, int] | None, ...]  # per side, an address of its nets (version, integer), or None
    filed: tuple[tuple[int, int, int, int], ...]  # (side, version, span, first) per net of one side, or ()


_SHAPES: dict[int, tuple[PolicyRule, _Shape]] = {}


def _shape(rule: PolicyRule) -> _Shape:
    cached = _SHAPES.get(id(rule))
    if cached is not None and cached[0] is rule:
        return cached[1]
    src, dst = rule.source, rule.destination
    fields = (rule.protocol, rule.ip_version, src.effective_selector, src.effective_not_selector)
    fields += (dst.effective_selector, dst.effective_not_selector)
    has = (rule.protocol.value if rule.protocol is not None else _ABSENT, rule.ip_version, *map(str, fields[2:]))
    # Nets as CIDR ranges (version, first, last) when all are valid. A rule that covers ours holds our first
    # address in one of its nets on that side: each rule is filed under the CIDRs of one side (the narrower).
    nets = [e.net_ranges if e.nets and len(e.net_ranges) == len(e.nets) else () for e in (src, dst)]
    sizes = [(sum(last - first for _, first, last in ranges), side) for side, ranges in enumerate(nets) if ranges]
    side = min(sizes)[1] if sizes else 0
    shape = _Shape(
        has=has,
        pins=tuple(i for i, value in enumerate(fields) if value is not None),
        points=tuple(ranges[0][:2] if ranges else None for ranges in nets),
        filed=tuple((side, version, last - first, first) for version, first, last in nets[side]),
    )
    _SHAPES[id(rule)] = (rule, shape)
    return shape


#: Rules met along a chain before they are filed (:class:`_Earlier`): up to this many, each is compared.
FILE_AFTER = 16
_Filed = tuple[list[int], dict[tuple[int, int, int], dict[int, list[int]]]]


class _Earlier:
    """The rules met so far along a chain, filed by what a later rule must have for them to cover it: the
    values of the fields they set (protocol, selectors, ...) and, for rules with nets, the CIDRs of one side.
    Asked about a rule, it returns those whose keys the rule meets: a chain costs about its length, not its square.
    """

    def __init__(self) -> None:
        self.rules: list[PolicyRule] = []
        # fields set -> their values -> (positions of rules without nets, (side, version, span) -> first -> positions)
        self.filed: dict[tuple[int, ...], dict[tuple[object, ...], _Filed]] = {}

    def add(self, rule: PolicyRule) -> None:
        self.rules.append(rule)
        if len(self.rules) > FILE_AFTER:
            for position in range(len(self.rules) - 1 if self.filed else 0, len(self.rules)):
                self._file(position)

    def _file(self, position: int) -> None:
        shape = _shape(self.rules[position])
        key = tuple(shape.has[i] for i in shape.pins)
        plain, by_net = self.filed.setdefault(shape.pins, {}).setdefault(key, ([], {}))
        if not shape.filed:
            plain.append(position)
        for side, version, span, first in shape.filed:
            by_net.setdefault((side, version, span), {}).setdefault(first, []).append(position)

    def candidates(self, rule: PolicyRule, own: int) -> list[PolicyRule]:
        """The rules filed so far that may cover ``rule``, in chain order but those from position ``own`` on
        (its own policy's) first."""
        if not self.filed:  # a short list: comparing with every rule costs less than filing them
            return self.rules[own:] + self.rules[:own]
        shape = _shape(rule)
        found: set[int] = set()
        for pins, by_value in self.filed.items():
            filed = by_value.get(tuple(map(shape.has.__getitem__, pins)))
            if filed is None:
                continue
            plain, by_net = filed
            found.update(plain)
            for (side, version, span), starts in by_net.items():
                point = shape.points[side]
                if point is not None and point[0] == version:
                    found.update(starts.get(point[1] - point[1] % (span + 1), ()))
        order = sorted(found)
        cut = bisect_left(order, own)
        return [self.rules[i] for i in order[cut:] + order[:cut]]


def _chains(q: Questions) -> Iterator[tuple[list[Policy], str]]:
    """Ordered policy lists that apply together to one endpoint, per stage and direction."""
    ev = q.ev
    seen: set[tuple[int, ...]] = set()
    for group in ev.hep_groups:
        hep = group[0]
        for policies, directions in (
            (ev.untracked_for(hep), ("ingress", "egress")),
            (ev.prednat_for(hep), ("ingress",)),
            (ev.normal_for(hep), ("ingress", "egress")),
        ):
            yield from _unique(ev.model.ordered(policies), directions, seen)
    for workload in ev.model.workloads:
        yield from _unique(ev.model.ordered(ev.policies_for_workload(workload)), ("ingress", "egress"), seen)
    # Endpoints the repository does not hold: policies with the same selector apply to the same ones.
    by_selector: dict[tuple[str, str], list[Policy]] = {}
    for policy in ev.model.policies:
        if not policy.enforced or policy.effective_selector is None:
            continue
        host = policy.can_select_host_endpoints and bool(ev.heps_of(policy))
        pod = bool(q.pods.workloads_of(policy))  # (what the model's label index answers, shared with CA406)
        if host or pod:
            continue
        stage = "untracked" if policy.do_not_track else "pre-DNAT" if policy.pre_dnat else "normal"
        by_selector.setdefault((stage, str(policy.effective_selector)), []).append(policy)
    for policies in by_selector.values():
        yield from _unique(ev.model.ordered(policies), ("ingress", "egress"), seen)


def _unique(
    policies: list[Policy], directions: Sequence[str], seen: set[tuple[int, ...]]
) -> Iterator[tuple[list[Policy], str]]:
    for direction in directions:
        chain = [p for p in policies if p.governs(direction)]
        key = (hash(direction), *map(id, chain))
        if chain and key not in seen:
            seen.add(key)
            yield chain, direction


def _shadowing(
    chain: list[Policy],
    direction: str,
    budget: list[int] | None = None,
    wanted: Callable[[Policy], bool] | None = None,
) -> dict[int, PolicyRule]:
    """For each rule of the chain whose traffic is fully decided earlier: the rule that decides it.

    ``budget`` (a one-item list) counts down the pairs of a rule with an earlier one (as if each were
    compared); at zero the rest is not checked. ``wanted``: only the rules of these policies are looked
    up (the others are still earlier rules of the later ones, and still counted).
    """
    out: dict[int, PolicyRule] = {}
    earlier = _Earlier()
    budget = [MAX_PAIRS] if budget is None else budget
    for policy in chain:
        start = len(earlier.rules)  # this policy's own earlier rules come first: they hold wherever it applies
        identity = policy.identity
        for rule in policy.ingress if direction == "ingress" else policy.egress:
            if rule.action not in ("Allow", "Deny", "Pass"):
                continue
            budget[0] -= len(earlier.rules)
            if budget[0] < 0:
                return out
            for prior in earlier.candidates(rule, start) if wanted is None or wanted(policy) else ():
                if prior.policy is not policy and prior.policy.identity == identity:
                    continue  # two definitions of one policy: CA006's finding, not a shadow
                final = prior.action in ("Allow", "Deny") or prior.policy.tier == policy.tier
                if final and covers(prior, rule):
                    out[id(rule)] = prior
                    break
            earlier.add(rule)
    return out


def _witness(
    q: Questions, chain: list[Policy], direction: str, rule: PolicyRule, prior: PolicyRule
) -> Witness | None:
    """A packet that ``rule`` matches, run through the chain: the earlier rule decides it."""
    pkt = q.packet_matching(rule, direction)
    if pkt is None:
        return None
    if prior.policy is rule.policy:
        chain = [rule.policy]  # wherever the policy applies, its own earlier rule comes first
    hosts = any(p.can_select_host_endpoints and q.ev.heps_of(p) for p in chain)
    pods = not hosts and any(q.pods.workloads_of(p) for p in chain)
    endpoint = f"endpoints selected by {rule.policy.display}"
    verdict, witness = q.chain_decision(chain, direction, pkt, _stage(rule.policy, hosts, pods), endpoint)
    step = verdict.decisive
    if step is None or step.rule is not prior:
        return None
    return witness


def _stage(policy: Policy, hosts: bool, pods: bool) -> str:
    if policy.do_not_track:
        return "untracked"
    if policy.pre_dnat:
        return "pre-DNAT"
    return "host" if hosts else "pod" if pods else "policy"


def _selects_all_of(prior: Policy, policy: Policy) -> bool:
    """``prior`` applies to every endpoint ``policy`` applies to, in the repository or not (same stage)."""
    if prior is policy:
        return True
    if (prior.pre_dnat, prior.do_not_track) != (policy.pre_dnat, policy.do_not_track):
        return False
    mine, theirs = prior.effective_selector, policy.effective_selector
    if mine is None or theirs is None:
        return False
    return str(mine) == str(theirs) or (mine.is_all() and prior.is_global)


def check(ctx: Context) -> Iterator[Issue]:
    q = ctx.packet
    # Per rule, in the order first met: the earlier rule that decides it in the first chain it is in, or None
    # once some chain holds it undecided, or decided only for the endpoints the repository holds (others may
    # still meet this rule).
    verdicts: dict[int, tuple[PolicyRule, PolicyRule, list[Policy], str] | None] = {}
    _NETS.clear()
    _SHAPES.clear()
    for chain, direction in _chains(q):
        if not ctx.in_focus(*chain):
            continue  # findings are placed at the shadowed rule: a chain decides only about its own rules
        budget = [MAX_PAIRS]
        shadowed = _shadowing(chain, direction, budget, None if ctx.focus is None else ctx.in_focus)
        if budget[0] < 0:
            ctx.notes.append(
                f"CA208: {direction} rules of {chain[0].display} and the policies after it are too many to compare "
                f"pairwise (more than {MAX_PAIRS:,} pairs); later rules were not checked for shadowing"
            )
        for policy in chain:
            for rule in policy.ingress if direction == "ingress" else policy.egress:
                prior = shadowed.get(id(rule))
                if prior is None or not _selects_all_of(prior.policy, rule.policy):
                    verdicts[id(rule)] = None
                else:
                    verdicts.setdefault(id(rule), (rule, prior, chain, direction))
    for verdict in verdicts.values():
        if verdict is None:
            continue
        rule, prior, chain, direction = verdict
        witness = _witness(q, chain, direction, rule, prior)
        if witness is None:
            continue  # no packet of the rule's shows the earlier rule deciding it
        span = prior.ptr().doc.locate(prior.ptr().path)
        where = f"{prior.policy.file}:{span.line}"
        same = prior.policy is rule.policy
        verb = {"Allow": "allows", "Deny": "denies", "Pass": "passes"}.get(prior.action, prior.action.lower())
        outcome = (
            f"already {verb} it, so this rule never changes the outcome"
            if prior.action == rule.action
            else f"decides it first ({prior.action})"
        )
        yield Issue(
            message=(
                f"{rule.policy.display} {rule.label} ({rule.action}) never decides: "
                f"{'its earlier rule' if same else prior.policy.display} {prior.label} ({prior.action}, {where}) "
                f"matches all of its traffic and {outcome}"
            ),
            fix="Reorder the rules (or the policies' `order`), narrow the earlier rule, or remove this one.",
            at=rule.ptr(),
            related=(Related(prior.ptr(), f"decides first: {prior.action}"),),
            identity=rule.policy.identity,
            key=rule.label,
            witness=witness,
        )
    for policy in ctx.focused(ctx.model.policies):
        if not policy.types_explicit:
            continue
        for direction in ("ingress", "egress"):
            if policy.governs(direction) or not (policy.ingress if direction == "ingress" else policy.egress):
                continue
            listed = ", ".join(policy.types) or "nothing"
            yield Issue(
                message=(
                    f"{policy.display} has {direction} rules but `types` lists only {listed}: Calico never "
                    "evaluates them"
                ),
                fix=f"Add `{direction.capitalize()}` to `types`, or remove the {direction} rules.",
                at=policy.ptr("spec", direction, on_key=True),
                identity=policy.identity,
                key=f"types/{direction}",
            )
