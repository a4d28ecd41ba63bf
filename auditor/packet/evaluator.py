"""The one model of Calico's packet path for traffic that arrives from outside at a host endpoint.

Stages, in the order Felix and kube-proxy apply them (facts §3.2, §3.3, §4, §5):

1. the host endpoint the packet arrives through (no HostEndpoint at all: host traffic is not policed);
2. untracked (``doNotTrack``) then pre-DNAT (``preDNAT``) policies of that host endpoint, ingress only,
   by tier, order and name; Allow skips normal host policy, Deny is final, no match falls through
   (these stages have no default drop); failsafe ports bypass both;
3. DNAT by kube-proxy: cluster IP / external IP / load-balancer IP / node IP + nodePort to a backend pod
   and the **targetPort**; cluster mode SNATs the source to the node, local mode keeps the client;
4. normal host policy: traffic to the host itself (failsafe ports first, default deny once a
   HostEndpoint exists, profiles last) or forwarded traffic (policies with ``applyOnForward``,
   end-of-tier deny once any applies, allowed when none applies);
5. the destination pod's ingress policy (Calico and Kubernetes policies, tiers, ``Pass``, end-of-tier
   deny; no policy selecting the pod: allowed).

Addresses, ports and protocols are split into the few classes the policies distinguish
(:func:`address_classes`), so questions over ranges ("which sources reach 10.96.20.15:443/TCP?")
are answered exactly from one representative per class. Every verdict keeps the chain of stages,
policies and rules that decided it.
"""

from __future__ import annotations

import bisect
import enum
import ipaddress
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from itertools import pairwise
from typing import Any

from netaddr import IPAddress, IPNetwork, IPSet

from auditor.addrset import AddressSet
from auditor.config import Config
from auditor.findings import Pointer
from auditor.model import (
    EntityRule,
    HostEndpoint,
    Model,
    NetworkSet,
    Policy,
    PolicyRule,
    Service,
    ServicePort,
    Workload,
    implied_host_endpoint,
)
from auditor.model.facts import ClusterFacts, cluster_facts
from auditor.ports import PROTOCOL_NUMBERS, PortRange, protocol_name
from auditor.wording import who

TCP, UDP, SCTP, ICMP = 6, 17, 132, 1


class AddressKind(enum.StrEnum):
    """How a Service is reached at an address: the words messages and the exposure map show."""

    CLUSTER_IP = "cluster IP"
    EXTERNAL_IP = "external IP"
    LOAD_BALANCER_IP = "load-balancer IP"
    NODE_PORT = "node port"
ACTIONS = ("Allow", "Deny", "Pass", "Log")
NO_ADDRESSES = IPSet()  # a Peer's ``ips`` when its single address ``ip`` is known (never consulted then)
EPHEMERAL_PORT = 40000  # the client's source port for outside traffic (source ports are not known statically)


# ------------------------------------------------------------------------------------------
# Peers and packets
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Peer:
    """One end of a packet, as rules see it.

    ``ip`` is a representative address (exact for its class), or None when the address is only
    known to lie in ``ips`` (a pod's IP in the pool). ``labels`` are the label sets of the Calico
    objects this address belongs to (network sets, host endpoints through ``expectedIPs``, pods):
    rule selectors match through them.
    """

    kind: str  # "outside", "node", "pod", "host"
    ip: IPAddress | None
    ips: IPSet
    labels: tuple[Mapping[str, str], ...] = ()
    workload: Workload | None = None
    host_endpoint: HostEndpoint | None = None
    text: str = ""

    def __str__(self) -> str:
        return self.text or (str(self.ip) if self.ip is not None else self.kind)


@dataclass(frozen=True)
class Packet:
    src: Peer
    dst: Peer
    port: int
    protocol: int
    src_port: int = EPHEMERAL_PORT


@dataclass
class Step:
    """One stage of a verdict: what happened and which policy/rule decided it."""

    stage: str
    outcome: str  # allow, deny, pass, no-match, skip, info
    text: str
    policy: Policy | None = None
    rule: PolicyRule | None = None
    where: Pointer | None = None  # the HostEndpoint, Service or workload of a step no rule decides

    @property
    def at(self) -> Pointer | None:
        if self.rule is not None:
            return self.rule.ptr()
        if self.policy is not None:
            return self.policy.ptr("metadata", "name")
        return self.where

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"stage": self.stage, "outcome": self.outcome, "text": self.text}
        if self.policy is not None:
            out["policy"] = self.policy.identity
        if self.rule is not None:
            out["rule"] = self.rule.label
        at = self.at
        if at is not None:
            span = at.doc.locate(at.path, at.on_key)
            out["location"] = f"{at.doc.file.path}:{span.line}:{span.column}"
        return out


def _raw_at(where: Pointer) -> Any:
    from auditor.load import RawResource

    return RawResource(where.doc, (), where.doc.data if isinstance(where.doc.data, dict) else {})


def _label_key(labels: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


def _at(hep: HostEndpoint) -> Pointer:
    if hep.assumed and "selector" in hep.raw.data.get("spec", {}):
        return hep.ptr("spec", "selector")  # the host policy whose selector implies the endpoint
    return hep.ptr("metadata", "name")


def labels_satisfying(selector: Any) -> dict[str, str] | None:
    """A label set the selector matches, built from the labels it requires (None when none is found)."""
    required = selector.required_labels()
    if required is None:
        return None
    labels = {key: (min(values) if values else "assumed") if values is not None else "assumed"
              for key, values in required.items()}
    return labels if selector.matches(labels) else None


def _through(hep: HostEndpoint, verb: str) -> Step:
    return Step("host endpoint", "info", f"{verb} through HostEndpoint {hep.name}", where=_at(hep))


@dataclass
class Verdict:
    allowed: bool
    steps: list[Step] = field(default_factory=list)

    @property
    def admitted_before_dnat(self) -> bool:
        """A pre-DNAT or untracked Allow let the packet in (an allow-list rule, say)."""
        return any(s.stage in ("pre-DNAT", "untracked") and s.outcome == "allow" for s in self.steps)

    @property
    def decisive_stage(self) -> str:
        step = self.decisive
        return step.stage if step is not None else ""

    @property
    def decisive(self) -> Step | None:
        """The step that decided the verdict (the last allow/deny)."""
        for step in reversed(self.steps):
            if step.outcome in ("allow", "deny"):
                return step
        return None

    def key(self) -> tuple[Any, ...]:
        """Identity of the decision chain (to merge classes with the same story)."""
        return tuple((s.stage, s.outcome, s.policy, s.rule) for s in self.steps if s.outcome != "info")


@dataclass
class ChainResult:
    outcome: str  # "allow", "deny" or "none" (no policy decided; for normal chains no tier applied)
    steps: list[Step]
    applied: bool  # at least one tier had a policy applying


# ------------------------------------------------------------------------------------------
# Matching one rule
# ------------------------------------------------------------------------------------------


def _as_sets(nets: Sequence[IPNetwork], ips: IPSet | AddressSet) -> tuple[AddressSet | IPSet, AddressSet | IPSet]:
    if isinstance(ips, AddressSet):
        return ips, AddressSet.of(ips.version, nets)
    return ips, IPSet(nets)


def _in_intervals(intervals: Sequence[tuple[int, int, int]], ip: IPAddress) -> bool:
    version, value = ip.version, int(ip)
    return any(v == version and lo <= value <= hi for v, lo, hi in intervals)


def _nets_contain(nets: Sequence[IPNetwork], peer: Peer) -> bool:
    if peer.ip is not None:
        return any(peer.ip in net for net in nets)
    if not peer.ips:
        return False
    mine, covered = _as_sets(nets, peer.ips)
    return mine.issubset(covered)  # type: ignore[arg-type]


def _nets_touch(nets: Sequence[IPNetwork], peer: Peer) -> bool:
    if peer.ip is not None:
        return any(peer.ip in net for net in nets)
    mine, other = _as_sets(nets, peer.ips)
    return bool(mine & other)  # type: ignore[operator]


def _labels_match(selector: Any, peer: Peer) -> bool:
    return any(selector.matches(labels) for labels in peer.labels)


def _named_port(name: str, peer: Peer, protocol: int) -> int | None:
    proto = protocol_name(protocol)
    if peer.workload is not None:
        for port in peer.workload.container_ports:
            if port.name == name and port.protocol == proto:
                return port.port
    if peer.host_endpoint is not None:
        for pname, number, pproto in peer.host_endpoint.named_ports:
            if pname == name and pproto == proto:
                return number
    return None


def _port_in(refs: Sequence[Any], port: int, peer: Peer, protocol: int) -> bool:
    for ref in refs:
        value = ref.value
        if isinstance(value, PortRange):
            if value.lo <= port <= value.hi:
                return True
        elif isinstance(value, str) and _named_port(value, peer, protocol) == port:
            return True
    return False


def entity_matches(entity: EntityRule, peer: Peer, port: int, protocol: int, model: Model) -> bool:
    if entity.nets or entity.not_nets:
        if peer.ip is not None:
            if entity.nets and not _in_intervals(entity.net_ranges, peer.ip):
                return False
            if entity.not_nets and _in_intervals(entity.not_net_ranges, peer.ip):
                return False
        else:
            if entity.nets and not _nets_contain([r.value for r in entity.nets if r.value is not None], peer):
                return False
            if entity.not_nets and _nets_touch([r.value for r in entity.not_nets if r.value is not None], peer):
                return False
    if entity.effective_selector is not None and not _labels_match(entity.effective_selector, peer):
        return False
    if entity.effective_not_selector is not None and _labels_match(entity.effective_not_selector, peer):
        return False
    if entity.services:
        name = entity.services.get("name")
        namespace = entity.services.get("namespace")
        if peer.workload is None:
            return False
        services = [s for s in model.services if s.name == name and (namespace is None or s.namespace == namespace)]
        if not any(peer.workload in model.service_workloads(s) for s in services):
            return False
    if entity.ports and not _port_in(entity.ports, port, peer, protocol):
        return False
    return not (entity.not_ports and _port_in(entity.not_ports, port, peer, protocol))


def rule_matches(rule: PolicyRule, pkt: Packet, model: Model) -> bool:
    if rule.action not in ACTIONS:
        return False  # Calico rejects the policy (CA007); it never matches anything
    if rule.protocol is not None and rule.protocol.value != pkt.protocol:
        return False
    if rule.not_protocol is not None and rule.not_protocol.value == pkt.protocol:
        return False
    family = _family(pkt)
    if rule.ip_version is not None and family is not None and rule.ip_version != family:
        return False
    if not entity_matches(rule.source, pkt.src, pkt.src_port, pkt.protocol, model):
        return False
    return entity_matches(rule.destination, pkt.dst, pkt.port, pkt.protocol, model)


def _family(pkt: Packet) -> int | None:
    for peer in (pkt.src, pkt.dst):
        if peer.ip is not None:
            return int(peer.ip.version)
    return None


# ------------------------------------------------------------------------------------------
# Chains of tiers
# ------------------------------------------------------------------------------------------


class _PolicyIndex:
    """Policies filed under the rarest label their selectors require (Calico's label restrictions),
    so an endpoint is matched only against the policies that could select it; order is kept."""

    def __init__(self, policies: Sequence[Policy], endpoints: Iterable[Mapping[str, str]]) -> None:
        counts: dict[tuple[str, str | None], int] = {}
        for labels in endpoints:
            for item in labels.items():
                counts[item] = counts.get(item, 0) + 1
                counts[(item[0], None)] = counts.get((item[0], None), 0) + 1
        self.policies = list(policies)
        self.always: list[int] = []
        self.by_key: dict[str, list[int]] = {}
        self.by_pair: dict[tuple[str, str], list[int]] = {}
        for i, policy in enumerate(self.policies):
            assert policy.effective_selector is not None
            required = policy.effective_selector.required_labels()
            if required is None:
                continue  # matches nothing
            if not required:
                self.always.append(i)
                continue

            def cost(entry: tuple[str, frozenset[str] | None]) -> int:
                key, values = entry
                if values is None:
                    return counts.get((key, None), 0)
                return sum(counts.get((key, v), 0) for v in values)

            key, values = min(required.items(), key=cost)
            if values is None:
                self.by_key.setdefault(key, []).append(i)
            else:
                for value in values:
                    self.by_pair.setdefault((key, value), []).append(i)

    def candidates(self, labels: Mapping[str, str]) -> list[Policy]:
        found = set(self.always)
        for key, value in labels.items():
            found.update(self.by_key.get(key, ()))
            found.update(self.by_pair.get((key, value), ()))
        return [self.policies[i] for i in sorted(found)]


class ChainIndex:
    """One ordered policy chain (an endpoint's policies for one direction), indexed by destination.

    :meth:`evaluate` applies Calico's tier semantics (Allow/Deny final, Pass to the next tier,
    end-of-tier drop where a tier applies and the stage has one) but only looks at the rules that
    can match the packet's destination address: rules naming single addresses are found through a
    dictionary, the others (no destination nets, wider nets) are always candidates. Tiers are known
    in advance, so the end-of-tier drop still applies where a tier applies.
    """

    __slots__ = ("broad", "by_ip", "entries", "seen", "tiers")

    def __init__(self, policies: Sequence[Policy], direction: str, model: Model) -> None:
        self.tiers: list[tuple[str, Policy, str]] = []  # (tier, its last applying policy, default action)
        self.entries: list[tuple[int, Policy, PolicyRule]] = []  # (tier index, policy, rule) in order
        self.by_ip: dict[tuple[int, int], list[int]] = {}
        self.broad: list[int] = []
        self.seen: dict[tuple[int, int], list[tuple[int, Policy, PolicyRule]]] = {}
        for policy in policies:
            if not policy.enforced or not policy.governs(direction):
                continue
            if not self.tiers or self.tiers[-1][0] != policy.tier:
                self.tiers.append((policy.tier, policy, model.tier_default_action(policy.tier)))
            else:
                self.tiers[-1] = (policy.tier, policy, self.tiers[-1][2])
            for rule in policy.ingress if direction == "ingress" else policy.egress:
                if rule.action not in ("Allow", "Deny", "Pass"):
                    continue
                position = len(self.entries)
                self.entries.append((len(self.tiers) - 1, policy, rule))
                nets = [r.value for r in rule.destination.nets]
                if nets and all(n is not None and n.size == 1 for n in nets):
                    for net in nets:
                        self.by_ip.setdefault((net.version, int(net.first)), []).append(position)
                else:
                    self.broad.append(position)

    def candidates(self, pkt: Packet) -> list[tuple[int, Policy, PolicyRule]]:
        ip = pkt.dst.ip
        if ip is None:
            return self.entries
        key = (ip.version, int(ip))
        found = self.seen.get(key)
        if found is None:
            named = self.by_ip.get(key)
            positions = sorted(set(named) | set(self.broad)) if named else self.broad
            found = self.seen[key] = [self.entries[i] for i in positions]
        return found

    def evaluate(
        self,
        pkt: Packet,
        model: Model,
        stage: str,
        default_drop: bool,
        candidates: list[tuple[int, Policy, PolicyRule]] | None = None,
    ) -> ChainResult:
        steps: list[Step] = []
        if candidates is None:
            candidates = self.candidates(pkt)
        position = 0
        for tier_index, (tier, last, default_action) in enumerate(self.tiers):
            decided = ""
            while position < len(candidates) and candidates[position][0] == tier_index:
                _, policy, rule = candidates[position]
                position += 1
                if decided or not rule_matches(rule, pkt, model):
                    continue
                if rule.action == "Allow":
                    steps.append(Step(stage, "allow", f"{who(policy)} {rule.label} allows", policy, rule))
                    return ChainResult("allow", steps, True)
                if rule.action == "Deny":
                    steps.append(Step(stage, "deny", f"{who(policy)} {rule.label} denies", policy, rule))
                    return ChainResult("deny", steps, True)
                steps.append(Step(stage, "pass", f"{who(policy)} {rule.label} passes to the next tier", policy, rule))
                decided = "pass"
            if decided:
                continue
            if default_drop and default_action != "Pass":
                steps.append(
                    Step(
                        stage, "deny", f"no rule in tier {tier!r} matches: end-of-tier drop (after {who(last)})", last
                    )
                )
                return ChainResult("deny", steps, True)
            steps.append(Step(stage, "pass", f"no rule in tier {tier!r} matches; continues", last))
        return ChainResult("none", steps, bool(self.tiers))


# ------------------------------------------------------------------------------------------
# The evaluator
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Backend:
    service: Service
    port: ServicePort
    workload: Workload | None  # None: the backends are not in the repository
    target_port: int | None  # None: a named target port that does not resolve
    protocol: int


class Evaluator:
    """Answers reachability questions on one model; built once per run and shared by rules."""

    def __init__(self, model: Model, config: Config) -> None:
        self.model = model
        self.config = config
        self.facts: ClusterFacts = cluster_facts(model, config)
        self._reach_cache: dict[tuple[Any, ...], Any] = {}
        self._hep_policies: dict[HostEndpoint, list[Policy]] = {}
        self._hep_policies_by_labels: dict[tuple[tuple[str, str], ...], list[Policy]] = {}
        self._workload_policies: dict[Workload, list[Policy]] = {}
        self._chains: dict[tuple[Any, ...], ChainIndex] = {}
        self._chain_of_list: dict[tuple[str, int], tuple[Sequence[Policy], ChainIndex]] = {}
        self._backends: dict[tuple[Service, int], list[Backend]] = {}

    def chain(self, policies: Sequence[Policy], direction: str) -> ChainIndex:
        """The indexed chain of ``policies`` (in evaluation order) for ``direction``, built once."""
        # Fast path: the same list object again (the cached per-endpoint lists). The list is kept
        # referenced with its chain, so its id cannot be reused by another list meanwhile.
        quick = self._chain_of_list.get((direction, id(policies)))
        if quick is not None and quick[0] is policies:
            return quick[1]
        key = (direction, *map(id, policies))
        found = self._chains.get(key)
        if found is None:
            found = self._chains[key] = ChainIndex(policies, direction, self.model)
        self._chain_of_list[(direction, id(policies))] = (policies, found)
        return found

    def run_chain(self, policies: Sequence[Policy], direction: str, pkt: Packet, stage: str, drop: bool) -> ChainResult:
        chain = self.chain(policies, direction)
        candidates = None
        if pkt.dst.ip is None:
            # A destination known only as a range (a pod in the pool): narrow the rules once per
            # destination instead of testing every rule for every source.
            key = ("candidates", id(chain), *self._dst_key(direction, pkt))
            candidates = self._reach_cache.get(key)
            if candidates is None:
                candidates = self._reach_cache[key] = [
                    entry for entry in chain.entries if self._may_match_dst(entry[2], pkt)
                ]
        return chain.evaluate(pkt, self.model, stage, drop, candidates)

    # --- policy sets per endpoint ------------------------------------------------------------

    @cached_property
    def host_endpoints(self) -> list[HostEndpoint]:
        """The host endpoints of the repository (with kube-controllers' automatic ones), or, when it declares
        none and says nothing about automatic ones, one assumed endpoint per host-policy selector."""
        declared = self.model.all_host_endpoints
        if declared or self.model.kube_controllers or self.config.host_endpoints != "assume":
            return declared
        return self.assumed_host_endpoints

    @cached_property
    def assumed_host_endpoints(self) -> list[HostEndpoint]:
        """Host policies (preDNAT, doNotTrack, applyOnForward, or a plain GlobalNetworkPolicy with the same
        selector) mean host endpoints exist that they select; the repository just does not hold them (they
        come from node automation or another repository). One endpoint class per selector: the node's main
        interface, labels that satisfy the selector, addresses unknown, no profile."""
        flagged = [
            p
            for p in self.model.policies
            if p.enforced and p.can_select_host_endpoints and (p.pre_dnat or p.do_not_track or p.apply_on_forward)
        ]
        chosen: dict[str, Policy] = {}
        for policy in flagged:
            if policy.effective_selector is not None:
                chosen.setdefault(str(policy.effective_selector), policy)
        out: list[HostEndpoint] = []
        for policy in chosen.values():
            labels = labels_satisfying(policy.effective_selector)
            if labels is None:
                continue
            shown = policy.selector.text if policy.selector is not None else "all()"
            out.append(
                implied_host_endpoint(
                    policy.raw,
                    f"(assumed: {shown})",
                    labels,
                    interface_name="(node interface)",
                    assumed=(
                        f"host endpoints matching {shown} exist (selected by {policy.display}); none are declared "
                        "in the repository"
                    ),
                )
            )
        return out

    @cached_property
    def host_policies(self) -> list[Policy]:
        """Enforced policies that can apply to host endpoints, in evaluation order."""
        return [p for p in self.model.policies if p.enforced and p.can_select_host_endpoints]

    def policies_for_hep(self, hep: HostEndpoint) -> list[Policy]:
        """Host policies selecting ``hep``, in evaluation order (model.policies is kept sorted)."""
        found = self._hep_policies.get(hep)
        if found is None:
            # Endpoints with the same labels are selected by the same policies: one lookup per label set, and
            # only the policies whose required labels the endpoint carries are matched (a label index).
            labels = _label_key(hep.labels)
            found = self._hep_policies_by_labels.get(labels)
            if found is None:
                found = self._hep_policies_by_labels[labels] = [
                    p
                    for p in self._host_policy_index.candidates(hep.labels)
                    if p.effective_selector.matches(hep.labels)  # type: ignore[union-attr]
                ]
            self._hep_policies[hep] = found
        return found

    @cached_property
    def _host_policy_index(self) -> _PolicyIndex:
        return _PolicyIndex(
            [p for p in self.host_policies if p.effective_selector is not None],
            (h.labels for h in self.host_endpoints),
        )

    def untracked_for(self, hep: HostEndpoint) -> list[Policy]:
        # Felix ignores untracked policy on all-interfaces ("*") host endpoints.
        return self._stage(hep, "untracked", lambda p: p.do_not_track and hep.interface_name != "*")

    def prednat_for(self, hep: HostEndpoint) -> list[Policy]:
        return self._stage(hep, "pre-DNAT", lambda p: p.pre_dnat and not p.do_not_track)

    def normal_for(self, hep: HostEndpoint) -> list[Policy]:
        return self._stage(hep, "normal", lambda p: not p.pre_dnat and not p.do_not_track)

    def forward_for(self, hep: HostEndpoint) -> list[Policy]:
        return self._stage(hep, "forward", lambda p: not p.pre_dnat and not p.do_not_track and p.apply_on_forward)

    def _stage(self, hep: HostEndpoint, stage: str, keep: Callable[[Policy], bool]) -> list[Policy]:
        key = ("stage", stage, hep)
        found = self._reach_cache.get(key)
        if found is None:
            found = self._reach_cache[key] = [p for p in self.policies_for_hep(hep) if keep(p)]
        return found

    def policies_for_workload(self, workload: Workload) -> list[Policy]:
        """Workload policies selecting ``workload``'s pods, in evaluation order."""
        found = self._workload_policies.get(workload)
        if found is None:
            labels = workload.endpoint_labels
            found = self._workload_policies[workload] = [
                p
                for p in self._policy_index.candidates(labels)
                if p.effective_selector.matches(labels)  # type: ignore[union-attr]
            ]
        return found

    @cached_property
    def _policy_index(self) -> _PolicyIndex:
        return _PolicyIndex(
            [
                p
                for p in self.model.policies
                if p.enforced and not p.pre_dnat and not p.do_not_track and p.effective_selector is not None
            ],
            (w.endpoint_labels for w in self.model.workloads),
        )

    # --- rules narrowed to one destination ------------------------------------------------------

    @staticmethod
    def _dst_key(direction: str, pkt: Packet) -> tuple[Any, ...]:
        dst = pkt.dst
        return (
            direction,
            dst.kind,
            str(dst.ip),
            tuple(dst.ips.iter_cidrs()) if dst.ip is None else (),  # content, not id(): sets are transient
            dst.workload,
            dst.host_endpoint,
            tuple(tuple(sorted(labels.items())) for labels in dst.labels) if dst.workload is None else (),
            pkt.port,
            pkt.protocol,
        )

    def _may_match_dst(self, rule: PolicyRule, pkt: Packet) -> bool:
        if rule.action not in ACTIONS:
            return False
        if rule.protocol is not None and rule.protocol.value != pkt.protocol:
            return False
        if rule.not_protocol is not None and rule.not_protocol.value == pkt.protocol:
            return False
        return entity_matches(rule.destination, pkt.dst, pkt.port, pkt.protocol, self.model)

    def source_cuts(self, policies: Sequence[Policy], direction: str, pkt: Packet) -> tuple[list[IPNetwork], bool]:
        """Source nets that the rules able to match ``pkt``'s destination test, and whether any of
        them tests source labels (then network sets and host endpoints split sources too)."""
        cuts: list[IPNetwork] = []
        labels = False
        for _, _, rule in self.chain(policies, direction).candidates(pkt):
            if not self._may_match_dst(rule, pkt):
                continue
            src = rule.source
            cuts.extend(r.value for r in src.nets if r.value is not None)
            cuts.extend(r.value for r in src.not_nets if r.value is not None)
            labels = labels or src.effective_selector is not None or src.effective_not_selector is not None
        return cuts, labels

    @cached_property
    def hep_groups(self) -> list[list[HostEndpoint]]:
        """Host endpoints that every stage treats alike: the same policies select them, the same rule
        selectors match their labels, the same rule nets contain their addresses, the same kind of
        interface and profiles. One representative per group is evaluated."""
        selectors: dict[str, Any] = {}
        points: dict[int, list[int]] = {4: [], 6: []}
        for policy in self.model.policies:
            for rule in policy.rules:
                for entity in (rule.source, rule.destination):
                    for chosen in (entity.effective_selector, entity.effective_not_selector):
                        if chosen is not None:
                            selectors.setdefault(str(chosen), chosen)
                    for ref in (*entity.nets, *entity.not_nets):
                        if ref.value is not None:
                            points[ref.value.version] += (int(ref.value.first), int(ref.value.last) + 1)
        ordered = {v: sorted(set(p)) for v, p in points.items()}
        groups: dict[tuple[Any, ...], list[HostEndpoint]] = {}
        matched: dict[tuple[tuple[str, str], ...], tuple[bool, ...]] = {}  # per distinct label set
        for hep in self.host_endpoints:
            ips = hep.valid_expected_ips
            labels = _label_key(hep.labels)
            if ips and labels not in matched:
                matched[labels] = tuple(chosen.matches(hep.labels) for chosen in selectors.values())
            key = (
                tuple(map(id, self.policies_for_hep(hep))),
                hep.interface_name == "*",
                bool(ips),
                hep.profiles,
                hep.named_ports,
                matched[labels] if ips else (),
                tuple(sorted((ip.version, bisect.bisect_right(ordered[ip.version], int(ip))) for ip in ips)),
            )
            groups.setdefault(key, []).append(hep)
        return list(groups.values())

    # --- addresses -----------------------------------------------------------------------------

    @cached_property
    def labelled_nets(self) -> list[tuple[IPSet, Mapping[str, str], NetworkSet | HostEndpoint]]:
        out: list[tuple[IPSet, Mapping[str, str], NetworkSet | HostEndpoint]] = []
        for netset in self.model.network_sets:
            if netset.valid_nets:
                out.append((IPSet(netset.valid_nets), netset.endpoint_labels, netset))
        for hep in self.host_endpoints:
            ips = hep.valid_expected_ips
            if ips:
                out.append((IPSet([str(ip) for ip in ips]), hep.labels, hep))
        return out

    def outside_peer(self, ip: IPAddress | str, text: str = "") -> Peer:
        """A client outside the cluster (it may still belong to a network set or be a host's address)."""
        address = ip if isinstance(ip, IPAddress) else IPAddress(str(ip))
        return Peer("outside", address, NO_ADDRESSES, self.labels_at(address), text=text)

    def labels_at(self, address: IPAddress) -> tuple[Mapping[str, str], ...]:
        """The label sets of the network sets and host endpoints (expectedIPs) holding ``address``: one
        bisect in the elementary segments of their ranges, not a scan of them."""
        starts, labels = self._labelled_segments.get(address.version, ([], []))
        i = bisect.bisect_right(starts, int(address)) - 1
        return labels[i] if i >= 0 else ()

    @cached_property
    def _labelled_segments(self) -> dict[int, tuple[list[int], list[tuple[Mapping[str, str], ...]]]]:
        ranges = [
            (rng.version, int(rng.first), int(rng.last), labels)
            for ips, labels, _ in self.labelled_nets
            for rng in ips.iter_ipranges()
        ]
        out: dict[int, tuple[list[int], list[tuple[Mapping[str, str], ...]]]] = {}
        for version in (4, 6):
            mine = [(lo, hi, lbl) for v, lo, hi, lbl in ranges if v == version]
            events: dict[int, list[tuple[int, int]]] = {}  # point -> (+1 open / -1 close, range index)
            for i, (lo, hi, _) in enumerate(mine):
                events.setdefault(lo, []).append((1, i))
                events.setdefault(hi + 1, []).append((-1, i))
            starts: list[int] = []
            found: list[tuple[Mapping[str, str], ...]] = []
            active: set[int] = set()
            for point in sorted(events):  # a sweep: each segment gets the ranges open over it
                for change, i in events[point]:
                    if change > 0:
                        active.add(i)
                    else:
                        active.discard(i)
                starts.append(point)
                found.append(tuple(mine[i][2] for i in sorted(active)))
            out[version] = (starts, found)
        return out

    def address_peer(self, ip: IPAddress) -> Peer:
        """A destination address before DNAT (a Service address, or a node's for node ports), with the labels
        of the host endpoints and network sets it belongs to (rule selectors match through them)."""
        key = ("address-peer", ip.version, int(ip))
        found = self._reach_cache.get(key)
        if found is None:
            found = self._reach_cache[key] = Peer("service", ip, NO_ADDRESSES, self.labels_at(ip), text=str(ip))
        return found

    def node_peer(self, hep: HostEndpoint, version: int | None = None) -> Peer:
        """The node's own address (the source after SNAT): known to rules only through expectedIPs. With
        ``version``, the address of that family only (an IPv6 flow is SNATed to the node's IPv6 address)."""
        key = ("node-peer", hep, version)
        found = self._reach_cache.get(key)
        if found is None:
            found = self._reach_cache[key] = self._node_peer(hep, version)
        return found

    def _node_peer(self, hep: HostEndpoint, version: int | None) -> Peer:
        ips = [ip for ip in hep.valid_expected_ips if version is None or ip.version == version]
        ipset = IPSet([str(ip) for ip in ips])
        if hep.assumed:
            # Addresses unknown: rule selectors are taken to match the endpoint's labels (as they would once
            # its expectedIPs are set), and no claim rests on which addresses it has.
            return Peer("node", None, ipset, (hep.labels,), host_endpoint=hep, text="a node (assumed endpoint)")
        family = f"no IPv{version} expectedIPs" if version else "no expectedIPs"
        return Peer(
            "node",
            IPAddress(str(ips[0])) if ips else None,
            ipset,
            (hep.labels,) if ips else (),
            host_endpoint=hep,
            text=f"node {hep.node or hep.name} ({', '.join(map(str, ips)) or family})",
        )

    def host_peer(self, hep: HostEndpoint) -> Peer:
        peer = self.node_peer(hep)
        return Peer("host", peer.ip, peer.ips, peer.labels, host_endpoint=hep, text=peer.text)

    def pod_peer(self, workload: Workload) -> Peer:
        return Peer(
            "pod",
            None,
            self.facts.pod_cidrs,
            (workload.endpoint_labels,),
            workload=workload,
            text=f"pod of {workload.kind} {workload.namespace}/{workload.name}",
        )

    # --- DNAT ----------------------------------------------------------------------------------

    def service_for(self, ip: IPAddress, port: int, protocol: int) -> tuple[Service, ServicePort, AddressKind] | None:
        """The Service and port a destination address maps to, and how (cluster IP, external IP…)."""
        proto = protocol_name(protocol)
        for svc in self.model.services:
            for how, refs in (
                (AddressKind.CLUSTER_IP, svc.cluster_ips),
                (AddressKind.EXTERNAL_IP, svc.external_ips),
                (AddressKind.LOAD_BALANCER_IP, svc.load_balancer_ips),
            ):
                if any(r.value is not None and IPAddress(str(r.value)) == ip for r in refs):
                    for sp in svc.ports:
                        if sp.port == port and sp.protocol == proto:
                            return svc, sp, how
        for svc in self.model.services:
            if svc.type not in ("NodePort", "LoadBalancer"):
                continue
            if not any(ip in IPSet([str(x) for x in h.valid_expected_ips]) for h in self.host_endpoints):
                continue
            for sp in svc.ports:
                if sp.node_port == port and sp.protocol == proto:
                    return svc, sp, AddressKind.NODE_PORT
        if ip in self.facts.advertised and ip not in self.explicit_ips:
            unheld = self.unheld_service(ip, port, protocol)
            if unheld is not None:
                return unheld, unheld.ports[0], AddressKind.CLUSTER_IP
        return None

    def unheld_service(self, ip: IPAddress, port: int, protocol: int) -> Service | None:
        """The Service behind an advertised address that no Service of the repository holds: it is somewhere
        else (or not yet created); kube-proxy sends its traffic to backends the repository does not show."""
        key = ("unheld", int(ip), port, protocol)
        found = self._reach_cache.get(key)
        if found is None:
            # Placed where the address is known to be advertised (the BGPConfiguration, or the rule that is
            # the evidence); with only a configured range and no policy there is nowhere to point.
            where = self.facts.advertisement.where
            if where is not None:
                raw = _raw_at(where)
            elif self.model.policies:
                raw = self.model.policies[0].raw
            else:
                return None
            found = self._reach_cache[key] = Service(
                raw=raw,
                api_version="v1",
                kind="Service",
                name=f"(not in the repository, at {ip})",
                namespace=None,
                labels={},
                annotations={},
                type="ClusterIP",
                cluster_ips=(),
                cluster_ip_explicit=True,
                headless=False,
                ports=(ServicePort(0, "", port, port, None, protocol_name(protocol)),),
                selector=None,
                external_traffic_policy="Cluster",
                external_traffic_policy_set=False,
                internal_traffic_policy="Cluster",
                external_ips=(),
                load_balancer_ips=(),
            )
        return found

    def unheld_addresses(self, ports: dict[IPAddress, list[tuple[int, int]]]) -> list[ServiceAddress]:
        """Advertised single addresses that rules name and no Service of the repository holds, as Service
        addresses of :meth:`unheld_service` (one port per named port, else 443/TCP)."""
        out = []
        for ip, wanted in ports.items():
            if ip in self.explicit_ips or ip not in self.facts.advertised:
                continue
            for port, protocol in wanted or [(443, TCP)]:
                svc = self.unheld_service(ip, port, protocol)
                if svc is not None:
                    out.append(ServiceAddress(svc, ip, AddressKind.CLUSTER_IP, ("metadata", "name"), True))
        return out

    def backends(self, svc: Service, sp: ServicePort) -> list[Backend]:
        key = (svc, sp.index)
        found = self._backends.get(key)
        if found is None:
            found = self._backends[key] = self._find_backends(svc, sp)
        return found

    def _find_backends(self, svc: Service, sp: ServicePort) -> list[Backend]:
        protocol = PROTOCOL_NUMBERS.get(sp.protocol, TCP)
        workloads = self.model.service_workloads(svc)
        if not workloads:
            target = sp.effective_target
            return [Backend(svc, sp, None, target if isinstance(target, int) else None, protocol)]
        out = []
        for w in workloads:
            target = sp.effective_target
            number = w.resolve_port(target, sp.protocol) if target is not None else None
            out.append(Backend(svc, sp, w, number, protocol))
        return out

    # --- stages --------------------------------------------------------------------------------

    def _failsafe(self, pkt: Packet, inbound: bool) -> bool:
        entries = self.facts.failsafe_in if inbound else self.facts.failsafe_out
        remote = pkt.src if inbound else pkt.dst
        for entry in entries:
            if entry.port != pkt.port or PROTOCOL_NUMBERS.get(entry.protocol) != pkt.protocol:
                continue
            if entry.net:
                try:
                    if remote.ip is None or remote.ip not in IPNetwork(entry.net):
                        continue
                except Exception:
                    continue
            return True
        return False

    def _pre_stages(self, hep: HostEndpoint, pkt: Packet, steps: list[Step]) -> str:
        """Untracked then pre-DNAT ingress. Returns "allow", "deny" or "none"."""
        failsafe = self._failsafe(pkt, inbound=True)
        for stage, policies in (("untracked", self.untracked_for(hep)), ("pre-DNAT", self.prednat_for(hep))):
            if not policies:
                continue
            if failsafe:
                steps.append(
                    Step(
                        stage,
                        "skip",
                        f"failsafe port {pkt.port}/{protocol_name(pkt.protocol)}: {stage} policy is bypassed",
                    )
                )
                continue
            result = self.run_chain(policies, "ingress", pkt, stage, False)
            steps.extend(result.steps)
            if result.outcome in ("allow", "deny"):
                return result.outcome
            steps.append(
                Step(stage, "no-match", f"no {stage} rule matches: {stage} has no default drop, the packet continues")
            )
        return "none"

    def to_service(
        self, client: Peer, hep: HostEndpoint | None, svc: Service, sp: ServicePort, dst_ip: IPAddress, how: AddressKind
    ) -> list[tuple[Backend, Verdict]]:
        """Outside client -> service address, through ``hep`` (None: no host endpoint polices it)."""
        protocol = PROTOCOL_NUMBERS.get(sp.protocol, TCP)
        dport = sp.node_port if how == AddressKind.NODE_PORT and sp.node_port else (sp.port or 0)
        original = Packet(client, self.address_peer(dst_ip), dport, protocol)
        head: list[Step] = []
        pre = "none"
        if hep is None:
            head.append(Step("host endpoint", "info", "no HostEndpoint: Calico does not police traffic on the hosts"))
        else:
            head.append(
                Step(
                    "host endpoint",
                    "info",
                    f"arrives through HostEndpoint {hep.name} (interface {hep.interface_name or 'by expectedIPs'})",
                    where=_at(hep),
                )
            )
            pre = self._pre_stages(hep, original, head)
            if pre == "deny":
                return [(b, Verdict(False, list(head))) for b in self.backends(svc, sp)]
        local = svc.local_mode
        out: list[tuple[Backend, Verdict]] = []
        for backend in self.backends(svc, sp):
            steps = list(head)
            port_text = backend.target_port if backend.target_port is not None else sp.effective_target
            target = (
                f"{backend.workload.kind} {backend.workload.namespace}/{backend.workload.name}"
                if backend.workload
                else "backends not in the repository"
            )
            steps.append(
                Step(
                    "DNAT",
                    "info",
                    f"kube-proxy: {how} {dst_ip}:{dport}/{sp.protocol} -> {target} "
                    f"port {port_text} (Service {svc.namespace}/{svc.name})",
                    where=svc.ptr("metadata", "name"),
                )
            )
            if backend.target_port is None and backend.workload is not None:
                steps.append(
                    Step(
                        "DNAT",
                        "deny",
                        f"target port {sp.effective_target!r} is not a container port of "
                        "the backend: the connection fails",
                    )
                )
                out.append((backend, Verdict(False, steps)))
                continue
            pod = (
                self.pod_peer(backend.workload)
                if backend.workload
                else Peer("pod", None, self.facts.pod_cidrs, text="backend pod")
            )
            forwarded = Packet(client, pod, backend.target_port or 0, protocol)
            if hep is not None and pre != "allow":
                fwd = self.forward_for(hep)
                if fwd:
                    seen = forwarded
                    if how == AddressKind.NODE_PORT and self.facts.kube_proxy_mode == "ipvs":
                        # IPVS: Felix sends NodePort traffic to a host address down the forward path while it
                        # is still addressed to the node (StaticFilterInputForwardCheckChain).
                        seen = Packet(client, self.host_peer(hep), dport, protocol)
                        steps.append(
                            Step("forward", "info", "kube-proxy IPVS: forward policy sees the node port before DNAT")
                        )
                    result = self.run_chain(fwd, "ingress", seen, "forward", True)
                    steps.extend(result.steps)
                    if result.outcome == "deny":
                        out.append((backend, Verdict(False, steps)))
                        continue
                    if result.outcome == "none":
                        steps.append(
                            Step("forward", "allow", "no applyOnForward policy applies: forwarded traffic is allowed")
                        )
                else:
                    steps.append(
                        Step(
                            "forward",
                            "allow",
                            "no applyOnForward policy selects this host endpoint: forwarded traffic is allowed",
                        )
                    )
            elif hep is not None:
                steps.append(
                    Step("forward", "skip", "allowed by pre-DNAT/untracked policy: normal host policy is skipped")
                )
            if local:
                source = client
                caveat = (
                    " (kube-proxy may still SNAT traffic sent to a cluster IP when --cluster-cidr is set)"
                    if how == AddressKind.CLUSTER_IP
                    else ""
                )
                steps.append(Step("SNAT", "info", f"externalTrafficPolicy: Local: the client address is kept{caveat}"))
            else:
                source = (
                    self.node_peer(hep, dst_ip.version)
                    if hep is not None
                    else Peer("node", None, IPSet(), text="the node")
                )
                steps.append(Step("SNAT", "info", f"cluster mode: kube-proxy SNATs the source to {source}"))
            if backend.workload is None:
                steps.append(
                    Step("pod", "allow", "the Service's pods are not in the repository: their policy cannot be checked")
                )
                out.append((backend, Verdict(True, steps)))
                continue
            pkt = Packet(source, pod, backend.target_port or 0, protocol)
            if local:
                verdict = self.pod_ingress(backend.workload, pkt)
            else:  # the SNAT source does not depend on the client: one verdict per node and backend
                key = ("pod", backend.workload, hep, pkt.port, protocol, dst_ip.version)
                verdict = self._reach_cache.get(key)
                if verdict is None:
                    verdict = self._reach_cache[key] = self.pod_ingress(backend.workload, pkt)
            steps.extend(verdict.steps)
            out.append((backend, Verdict(verdict.allowed, steps)))
        return out

    def pod_ingress(self, workload: Workload, pkt: Packet) -> Verdict:
        policies = self.policies_for_workload(workload)
        result = self.run_chain(policies, "ingress", pkt, "pod", True)
        steps = list(result.steps)
        if result.outcome == "none":
            if result.applied:
                steps.append(Step("pod", "allow", "every applicable tier passed: the namespace profile allows"))
            else:
                steps.append(
                    Step(
                        "pod",
                        "allow",
                        f"no ingress policy selects {workload.kind} "
                        f"{workload.namespace}/{workload.name}: allowed by default",
                        where=workload.ptr("metadata", "name"),
                    )
                )
            return Verdict(True, steps)
        return Verdict(result.outcome == "allow", steps)

    def to_host(self, client: Peer, hep: HostEndpoint, port: int, protocol: int) -> Verdict:
        """Outside client -> a process on the host behind ``hep``."""
        host = self.host_peer(hep)
        pkt = Packet(client, host, port, protocol)
        steps = [_through(hep, "arrives")]
        pre = self._pre_stages(hep, pkt, steps)
        if pre == "deny":
            return Verdict(False, steps)
        if pre == "allow":
            steps.append(Step("host", "skip", "allowed by pre-DNAT/untracked policy: normal host policy is skipped"))
            return Verdict(True, steps)
        return self._host_chain(hep, pkt, "ingress", steps)

    def from_host(self, hep: HostEndpoint, remote: Peer, port: int, protocol: int) -> Verdict:
        """A process on the host behind ``hep`` -> a remote address (host egress)."""
        pkt = Packet(self.host_peer(hep), remote, port, protocol)
        steps = [_through(hep, "leaves")]
        untracked = self.untracked_for(hep)
        if untracked and not self._failsafe(pkt, inbound=False):
            result = self.run_chain(untracked, "egress", pkt, "untracked", False)
            steps.extend(result.steps)
            if result.outcome == "deny":
                return Verdict(False, steps)
            if result.outcome == "allow":
                return Verdict(True, steps)
        return self._host_chain(hep, pkt, "egress", steps)

    def _host_chain(self, hep: HostEndpoint, pkt: Packet, direction: str, steps: list[Step]) -> Verdict:
        if self._failsafe(pkt, inbound=direction == "ingress"):
            steps.append(
                Step(
                    "failsafe",
                    "allow",
                    f"failsafe port {pkt.port}/{protocol_name(pkt.protocol)} "
                    f"({self.facts.failsafe.note or 'Calico defaults'}) is always allowed",
                )
            )
            return Verdict(True, steps)
        result = self.run_chain(self.normal_for(hep), direction, pkt, "host", True)
        steps.extend(result.steps)
        if result.outcome in ("allow", "deny"):
            return Verdict(result.outcome == "allow", steps)
        if "projectcalico-default-allow" in hep.profiles:
            steps.append(Step("profile", "allow", "profile projectcalico-default-allow allows", where=_at(hep)))
            return Verdict(True, steps)
        steps.append(
            Step(
                "host",
                "deny",
                f"no policy allows {direction} host traffic for HostEndpoint {hep.name}: "
                "dropped once a HostEndpoint exists (no profile)",
                where=_at(hep),
            )
        )
        return Verdict(False, steps)

    def forwarded(self, hep: HostEndpoint, pkt: Packet) -> Verdict:
        """Traffic forwarded through ``hep`` to ``pkt.dst`` (pod-to-pod across nodes, say)."""
        steps: list[Step] = [_through(hep, "arrives")]
        pre = self._pre_stages(hep, pkt, steps)
        if pre in ("allow", "deny"):
            return Verdict(pre == "allow", steps)
        fwd = self.forward_for(hep)
        if not fwd:
            steps.append(Step("forward", "allow", "no applyOnForward policy selects this host endpoint: allowed"))
            return Verdict(True, steps)
        result = self.run_chain(fwd, "ingress", pkt, "forward", True)
        steps.extend(result.steps)
        if result.outcome == "none":
            steps.append(Step("forward", "allow", "no applyOnForward policy governs ingress: allowed"))
            return Verdict(True, steps)
        return Verdict(result.outcome == "allow", steps)

    # --- address classes -----------------------------------------------------------------------

    def rule_nets(self, policies: Iterable[Policy]) -> list[IPNetwork]:
        nets: list[IPNetwork] = []
        for policy in policies:
            for rule in policy.rules:
                for entity in (rule.source, rule.destination):
                    nets.extend(r.value for r in entity.nets if r.value is not None)
                    nets.extend(r.value for r in entity.not_nets if r.value is not None)
        return nets

    def source_classes(self, within: IPSet | AddressSet, policies: Sequence[Policy]) -> list[AddressSet]:
        """Split ``within`` into the classes of remote addresses ``policies`` cannot tell apart: their
        rules' nets, and, when a rule tests labels, the network sets and host addresses too."""
        return self.classes_at(within, self.rule_nets(policies), tests_labels(policies))

    def classes_at(self, within: IPSet | AddressSet, cuts: Sequence[IPNetwork], labels: bool) -> list[AddressSet]:
        """``within`` split at ``cuts``, and with ``labels`` at the network sets and host addresses too."""
        if labels:
            return address_classes(within, cuts, self.labelled_points)
        return address_classes(within, cuts)

    @cached_property
    def labelled_cuts(self) -> list[IPNetwork]:
        """The CIDRs of network sets and host endpoint addresses (what rule selectors can match)."""
        return [cidr for ips, _, _ in self.labelled_nets for cidr in ips.iter_cidrs()]

    @cached_property
    def labelled_points(self) -> dict[int, frozenset[int]]:
        """The class boundaries :attr:`labelled_cuts` add, per family (integers, computed once: every
        host endpoint address is a cut, so recomputing them per question grows with the estate)."""
        cuts = self.labelled_cuts
        return {v: frozenset(_boundaries(cuts, v)) for v in (4, 6)}

    # --- which policies police hosts --------------------------------------------------------

    @cached_property
    def selected_heps(self) -> dict[Policy, list[HostEndpoint]]:
        """Host endpoints each host-capable policy selects (by ``id`` of the policy)."""
        out: dict[Policy, list[HostEndpoint]] = {}
        shared: dict[str, list[HostEndpoint]] = {}  # one list per selector, shared by its policies
        for policy in self.host_policies:
            chosen = policy.effective_selector
            if chosen is None:
                out[policy] = []
                continue
            found = shared.get(str(chosen))
            if found is None:
                if self.host_endpoints is self.model.all_host_endpoints:
                    found = self.model.host_endpoints_matching(chosen)
                else:  # assumed endpoints: a handful, not in the model's index
                    found = [h for h in self.host_endpoints if chosen.matches(h.labels)]
                shared[str(chosen)] = found
            out[policy] = found
        return out

    def heps_of(self, policy: Policy) -> list[HostEndpoint]:
        return self.selected_heps.get(policy, [])

    def is_host_policy(self, policy: Policy) -> bool:
        """A policy that applies to host endpoints: it selects one in the repository, or, when the
        repository has none, it carries a host-only flag (preDNAT, doNotTrack, applyOnForward) or
        matches the configured node selector's labels."""
        if not policy.enforced or not policy.can_select_host_endpoints:
            return False
        if self.host_endpoints:
            return bool(self.heps_of(policy))
        return policy.pre_dnat or policy.do_not_track or policy.apply_on_forward

    @cached_property
    def _naming_index(
        self,
    ) -> tuple[dict[tuple[int, int], list[tuple[Policy, PolicyRule, int]]], list[tuple[Policy, PolicyRule, int]]]:
        exact: dict[tuple[int, int], list[tuple[Policy, PolicyRule, int]]] = {}
        wide: list[tuple[Policy, PolicyRule, int]] = []
        for policy in self.host_policies:
            for rule in policy.ingress:
                for i, ref in enumerate(rule.destination.nets):
                    if ref.value is None:
                        continue
                    if ref.value.size == 1:
                        exact.setdefault((ref.value.version, int(ref.value.first)), []).append((policy, rule, i))
                    else:
                        wide.append((policy, rule, i))
        return exact, wide

    def host_rules_naming(self, ip: IPAddress) -> list[tuple[Policy, PolicyRule, int]]:
        """Ingress rules of host-capable policies whose destination nets contain ``ip``, with the index
        of the net that does, in evaluation order."""
        exact, wide = self._naming_index
        found = list(exact.get((ip.version, int(ip)), ()))
        found += [(p, r, i) for p, r, i in wide if ip in r.destination.nets[i].value]
        order = self._host_policy_order
        return sorted(found, key=lambda item: (order[item[0]], item[1].index, item[2]))

    @cached_property
    def _host_policy_order(self) -> dict[Policy, int]:
        return {p: n for n, p in enumerate(self.host_policies)}

    @cached_property
    def explicit_ips(self) -> dict[IPAddress, list[ServiceAddress]]:
        out: dict[IPAddress, list[ServiceAddress]] = {}
        for address in self.service_addresses:
            out.setdefault(address.ip, []).append(address)
        return out

    def service_range(self) -> IPSet:
        """Addresses that are Service cluster IPs (configured service range and advertised ranges)."""
        return self.facts.service_cidrs | self.facts.advertised

    def port_classes(self, policies: Iterable[Policy], extra: Iterable[int] = ()) -> list[int]:
        """One representative destination port per class of ports ``policies`` cannot tell apart."""
        points = {1, 65536, *extra}
        for policy in policies:
            for rule in policy.rules:
                for refs in (rule.destination.ports, rule.destination.not_ports):
                    for ref in refs:
                        if isinstance(ref.value, PortRange):
                            points.update((ref.value.lo, ref.value.hi + 1))
        for entry in (*self.facts.failsafe_in, *self.facts.failsafe_out):
            if entry.port:
                points.update((entry.port, entry.port + 1))
        for lo, hi in self.facts.node_ports.ranges:
            points.update((lo, hi + 1))
        return sorted(p for p in points if 1 <= p <= 65535)

    @cached_property
    def unnamed_cluster_ip(self) -> IPAddress | None:
        """An address of the advertised cluster range that no rule and no Service names: where an
        auto-assigned cluster IP lands, as far as policy can tell."""
        facts = self.facts
        if not facts.advertised_cluster:
            return None
        named = {(ip.version, int(ip)) for ip in self.explicit_ips}
        cuts: list[IPNetwork] = []
        for policy in self.host_policies:
            for rule in policy.ingress:
                cuts.extend(r.value for r in rule.destination.nets if r.value is not None)
                cuts.extend(r.value for r in rule.destination.not_nets if r.value is not None)
        cuts += [IPNetwork(f"{ip}/{32 if ip.version == 4 else 128}") for ip in self.explicit_ips]  # named: own classes
        candidates = [
            c
            for c in address_classes(facts.advertised_cluster, cuts)
            if not (c.size == 1 and (c.version, c.intervals[0][0]) in named)
        ]
        if not candidates:
            return None
        widest = max(candidates, key=lambda c: c.size)
        first = representative(widest)
        # Any address of the class will do; not the network address, which Kubernetes never assigns.
        return IPAddress(int(first) + 1, first.version) if widest.size > 2 else first

    # --- services as seen from outside ---------------------------------------------------------

    @cached_property
    def service_addresses(self) -> list[ServiceAddress]:
        """Every explicit address of every Service, with whether Calico advertises it over BGP."""
        facts = self.facts
        out: list[ServiceAddress] = []
        for svc in self.model.services:
            if svc.type == "ExternalName":
                continue
            for how, refs, advertised in (
                (AddressKind.CLUSTER_IP, svc.cluster_ips, facts.advertised_cluster),
                (AddressKind.EXTERNAL_IP, svc.external_ips, facts.advertised_external),
                (AddressKind.LOAD_BALANCER_IP, svc.load_balancer_ips, facts.advertised_lb),
            ):
                for ref in refs:
                    if ref.value is None:
                        continue
                    ip = IPAddress(str(ref.value))
                    out.append(ServiceAddress(svc, ip, how, ref.path, ip in advertised))
        return out

    def advertised_addresses(self, service: Service | None = None) -> list[ServiceAddress]:
        return [a for a in self.service_addresses if a.advertised and (service is None or a.service is service)]

    def outside_universe(self, version: int) -> AddressSet:
        """Addresses an outside client can have: everything but the pod and service ranges."""
        found = self._reach_cache.get(("universe", version))
        if found is None:
            inside = AddressSet.of(version, [self.facts.pod_cidrs, self.facts.service_cidrs, self.facts.advertised])
            found = self._reach_cache[("universe", version)] = AddressSet.everything(version) - inside
        return found

    def ingress_groups(self) -> list[HostEndpoint | None]:
        """One representative host endpoint per group (None when no HostEndpoint exists)."""
        return [group[0] for group in self.hep_groups] or [None]

    def reachability(
        self,
        address: ServiceAddress,
        port: ServicePort,
        hep: HostEndpoint | None,
        within: IPSet | AddressSet | None = None,
        remember: bool = True,
    ) -> list[SourceClass]:
        """Which outside sources reach ``address``:``port`` through ``hep``, class by class.

        Answers over the whole outside world are remembered for the other rules and reports, unless
        ``remember`` is False (a rule that asks about every address once)."""
        key = (address.service, str(address.ip), port.index, hep)
        if within is None and key in self._reach_cache:
            return self._reach_cache[key]
        classes = self._reachability(address, port, hep, within)
        if within is None and remember:
            self._reach_cache[key] = classes
        return classes

    def _reachability(
        self, address: ServiceAddress, port: ServicePort, hep: HostEndpoint | None, within: IPSet | None
    ) -> list[SourceClass]:
        svc = address.service
        version = int(address.ip.version)
        universe = within if within is not None else self.outside_universe(version)
        cuts, labels = self._reach_cuts(address, port, hep)
        classes: dict[tuple[Any, ...], SourceClass] = {}
        for ipset in address_classes(universe, cuts, self.labelled_points if labels else None):
            rep = representative(ipset)
            if rep.version != version:
                continue
            peer = self.outside_peer(rep) if labels else Peer("outside", rep, NO_ADDRESSES)
            results = self.to_service(peer, hep, svc, port, address.ip, address.how)
            key = tuple((b.workload.identity if b.workload else "", v.allowed, v.key()) for b, v in results)
            if key in classes:
                classes[key].ips |= ipset
            else:
                reaches = any(v.allowed for _, v in results)
                unlisted = any(v.allowed and not v.admitted_before_dnat for _, v in results)
                # Cached answers keep only the summary (a big repository asks for tens of thousands):
                # callers that need the stages ask with ``within`` (trace) and get them in full.
                classes[key] = SourceClass(ipset, results if within is not None else [], key, reaches, unlisted)
        return list(classes.values())

    def unlisted_reach(
        self, address: ServiceAddress, port: ServicePort, heps: Sequence[HostEndpoint]
    ) -> list[AddressSet]:
        """For each of ``heps``: the outside sources that reach a backend of ``address``:``port`` through it
        without a pre-DNAT or untracked Allow (past an allow-list). The same sets as the union of the
        ``reaches_unlisted`` classes of :meth:`reachability`, computed with less work:

        - the source classes and their untracked/pre-DNAT outcome depend on a host endpoint only through
          its untracked, pre-DNAT and forward policies (:meth:`_reach_cuts`, :meth:`_pre_stages`): they are
          computed once per distinct set of those policies, not per endpoint;
        - a class that those stages allow (an Allow admits it before DNAT) or deny cannot reach past an
          allow-list, so only the classes no pre-DNAT/untracked rule decides take the whole path (forward
          stage, SNAT, the backends' policy) through :meth:`to_service`, per endpoint.
        """
        version = int(address.ip.version)
        protocol = PROTOCOL_NUMBERS.get(port.protocol, TCP)
        dport = port.node_port if address.how == AddressKind.NODE_PORT and port.node_port else (port.port or 0)
        shared: dict[tuple[tuple[int, ...], ...], list[tuple[AddressSet, Peer, str]]] = {}
        out: list[AddressSet] = []
        for hep in heps:
            stages = tuple(
                tuple(map(id, policies))
                for policies in (self.untracked_for(hep), self.prednat_for(hep), self.forward_for(hep))
            )
            classes = shared.get(stages)
            if classes is None:
                classes = shared[stages] = self._pre_classes(address, port, hep, version, dport, protocol)
            leaking = AddressSet(version)
            for ipset, peer, pre in classes:
                if pre != "none":
                    continue
                results = self.to_service(peer, hep, address.service, port, address.ip, address.how)
                if any(v.allowed and not v.admitted_before_dnat for _, v in results):
                    leaking |= ipset
            out.append(leaking)
        return out

    def _pre_classes(
        self, address: ServiceAddress, port: ServicePort, hep: HostEndpoint, version: int, dport: int, protocol: int
    ) -> list[tuple[AddressSet, Peer, str]]:
        """The source classes of :meth:`_reachability` (same cuts, same peers), each with its untracked then
        pre-DNAT outcome through ``hep`` ("allow", "deny" or "none")."""
        cuts, labels = self._reach_cuts(address, port, hep)
        dst = self.address_peer(address.ip)
        out: list[tuple[AddressSet, Peer, str]] = []
        for ipset in address_classes(self.outside_universe(version), cuts, self.labelled_points if labels else None):
            rep = representative(ipset)
            if rep.version != version:
                continue
            peer = self.outside_peer(rep) if labels else Peer("outside", rep, NO_ADDRESSES)
            out.append((ipset, peer, self._pre_stages(hep, Packet(peer, dst, dport, protocol), [])))
        return out

    def _reach_cuts(
        self, address: ServiceAddress, port: ServicePort, hep: HostEndpoint | None
    ) -> tuple[list[IPNetwork], bool]:
        """Source nets of the rules that can match this Service flow at any stage of its path."""
        protocol = PROTOCOL_NUMBERS.get(port.protocol, TCP)
        dport = port.node_port if address.how == AddressKind.NODE_PORT and port.node_port else (port.port or 0)
        probe = Peer("outside", None, IPSet())
        original = Packet(probe, Peer("service", address.ip, NO_ADDRESSES), dport, protocol)
        cuts: list[IPNetwork] = []
        labels = False
        stages: list[tuple[list[Policy], Packet]] = []
        if hep is not None:
            stages.append((self.untracked_for(hep), original))
            stages.append((self.prednat_for(hep), original))
        for backend in self.backends(address.service, port):
            pod = self.pod_peer(backend.workload) if backend.workload else Peer("pod", None, self.facts.pod_cidrs)
            forwarded = Packet(probe, pod, backend.target_port or 0, protocol)
            if hep is not None:
                stages.append((self.forward_for(hep), forwarded))
            if backend.workload is not None and address.service.local_mode:
                stages.append((self.policies_for_workload(backend.workload), forwarded))
        for policies, pkt in stages:
            more, tested = self.source_cuts(policies, "ingress", pkt)
            cuts += more
            labels = labels or tested
        return cuts, labels


@dataclass(frozen=True)
class ServiceAddress:
    service: Service
    ip: IPAddress
    how: AddressKind
    path: tuple[str | int, ...]  # where it is written, relative to the Service
    advertised: bool

    def ptr(self) -> Pointer:
        return self.service.ptr_at(self.path)


@dataclass
class SourceClass:
    """Outside sources that every stage treats alike, and what happens to them per backend."""

    ips: AddressSet
    results: list[tuple[Backend, Verdict]]  # per backend; empty in the evaluator's cached answers
    key: tuple[Any, ...] = ()
    reaches: bool = False  # some backend is reached
    reaches_unlisted: bool = False  # ... without a pre-DNAT or untracked Allow (past an allow-list)


def tests_labels(policies: Iterable[Policy]) -> bool:
    """A rule of ``policies`` tests labels (then network sets and host addresses split sources too)."""
    return any(
        entity.effective_selector is not None or entity.effective_not_selector is not None
        for policy in policies
        for rule in policy.rules
        for entity in (rule.source, rule.destination)
    )


def _boundaries(cuts: Iterable[IPNetwork], version: int) -> set[int]:
    """Where membership in ``cuts`` of family ``version`` can change: each cut's first address and the one after it."""
    return {p for net in cuts if net.version == version for p in (int(net.first), int(net.last) + 1)}


def address_classes(
    within: IPSet | AddressSet, cuts: Iterable[IPNetwork], more: Mapping[int, frozenset[int]] | None = None
) -> list[AddressSet]:
    """Partition ``within`` at the boundaries of ``cuts`` (and the precomputed boundaries ``more``, per
    family): inside each class every cut is all-or-nothing."""
    out: list[AddressSet] = []
    cuts = list(cuts)
    for version in (4, 6):
        if isinstance(within, AddressSet):
            if within.version != version:
                continue
            ranges = list(within.intervals)
        else:
            ranges = [(int(r.first), int(r.last)) for r in within.iter_ipranges() if r.version == version]
        if not ranges:
            continue
        bounds = _boundaries(cuts, version)
        points = sorted(bounds.union(more[version]) if more is not None else bounds)
        for start, end in ranges:
            lo_i, hi_i = bisect.bisect_right(points, start), bisect.bisect_right(points, end)
            edges = [start, *points[lo_i:hi_i], end + 1]
            for lo, hi in pairwise(edges):
                if lo < hi:
                    out.append(AddressSet(version, [(lo, hi - 1)]))
    return out


def representative(ipset: IPSet | AddressSet) -> IPAddress:
    """The first address of a class: every address of the class gets the same answer."""
    if isinstance(ipset, AddressSet):
        return ipset.first()
    first = next(iter(ipset.iter_ipranges()))
    return IPAddress(first.first, first.version)


def parse_flow_destination(text: str) -> tuple[IPAddress, int, int]:
    """``10.96.20.15:443/TCP`` or ``[fd00::1]:443/TCP`` -> (address, port, protocol number)."""
    proto = "TCP"
    body = text.strip()
    if "/" in body:
        body, proto = body.rsplit("/", 1)
    if body.startswith("["):
        host, _, port_text = body[1:].partition("]:")
    else:
        host, _, port_text = body.rpartition(":")
    number = PROTOCOL_NUMBERS.get(proto) or PROTOCOL_NUMBERS.get(proto.upper())
    if number is None:
        raise ValueError(f"unknown protocol {proto!r} (TCP, UDP or SCTP)")
    try:
        address = IPAddress(str(ipaddress.ip_address(host)))
        port = int(port_text)
    except ValueError:
        raise ValueError(f"{text!r} is not IP:PORT/PROTOCOL (e.g. 10.96.20.15:443/TCP)") from None
    if not 1 <= port <= 65535:
        raise ValueError(f"port {port} is outside 1-65535")
    return address, port, number

