"""CA208 shadowed-rule: a rule that never decides, because earlier rules decide all its traffic."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from auditor.addrset import AddressSet
from auditor.api import Context, Issue, Related, Rule, Severity, Witness
from auditor.model import EntityRule, Policy, PolicyRule
from auditor.packet.questions import Evaluator, Questions
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


#: Rule pairs compared per chain: enough for any hand-written policy set, and a bound on the
#: quadratic work a generated (or hostile) policy with thousands of rules would cost.
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


def _chains(ev: Evaluator) -> Iterator[tuple[list[Policy], str]]:
    """Ordered policy lists that apply together to one endpoint, per stage and direction."""
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
        pod = bool(ev.model.workloads_matching(policy.effective_selector))
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


def _shadowing(chain: list[Policy], direction: str, budget: list[int] | None = None) -> dict[int, PolicyRule]:
    """For each rule of the chain whose traffic is fully decided earlier: the rule that decides it.

    ``budget`` (a one-item list) counts down the pairs compared; at zero the rest is not checked.
    """
    out: dict[int, PolicyRule] = {}
    earlier: list[PolicyRule] = []
    budget = [MAX_PAIRS] if budget is None else budget
    for policy in chain:
        own: list[PolicyRule] = []  # earlier rules of this policy: checked first, they hold wherever it applies
        for rule in policy.ingress if direction == "ingress" else policy.egress:
            if rule.action not in ("Allow", "Deny", "Pass"):
                continue
            budget[0] -= len(earlier)
            if budget[0] < 0:
                return out
            for prior in (*own, *earlier):
                if prior.policy is not policy and prior.policy.identity == policy.identity:
                    continue  # two definitions of one policy: CA006's finding, not a shadow
                final = prior.action in ("Allow", "Deny") or prior.policy.tier == policy.tier
                if final and covers(prior, rule):
                    out[id(rule)] = prior
                    break
            own.append(rule)
        earlier.extend(own)
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
    ev = q.ev
    verdicts: dict[int, list[PolicyRule | None]] = {}
    rules: dict[int, PolicyRule] = {}
    first_chain: dict[int, tuple[list[Policy], str]] = {}
    _NETS.clear()
    for chain, direction in _chains(ev):
        if not ctx.in_focus(*chain):
            continue  # findings are placed at the shadowed rule: a chain decides only about its own rules
        budget = [MAX_PAIRS]
        shadowed = _shadowing(chain, direction, budget)
        if budget[0] < 0:
            ctx.notes.append(
                f"CA208: {direction} rules of {chain[0].display} and the policies after it are too many to compare "
                f"pairwise (more than {MAX_PAIRS:,} pairs); later rules were not checked for shadowing"
            )
        for policy in chain:
            for rule in policy.ingress if direction == "ingress" else policy.egress:
                rules[id(rule)] = rule
                verdicts.setdefault(id(rule), []).append(shadowed.get(id(rule)))
                first_chain.setdefault(id(rule), (chain, direction))
    for key, found in verdicts.items():
        if not found or any(f is None for f in found):
            continue
        rule, prior = rules[key], found[0]
        assert prior is not None
        if not all(f is not None and _selects_all_of(f.policy, rule.policy) for f in found):
            continue  # shadowed only for the endpoints the repository holds; others may still meet this rule
        chain, direction = first_chain[key]
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
