"""Pod-side and host-endpoint analysis shared by rules CA301-CA303 and CA401-CA406.

Everything here is built on the public API of :mod:`auditor.evaluator` (``pod_ingress``,
``outside_peer``, ``pod_peer``, ``rule_matches``…); it adds the questions those rules ask:

* which addresses are the nodes' (the source a pod sees after cluster-mode SNAT): HostEndpoint
  ``expectedIPs`` first (rule selectors match a host endpoint only through them, facts §3.1), then
  Node addresses; when neither is in the repository the node address is *unknown* and only an
  optimistic check is possible;
* which peers a rule's ``source`` stands for (representatives to evaluate with);
* the backends of a Service with their resolved target ports (named target ports resolve through
  container ports, facts §4 / issue step 3);
* rules that would admit a source but name the wrong port (CA403), so that CA402/CA405 do not
  report the same defect twice;
* host intent of a policy (flags only meaningful for host endpoints, facts §3.3) and whether a
  selector can be decided from the repository (namespace and service-account labels).
"""

from __future__ import annotations

import bisect
import ipaddress
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

from netaddr import IPAddress, IPNetwork, IPSet

from auditor import selector as sel
from auditor.model import (
    NS_LABEL,
    NS_PREFIX,
    SA_PREFIX,
    EntityRule,
    HostEndpoint,
    Policy,
    PolicyRule,
    Service,
    ServicePort,
    Workload,
)
from auditor.packet.evaluator import (
    EPHEMERAL_PORT,
    Evaluator,
    Packet,
    Peer,
    ServiceAddress,
    Verdict,
    entity_matches,
    representative,
    rule_matches,
    tests_labels,
)
from auditor.ports import PORT_PROTOCOLS, PROTOCOL_NUMBERS, PortRange, protocol_name
from auditor.wording import LIMIT, names

# Implicit label keys Calico derives from names alone (always known from the repository).
_NAME_KEYS = frozenset(
    {
        NS_PREFIX + "projectcalico.org/name",
        NS_PREFIX + "kubernetes.io/metadata.name",
        SA_PREFIX + "projectcalico.org/name",
    }
)


# ------------------------------------------------------------------------------------------
# Facts about policies and selectors
# ------------------------------------------------------------------------------------------


def host_flags(policy: Policy) -> list[str]:
    """The flags only meaningful for host endpoints (facts §3.3, globalnetworkpolicy.mdx)."""
    return [
        flag
        for flag, on in (
            ("preDNAT", policy.pre_dnat),
            ("doNotTrack", policy.do_not_track),
            ("applyOnForward", policy.apply_on_forward),
        )
        if on
    ]


def why_no_hosts(policy: Policy) -> str:
    """Why a policy can never select a HostEndpoint (facts §2.4), or "" when it can."""
    if not policy.is_global:
        return (
            f"a namespaced {'Kubernetes ' if policy.is_kubernetes else ''}NetworkPolicy only ever selects pods of its "
            f"namespace ({policy.namespace}), never a HostEndpoint"
        )
    if policy.namespace_selector is not None:
        return "a GlobalNetworkPolicy with `namespaceSelector` only selects namespaced pods, never a HostEndpoint"
    if policy.service_account_selector is not None:
        return "a GlobalNetworkPolicy with `serviceAccountSelector` only selects pods, never a HostEndpoint"
    return ""


def plain_selector(policy: Policy) -> sel.Selector | None:
    """The policy's own selector without Calico's namespace/service-account scoping."""
    if policy.is_kubernetes:
        try:
            chosen = sel.from_label_selector(policy.spec.get("podSelector"))
        except sel.LabelSelectorError:
            return None
        return sel.equals("projectcalico.org/orchestrator", "k8s").and_(chosen)
    if policy.selector is None:
        return sel.ALL
    return policy.selector.selector


def names_host(selector: sel.Selector | None, hep: HostEndpoint) -> bool:
    """The selector picks this host endpoint out by its own labels (not merely matching everything)."""
    if selector is None or selector.is_all() or not selector.matches(hep.labels):
        return False
    return bool(set(selector.label_keys()) & set(hep.labels))


def is_workload_scoped(entity: EntityRule, policy: Policy) -> bool:
    """True when Calico scopes this rule selector to namespaced endpoints (it can never match a host)."""
    if entity.services:
        return True
    if policy.is_kubernetes:
        return not entity.nets  # podSelector / namespaceSelector peers are pods only
    if entity.namespace_selector is not None:
        ns = entity.namespace_selector.selector
        return not (ns is not None and ns.is_exactly_global())
    if not policy.is_global and entity.effective_selector is not None:
        return True  # same-namespace restriction
    return bool(entity.service_account_names or entity.service_account_selector)


# ------------------------------------------------------------------------------------------
# The analysis object (one per run)
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeAddr:
    """One address a node can use as the SNAT source, and where the repository says so."""

    peer: Peer
    ip: IPAddress
    hep: HostEndpoint | None
    origin: str  # "expectedIPs" or "Node"
    node: str = ""  # the node's name

    @cached_property
    def labels(self) -> frozenset[tuple[str, str]]:
        """The host endpoint's own labels (empty for a Node address without one)."""
        return frozenset(self.hep.labels.items()) if self.hep is not None else frozenset()

    @property
    def label(self) -> str:
        if self.hep is not None:
            return f"{self.hep.name} {self.ip}"
        return f"node {self.peer.text or self.ip}"


@dataclass(frozen=True)
class Target:
    """A Service port as one backend receives it after DNAT."""

    port: ServicePort
    number: int | None  # resolved target port (None: named port the pods do not declare)
    protocol: int

    @property
    def text(self) -> str:
        target = self.port.effective_target
        shown = f"{self.number}/{protocol_name(self.protocol)}"
        if isinstance(target, str):
            shown += f" (targetPort `{target}`)"
        return shown


@dataclass(frozen=True)
class PortMistake:
    """An allow rule that admits the source but names another port than the target port (CA403)."""

    rule: PolicyRule
    ref: Any  # the ports item to point at
    workload: Workload
    service: Service
    target: Target
    why: str  # "service-port" or "other-port"
    source: Peer | None  # the source it would admit (None: no representative in the repository)


@dataclass(frozen=True)
class NodeDenial:
    """Nodes that a backend's ingress policy drops on a target port."""

    nodes: list[NodeAddr]  # empty: the node addresses are not in the repository
    verdict: Verdict | None  # one of the verdicts (None when the addresses are unknown)
    all_nodes: bool


class PodSide:
    def __init__(self, ev: Evaluator) -> None:
        self.ev = ev
        self.model = ev.model
        self.facts = ev.facts
        # Caches keyed by object identity; the cached values keep their keys' objects alive.
        self._policies: dict[Workload, tuple[Workload, list[Policy]]] = {}
        self._pods: dict[Workload, tuple[Workload, Peer]] = {}
        self._verdicts: dict[tuple[Workload, int, int, int], tuple[Peer, Verdict]] = {}
        self._backend_mistakes: dict[Workload, list[PortMistake]] = {}
        self._clients: dict[tuple[Workload, int], list[Peer]] = {}
        # Client classes per (family, ids of the ingress policies); the policies live as long as the model.
        self._clients_of: dict[tuple[int, ...], list[Peer]] = {}
        self._outside_clients: dict[int, Any] = {}
        self._described: dict[tuple[int, tuple[tuple[int, int], ...]], str] = {}  # AddressSet -> _describe
        self._splits: dict[tuple[int, frozenset[int]], Any] = {}
        self._node_indices: dict[int, list[list[int]]] = {}  # id(groups) -> per node, its addresses' groups
        self._sources: dict[PolicyRule, tuple[PolicyRule, list[Peer]]] = {}
        self._groups: dict[Workload, list[list[NodeAddr]]] = {}
        self._shapes: dict[tuple[Any, ...], list[list[NodeAddr]]] = {}
        self._partitions: dict[tuple[Any, ...], list[list[NodeAddr]]] = {}  # (keys, gaps split) -> groups
        self._named: dict[sel.Selector, list[HostEndpoint]] = {}
        self._distinct: dict[tuple[int, ...], list[Peer]] = {}  # (family, ids of policies) -> clients
        self._clients_by_cut: dict[tuple[int, bool, frozenset[tuple[int, int, int]]], list[Peer]] = {}

    # --- policies ----------------------------------------------------------------------------

    def ingress_policies(self, w: Workload) -> list[Policy]:
        """Enforced policies that select W and govern ingress, in Calico's evaluation order."""
        hit = self._policies.get(w)
        if hit is None:
            policies = [p for p in self.ev.policies_for_workload(w) if p.governs("ingress")]
            hit = self._policies[w] = (w, policies)
        return hit[1]

    def workloads_of(self, policy: Policy) -> list[Workload]:
        """The (non-hostNetwork) workloads the policy's selector matches, Calico scoping applied."""
        return self._selected.get(policy, [])

    @cached_property
    def _selected(self) -> dict[Policy, list[Workload]]:
        # A namespaced policy's selector requires `projectcalico.org/namespace == <its namespace>`, so
        # only that namespace's pods are candidates; global ones go through the model's label index.
        by_ns: dict[str, list[Workload]] = {}
        for w in self.model.workloads:
            if not w.host_network:
                by_ns.setdefault(w.endpoint_labels.get(NS_LABEL, ""), []).append(w)
        out: dict[Policy, list[Workload]] = {}
        for policy in self.model.policies:
            selector = policy.effective_selector
            if selector is None:
                continue
            if policy.is_global:
                out[policy] = self.model.workloads_matching(selector)
            else:
                candidates = by_ns.get(policy.namespace or "default", [])
                out[policy] = [w for w in candidates if selector.matches(w.endpoint_labels)]
        return out

    def selected(self, w: Workload) -> bool:
        return bool(self.ingress_policies(w))

    # --- services ----------------------------------------------------------------------------

    def backends(self, svc: Service) -> list[Workload]:
        """The Service's backend workloads that Calico polices (hostNetwork pods are host traffic)."""
        return self._backends.get(svc, [])

    @cached_property
    def _backends(self) -> dict[Service, list[Workload]]:
        by_ns: dict[str | None, list[Workload]] = {}
        for w in self.model.workloads:
            if not w.host_network:
                by_ns.setdefault(w.namespace, []).append(w)
        out: dict[Service, list[Workload]] = {}
        for svc in self.model.services:
            want = svc.selector
            if want is None:
                continue  # no selector: endpoints managed by hand (as Model.service_workloads)
            out[svc] = [
                w for w in by_ns.get(svc.namespace, []) if all(w.pod_labels.get(k) == v for k, v in want.items())
            ]
        return out

    def targets(self, svc: Service, w: Workload) -> list[Target]:
        out = []
        for sp in svc.ports:
            proto = PROTOCOL_NUMBERS.get(sp.protocol)
            if proto not in PORT_PROTOCOLS or sp.effective_target is None:
                continue
            out.append(Target(sp, w.resolve_port(sp.effective_target, sp.protocol), proto))
        return out

    def policed_targets(
        self, svc: Service, wanted: Callable[[Sequence[Policy]], bool] | None = None
    ) -> Iterator[tuple[Workload, list[Policy], Target]]:
        """The Service's backends that ingress policy selects, with those policies, on each target port that
        resolves and that no rule names by mistake (CA403 reports those). Backends no policy selects are open
        (CA103 reports an unprotected Service). ``wanted``: only backends whose policies it keeps."""
        for w in self.backends(svc):
            policies = self.ingress_policies(w)
            if not policies or (wanted is not None and not wanted(policies)):
                continue
            for target in self.targets(svc, w):
                if target.number is not None and not self.mistaken(svc, w, target.port.index):
                    yield w, policies, target

    def advertised(self, svc: Service) -> list[ServiceAddress]:
        return self._advertised.get(svc, [])

    @cached_property
    def _advertised(self) -> dict[Service, list[ServiceAddress]]:
        out: dict[Service, list[ServiceAddress]] = {}
        for address in self.ev.advertised_addresses():
            out.setdefault(address.service, []).append(address)
        return out

    @staticmethod
    def describe_addresses(addresses: Sequence[ServiceAddress]) -> str:
        return names(f"{a.how} {a.ip}" for a in addresses)

    @cached_property
    def local_backends(self) -> set[Workload]:
        """Workloads that back an advertised local-mode Service (clients keep their address)."""
        out: set[Workload] = set()
        for svc in self.model.services:
            if svc.local_mode and self.advertised(svc):
                out.update(self.backends(svc))
        return out

    # --- node addresses ------------------------------------------------------------------------

    @cached_property
    def node_addrs(self) -> list[NodeAddr]:
        """Known node addresses: HostEndpoint expectedIPs (with labels), and Node addresses where no host
        endpoint of the node lists one of that family."""
        out: list[NodeAddr] = []
        seen: set[str] = set()
        for hep in self.ev.host_endpoints:
            for raw in hep.valid_expected_ips:
                ip = IPAddress(str(raw))
                if str(ip) in seen:
                    continue
                seen.add(str(ip))
                peer = replace(
                    self.ev.outside_peer(ip),
                    kind="node",
                    host_endpoint=hep,
                    text=f"node {hep.node or hep.name} ({ip}, HostEndpoint {hep.name})",
                )
                out.append(NodeAddr(peer, ip, hep, "expectedIPs", hep.node or hep.name))
        # Node addresses of a family no host endpoint of that node lists (a dual-stack node whose host
        # endpoints carry only IPv4 expectedIPs still SNATs IPv6 flows to its IPv6 address).
        covered = {(a.hep.node, a.ip.version) for a in out if a.hep is not None}
        for node in self.model.nodes:
            for text in node.addresses:
                try:
                    ip = IPAddress(str(ipaddress.ip_address(text)))
                except ValueError:
                    continue
                if str(ip) in seen or (out and (node.name, ip.version) in covered):
                    continue
                seen.add(str(ip))
                peer = replace(self.ev.outside_peer(ip), kind="node", text=f"node {node.name} ({ip})")
                out.append(NodeAddr(peer, ip, None, "Node", node.name))
        return out

    @cached_property
    def node_ips(self) -> IPSet:
        return IPSet([str(n.ip) for n in self.node_addrs])

    def holds_node_address(self, net: IPNetwork) -> bool:
        """Some known node address lies in ``net`` (``IPSet([net]) & node_ips``, one bisect instead of a
        set intersection that grows with the nodes)."""
        points = self._node_points.get(net.version, [])
        i = bisect.bisect_left(points, int(net.first))
        return i < len(points) and points[i] <= int(net.last)

    @cached_property
    def _node_points(self) -> dict[int, list[int]]:
        """The node addresses as sorted integers, per family."""
        out: dict[int, list[int]] = {4: [], 6: []}
        for addr in self.node_addrs:
            out[int(addr.ip.version)].append(int(addr.ip))
        return {version: sorted(points) for version, points in out.items()}

    @cached_property
    def node_address_list(self) -> str:
        """The node addresses as messages list them (``names`` of every address, computed once)."""
        return names(str(a.ip) for a in self.node_addrs)

    @cached_property
    def heps_without_ips(self) -> list[HostEndpoint]:
        return [h for h in self.ev.host_endpoints if not h.valid_expected_ips]

    def hosts_named(self, selector: sel.Selector | None) -> list[HostEndpoint]:
        """Host endpoints (automatic ones included) the selector picks out by their own labels."""
        if selector is None or selector.is_all():
            return []
        hit = self._named.get(selector)
        if hit is None:
            hit = self._named[selector] = [
                h for h in self.model.host_endpoints_matching(selector) if names_host(selector, h)
            ]
        return hit

    def node_selector_hint(self) -> str:
        """A selector for the repository's host endpoints (labels they all share), for messages."""
        if self.facts.node_selector is not None:
            return str(self.facts.node_selector)
        heps = [h for h in self.ev.host_endpoints if not h.auto]
        if heps:
            common = set(heps[0].labels.items())
            for hep in heps[1:]:
                common &= set(hep.labels.items())
            if common:
                key, value = sorted(common)[0]
                return f"{key} == '{value}'"
        return "k8s-role == 'node'"

    # --- peers and verdicts --------------------------------------------------------------------

    def pod_peer(self, w: Workload) -> Peer:
        hit = self._pods.get(w)
        if hit is None:
            hit = self._pods[w] = (w, self.ev.pod_peer(w))
        return hit[1]

    def pod_packet(self, src: Peer, w: Workload, port: int, protocol: int) -> Packet:
        return Packet(src, self.pod_peer(w), port, protocol)

    def verdict(self, w: Workload, src: Peer, port: int, protocol: int) -> Verdict:
        """W's ingress verdict for ``src`` (the evaluator's ``pod_ingress``, with W's policies cached)."""
        key = (w, id(src), port, protocol)
        hit = self._verdicts.get(key)
        if hit is None:
            hit = self._verdicts[key] = (src, self.ev.pod_ingress(w, self.pod_packet(src, w, port, protocol)))
        return hit[1]

    @staticmethod
    def deciding_policy(verdict: Verdict) -> Policy | None:
        step = verdict.decisive
        return step.policy if step is not None else None

    @cached_property
    def _generic_outside(self) -> Peer | None:
        """An outside address that belongs to no network set or host endpoint."""
        universe = self.ev.outside_universe(4)
        for ips, _, _ in self.ev.labelled_nets:
            universe = _minus(universe, ips)
        universe = _minus(universe, self.node_ips)
        if not universe:
            return None
        return self.ev.outside_peer(representative(universe), text="any outside client")

    def source_peers(self, rule: PolicyRule) -> list[Peer]:
        """Representative peers that ``rule.source`` stands for (only those it really matches)."""
        hit = self._sources.get(rule)
        if hit is None:
            hit = self._sources[rule] = (rule, self._source_peers(rule))
        return hit[1]

    def _source_peers(self, rule: PolicyRule) -> list[Peer]:
        ent = rule.source
        model = self.model
        peers: list[Peer] = []
        if ent.services:
            name = ent.services.get("name")
            namespace = ent.services.get("namespace") or rule.policy.namespace
            for svc in model.services:
                if svc.name == name and (namespace is None or svc.namespace == namespace):
                    peers.extend(self.pod_peer(w) for w in self.backends(svc)[:LIMIT])
        elif ent.valid_nets:
            for net in ent.valid_nets:
                address = _inner_address(net)
                text = str(address) if net.size == 1 else f"{address} (in {net})"
                peers.append(self.ev.outside_peer(address, text=text))
        elif ent.effective_selector is not None:
            selector = ent.effective_selector
            peers.extend(self.pod_peer(w) for w in model.workloads_matching(selector)[:LIMIT])
            for addr in self.node_addrs:
                if any(selector.matches(lbl) for lbl in addr.peer.labels):
                    peers.append(addr.peer)
                    break
            for netset in model.network_sets_matching(selector)[:LIMIT]:
                if netset.valid_nets:
                    peers.append(self.ev.outside_peer(_inner_address(netset.valid_nets[0]), text=netset.name))
        else:
            generic = self._generic_outside
            if generic is not None:
                peers.append(generic)
            peers.extend(a.peer for a in self.node_addrs[:1])
        protocol = rule.protocol.value if rule.protocol is not None and rule.protocol.value else 6
        return [p for p in peers if entity_matches(ent, p, EPHEMERAL_PORT, protocol, model)]

    # --- unknown node addresses ----------------------------------------------------------------

    def could_admit_unknown_node(self, w: Workload, target: Target) -> bool:
        """Optimistic: could any rule admit a node whose address the repository does not give?

        Used only when no HostEndpoint expectedIPs and no Node addresses are known. A rule with
        ``nets`` might cover the node; a selector that is not scoped to pods might match a host
        endpoint defined elsewhere; ``Pass`` may hand the packet to a later tier that allows it.
        """
        assert target.number is not None
        pod = self.pod_peer(w)
        for policy in self.ingress_policies(w):
            for rule in policy.ingress:
                if rule.action not in ("Allow", "Pass"):
                    continue
                if rule.protocol is not None and rule.protocol.value != target.protocol:
                    continue
                if not entity_matches(rule.destination, pod, target.number, target.protocol, self.model):
                    continue
                src = rule.source
                if src.services or (src.effective_selector is not None and is_workload_scoped(src, policy)):
                    continue
                return True
        return False

    # --- nodes as the SNAT source (CA402) --------------------------------------------------------

    def node_groups(self, w: Workload) -> list[list[NodeAddr]]:
        """Node addresses W's ingress policies cannot tell apart (same labels, same side of every rule
        CIDR): one verdict per group is exact for all its members."""
        hit = self._groups.get(w)
        if hit is not None:
            return hit
        policies = self.ingress_policies(w)
        nets = tuple(sorted({(n.version, int(n.first), int(n.last)) for n in self.ev.rule_nets(policies)}))
        # Rule selectors only look at the label keys they name: other labels cannot tell nodes apart.
        keys: set[str] = set()
        for policy in policies:
            for rule in policy.ingress:
                for selector in (rule.source.effective_selector, rule.source.effective_not_selector):
                    if selector is not None:
                        keys.update(selector.label_keys())
        shape = (nets, frozenset(keys))
        out = self._shapes.get(shape)
        if out is None:
            # Membership in every rule CIDR is constant between consecutive CIDR boundaries, so the
            # boundary interval an address falls in stands for all the memberships at once.
            bounds = {v: sorted({b for n in nets if n[0] == v for b in (n[1], n[2] + 1)}) for v in (4, 6)}
            # Only boundaries that fall between two node addresses split them: shapes that put theirs in the
            # same gaps (most rule CIDRs hold all nodes or none) make the same groups, listed once.
            points = self._node_points
            gaps = tuple(
                frozenset(i for b in bounds[v] if 0 < (i := bisect.bisect_left(points[v], b)) < len(points[v]))
                for v in (4, 6)
            )
            out = self._partitions.get((shape[1], gaps))
        if out is None:
            groups: dict[tuple[Any, ...], list[NodeAddr]] = {}
            entries, label_sets = self._node_entries
            seen: dict[int, frozenset[frozenset[tuple[str, str]]]] = {}  # label class -> the labels keys see
            for addr, version, value, label_class in entries:
                visible = seen.get(label_class)
                if visible is None:
                    visible = seen[label_class] = frozenset(
                        frozenset(kv for kv in lbl if kv[0] in keys) for lbl in label_sets[label_class]
                    )
                key = (version, visible, bisect.bisect_right(bounds[version], value))
                groups.setdefault(key, []).append(addr)
            out = self._partitions[(shape[1], gaps)] = list(groups.values())
        self._shapes[shape] = out
        self._groups[w] = out
        return out

    @cached_property
    def _node_entries(
        self,
    ) -> tuple[list[tuple[NodeAddr, int, int, int]], list[tuple[frozenset[tuple[str, str]], ...]]]:
        """Per node address: its family, its address as an integer and its label class (an index into the
        second list: the distinct label sets), computed once for every grouping :meth:`node_groups` makes."""
        classes: dict[tuple[frozenset[tuple[str, str]], ...], int] = {}
        entries = []
        for addr in self.node_addrs:
            labels = tuple(frozenset(lbl.items()) for lbl in addr.peer.labels)
            entries.append((addr, int(addr.ip.version), int(addr.ip), classes.setdefault(labels, len(classes))))
        return entries, list(classes)

    def nodes_denied(self, w: Workload, target: Target) -> NodeDenial | None:
        """Which nodes W's ingress policy drops on the target port, or None when the nodes get in (or when
        only missing ``expectedIPs`` stop them, which CA303 reports)."""
        assert target.number is not None
        if self._hypothetical_allows(w, target):
            return None
        if self.node_addrs:
            groups = self.node_groups(w)
            verdicts = [self.verdict(w, group[0].peer, target.number, target.protocol) for group in groups]
            allowed = frozenset(i for i, v in enumerate(verdicts) if v.allowed)
            # Which nodes get in depends only on which groups are allowed: computed once per pattern.
            key = (id(groups), allowed)
            split = self._splits.get(key)
            if split is None:
                split = self._splits[key] = self._split_nodes(groups, allowed)
            denied, admitted, first_denied_group = split
            example = verdicts[first_denied_group] if first_denied_group is not None else None
            families = {version for version, _ in admitted}
            if denied and admitted:
                # Some nodes get in (per address family). A denied node labelled like an admitted one of its
                # family differs only by address (nets/ipBlock missing it): a gap. One labelled differently
                # (a gateway, an edge host) may not be a Service node at all, and a mislabelled one is
                # CA301's: stay quiet about those. A family no node gets in at all is denied outright.
                # Automatic host endpoints are the Kubernetes nodes themselves: each runs kube-proxy and SNATs
                # Service traffic, so a differently labelled one is a node the pods do not admit.
                denied = [
                    a
                    for a in denied
                    if a.ip.version not in families
                    or (a.ip.version, a.labels) in admitted
                    or (a.hep is not None and a.hep.auto)
                ]
            if not denied:
                return None
            return NodeDenial(denied, example, not admitted)
        if self.could_admit_unknown_node(w, target):
            return None
        return NodeDenial([], None, True)

    def _split_nodes(
        self, groups: list[list[NodeAddr]], allowed: frozenset[int]
    ) -> tuple[list[NodeAddr], set[tuple[int, frozenset[tuple[str, str]]]], int | None]:
        """Denied node addresses, labels of admitted nodes, and a group that was denied."""
        # Which group each node's addresses fall in depends on the groups only: listed once per grouping
        # (the groupings live in ``_shapes``), not once per allowed pattern.
        indices_of = self._node_indices.get(id(groups))
        if indices_of is None:
            group_of = {id(addr): i for i, group in enumerate(groups) for addr in group}
            indices_of = self._node_indices[id(groups)] = [[group_of[id(a)] for a in addrs] for addrs in self._by_node]
        denied: list[NodeAddr] = []
        admitted: set[tuple[int, frozenset[tuple[str, str]]]] = set()
        first: int | None = None
        for addrs, indices in zip(self._by_node, indices_of, strict=True):
            if any(i in allowed for i in indices):
                admitted.update((a.ip.version, a.labels) for a in addrs)
                continue
            denied.extend(addrs)
            first = indices[0] if first is None else first
        return denied, admitted, first

    @cached_property
    def _by_node(self) -> list[list[NodeAddr]]:
        """Node addresses per node: one node, several addresses (interfaces, tunnel). The SNAT source is
        one of them, so a node gets in when any of its addresses does."""
        by_node: dict[tuple[str, int], list[NodeAddr]] = {}
        for addr in self.node_addrs:
            # Per family: an IPv6 flow is SNATed to the node's IPv6 address, an IPv4 one to an IPv4 address.
            by_node.setdefault((addr.node or addr.peer.text, addr.ip.version), []).append(addr)
        return list(by_node.values())

    def _hypothetical_allows(self, w: Workload, target: Target) -> bool:
        """Would a host endpoint without expectedIPs be admitted if rules could see its address?"""
        assert target.number is not None
        number, protocol = target.number, target.protocol
        return any(self.verdict(w, peer, number, protocol).allowed for peer in self._hypothetical_peers)

    @cached_property
    def _hypothetical_peers(self) -> list[Peer]:
        """One peer per label set of the host endpoints without addresses (labels only, no IP)."""
        out: dict[frozenset[tuple[str, str]], Peer] = {}
        for hep in self.heps_without_ips:
            key = frozenset(hep.labels.items())
            if key not in out:
                out[key] = Peer(
                    "node", None, IPSet(), (hep.labels,), host_endpoint=hep, text=f"HostEndpoint {hep.name}"
                )
        return list(out.values())

    def scoped_host_rules(self, w: Workload) -> list[PolicyRule]:
        """Rules whose source selector names host endpoints but is scoped to the policy's namespace."""
        heps = [h for h in self.ev.host_endpoints if h.valid_expected_ips]
        out = []
        for policy in self.ingress_policies(w):
            if policy.is_global or policy.is_kubernetes:
                continue
            for rule in policy.ingress:
                ref = rule.source.selector
                if rule.source.namespace_selector is not None or ref is None or ref.selector is None:
                    continue
                if any(ref.selector.matches(h.labels) for h in heps):
                    out.append(rule)
        return out

    # --- expected sources ---------------------------------------------------------------------

    def client_peers(self, w: Workload, version: int) -> list[Peer]:
        """One outside client per class of addresses W's ingress policies tell apart (node addresses,
        pod and service ranges excluded)."""
        hit = self._clients.get((w, version))
        if hit is not None:
            return hit
        policies = self.ingress_policies(w)
        # The classes depend only on the policies (and the family): workloads the same policies select
        # share them, and the outside universe less the node addresses is computed once per family.
        shared = (version, *map(id, policies))
        peers = self._clients_of.get(shared)
        if peers is None:
            # Policy sets whose rules cut the addresses at the same places (and that test labels alike)
            # split them into the same classes: computed once per cut (each split walks every node address).
            nets = self.ev.rule_nets(policies)
            labels = tests_labels(policies)
            cut = (version, labels, frozenset((n.version, int(n.first), int(n.last)) for n in nets))
            peers = self._clients_by_cut.get(cut)
            if peers is None:
                peers = self._clients_by_cut[cut] = self._client_peers(nets, labels, version)
            self._clients_of[shared] = peers
        self._clients[(w, version)] = peers
        return peers

    def distinct_client_peers(self, w: Workload, version: int) -> list[Peer]:
        """:meth:`client_peers` less every client W's ingress policies cannot tell from an earlier one
        (see :func:`source_signature`): it gets the same verdict and matches the same rules. Order is kept."""
        policies = self.ingress_policies(w)
        key = (version, *map(id, policies))
        hit = self._distinct.get(key)
        if hit is None:
            hit = self._distinct[key] = _first_per_signature(self.client_peers(w, version), self.ev.rule_nets(policies))
        return hit

    def _client_peers(self, nets: Sequence[IPNetwork], labels: bool, version: int) -> list[Peer]:
        universe = self._outside_clients.get(version)
        if universe is None:
            universe = self._outside_clients[version] = _minus(self.ev.outside_universe(version), self.node_ips)
        peers = []
        for ipset in self.ev.classes_at(universe, nets, labels):
            rep = representative(ipset)
            if rep.version == version:
                # Workloads with similar policies share classes: describe each distinct class once.
                key = (ipset.version, ipset.intervals)
                text = self._described.get(key)
                if text is None:
                    text = self._described[key] = _describe(ipset)
                peers.append(self.ev.outside_peer(rep, text=text))
        return peers

    def expected_sources(self, svc: Service, w: Workload) -> list[Peer]:
        """The sources a backend must admit for outside traffic through an advertised Service:
        the nodes in cluster mode (SNAT), the clients in local mode."""
        addresses = self.advertised(svc)
        if not addresses:
            return []
        if svc.local_mode:
            versions = sorted({int(a.ip.version) for a in addresses})
            return [p for v in versions for p in self.client_peers(w, v)]
        return [group[0].peer for group in self.node_groups(w)]

    def distinct_sources(self, svc: Service, w: Workload) -> list[Peer]:
        """:meth:`expected_sources` less every source W's ingress policies cannot tell from an earlier one
        (the same family, the same side of every rule CIDR, the same labels): each verdict, each rule match
        is the same for both, so the earlier one answers for it. Order is kept."""
        addresses = self.advertised(svc)
        if not svc.local_mode or not addresses:
            return self.expected_sources(svc, w)
        # The sources of different families never share a signature: the families one by one.
        versions = sorted({int(a.ip.version) for a in addresses})
        return [p for v in versions for p in self.distinct_client_peers(w, v)]

    # --- wrong ports (CA403) -------------------------------------------------------------------

    @cached_property
    def port_mistakes(self) -> list[PortMistake]:
        """Allow rules that admit a source on a port the pods do not receive, while that source is
        denied on the target port (every Service with backends in the repository)."""
        return self.mistakes()

    def mistakes(self, wanted: Callable[[Workload], bool] | None = None) -> list[PortMistake]:
        """:attr:`port_mistakes`, of the backends ``wanted`` keeps only (all without it), in the same order:
        per Service, per backend."""
        out: list[PortMistake] = []
        for svc in self.model.services:
            for w in self.backends(svc) if svc.type != "ExternalName" else ():
                if wanted is None or wanted(w):
                    out += [m for m in self._mistakes_of(w) if m.service is svc]
        return out

    def _mistakes_of(self, w: Workload) -> list[PortMistake]:
        """The port mistakes of one backend, over the Services it backs in the model's order; a rule's
        item counts once per backend (for the first Service it explains)."""
        hit = self._backend_mistakes.get(w)
        if hit is not None:
            return hit
        out: list[PortMistake] = []
        policies = self.ingress_policies(w)
        seen: set[tuple[int, int]] = set()
        for svc in self._services_of.get(w, ()) if policies else ():
            expected = self.distinct_sources(svc, w)
            for target in self.targets(svc, w):
                if target.number is None:
                    continue
                found = [*self._mistakes_for(svc, w, target, policies, expected)]
                found += self._unknown_names(svc, w, target, policies, expected)
                for mistake in found:
                    key = (id(mistake.rule), id(mistake.ref))
                    if key not in seen:
                        seen.add(key)
                        out.append(mistake)
        self._backend_mistakes[w] = out
        return out

    @cached_property
    def _services_of(self) -> dict[Workload, list[Service]]:
        """The Services each backend serves, in the model's order (ExternalName ones have no backends)."""
        out: dict[Workload, list[Service]] = {}
        for svc in self.model.services:
            if svc.type != "ExternalName":
                for w in self.backends(svc):
                    out.setdefault(w, []).append(svc)
        return out

    def mistaken(self, svc: Service, w: Workload, index: int) -> bool:
        """A port mistake explains (Service, backend, Service port ``index``): CA402/CA405 skip it."""
        return any(m.service is svc and m.target.port.index == index for m in self._mistakes_of(w))

    def _mistakes_for(
        self, svc: Service, w: Workload, target: Target, policies: Sequence[Policy], expected: Sequence[Peer]
    ) -> Iterable[PortMistake]:
        assert target.number is not None
        number, protocol = target.number, target.protocol
        service_port = target.port.port
        # (a) an allow rule names the Service port (not the target port) for its own sources.
        if service_port is not None and service_port != number and service_port not in _declared(w, protocol):
            for policy in policies:
                for rule in policy.ingress:
                    ref = _numeric_item(rule, service_port)
                    if ref is None or rule.action != "Allow" or _numeric_item(rule, number) is not None:
                        continue
                    witnesses = [
                        s
                        for s in self.source_peers(rule)
                        if rule_matches(rule, self.pod_packet(s, w, service_port, protocol), self.model)
                    ]
                    denied = [s for s in witnesses if not self.verdict(w, s, number, protocol).allowed]
                    if denied:
                        yield PortMistake(rule, ref, w, svc, target, "service-port", denied[0])
                    elif not witnesses and not self._any_rule_covers(w, number, protocol):
                        yield PortMistake(rule, ref, w, svc, target, "service-port", None)
        # (b) the expected sources are admitted by a rule, but on another port. For the nodes (cluster mode)
        # any other port is suspect: nodes reach pods only for SNAT'd Service traffic (host-to-local-pod
        # traffic such as kubelet probes is always allowed). Clients (local mode) may legitimately reach other
        # ports of the pods, so there only the Service port counts.
        declared = _declared(w, protocol)
        other_ports = not svc.local_mode
        svc_ports = [sp.port for sp in svc.ports if sp.port is not None]
        for src in expected:
            if self.verdict(w, src, number, protocol).allowed:
                continue
            for policy in policies:
                for rule in policy.ingress:
                    if rule.action != "Allow":
                        continue
                    numeric = [r for r in rule.destination.ports if isinstance(r.value, PortRange)]
                    if not numeric or any(r.value.lo <= number <= r.value.hi for r in numeric):
                        continue
                    if any(r.value.lo <= d <= r.value.hi for r in numeric for d in declared):
                        continue  # the rule is about ports the pods really listen on
                    for ref in numeric:
                        if any(ref.value.lo <= p <= ref.value.hi for p in svc_ports) and not (
                            service_port is not None and ref.value.lo <= service_port <= ref.value.hi
                        ):
                            continue  # another Service port: reported for that port
                        probe = (
                            service_port
                            if (service_port is not None and ref.value.lo <= service_port <= ref.value.hi)
                            else ref.value.lo
                        )
                        why = "service-port" if probe == service_port else "other-port"
                        if why == "other-port" and not other_ports:
                            continue
                        if rule_matches(rule, self.pod_packet(src, w, probe, protocol), self.model):
                            yield PortMistake(rule, ref, w, svc, target, why, src)
                            break

    def _unknown_names(
        self, svc: Service, w: Workload, target: Target, policies: Sequence[Policy], expected: Sequence[Peer]
    ) -> Iterable[PortMistake]:
        """(c) A rule would admit an expected source, but names a port the pods do not declare (for that
        protocol), so it matches nothing of theirs: a named port with a typo, say."""
        assert target.number is not None
        number, protocol = target.number, target.protocol
        proto = protocol_name(protocol)
        for src in expected:
            if self.verdict(w, src, number, protocol).allowed:
                continue
            for policy in policies:
                for rule in policy.ingress:
                    if rule.action != "Allow" or (rule.protocol is not None and rule.protocol.value != protocol):
                        continue
                    unknown = [
                        r
                        for r in rule.destination.ports
                        if isinstance(r.value, str) and w.resolve_port(r.value, proto) is None
                    ]
                    if not unknown:
                        continue
                    anywhere = replace(rule.destination, ports=(), not_ports=())
                    pkt = self.pod_packet(src, w, number, protocol)
                    if entity_matches(rule.source, src, pkt.src_port, protocol, self.model) and entity_matches(
                        anywhere, pkt.dst, number, protocol, self.model
                    ):
                        yield PortMistake(rule, unknown[0], w, svc, target, "unknown-name", src)

    def _any_rule_covers(self, w: Workload, number: int, protocol: int) -> bool:
        """Could any rule of W's ingress policies admit something on this port at all?"""
        for policy in self.ingress_policies(w):
            for rule in policy.ingress:
                if rule.action not in ("Allow", "Pass"):
                    continue
                if rule.protocol is not None and rule.protocol.value != protocol:
                    continue
                dst = rule.destination
                covered = not dst.ports or _port_covered(dst.ports, number, w, protocol)
                if covered and not (dst.not_ports and _port_covered(dst.not_ports, number, w, protocol)):
                    return True
        return False


def source_signature(peer: Peer, bounds: Mapping[int, Sequence[int]]) -> tuple[Any, ...] | None:
    """What rules see of an outside source: its family, how many CIDR boundaries of the rules (``bounds``:
    per family, sorted, each net's first address and the one after its last, nets and notNets alike) lie
    at or below its address, and its labels (network sets, host endpoints). Between two boundaries every
    net holds all addresses or none, so two sources with the same signature match the same rules. None
    for a source that is not a plain outside address."""
    if peer.ip is None or peer.workload is not None or peer.host_endpoint is not None or peer.kind != "outside":
        return None
    version = peer.ip.version
    below = bisect.bisect_right(bounds.get(version, ()), int(peer.ip))
    return version, below, tuple(frozenset(labels.items()) for labels in peer.labels)


def net_bounds(nets: Iterable[IPNetwork]) -> dict[int, list[int]]:
    """The boundaries :func:`source_signature` counts, per family."""
    points: dict[int, set[int]] = {4: set(), 6: set()}
    for net in nets:
        points[net.version].update((int(net.first), int(net.last) + 1))
    return {version: sorted(found) for version, found in points.items()}


def _first_per_signature(peers: Sequence[Peer], nets: Sequence[IPNetwork]) -> list[Peer]:
    bounds = net_bounds(nets)
    seen: set[tuple[Any, ...]] = set()
    out: list[Peer] = []
    for peer in peers:
        signature = source_signature(peer, bounds)
        if signature is None:
            out.append(peer)
        elif signature not in seen:
            seen.add(signature)
            out.append(peer)
    return out


def _minus(universe: Any, ips: IPSet) -> Any:
    """``universe - ips`` for the evaluator's address sets (``netaddr.IPSet`` or its interval sets)."""
    if isinstance(universe, IPSet):
        return universe - ips
    return universe - type(universe).of(universe.version, [ips])


def _declared(w: Workload, protocol: int) -> set[int]:
    return {p.port for p in w.container_ports if PROTOCOL_NUMBERS.get(p.protocol) == protocol}


def _numeric_item(rule: PolicyRule, port: int) -> Any | None:
    for ref in rule.destination.ports:
        if isinstance(ref.value, PortRange) and ref.value.lo <= port <= ref.value.hi:
            return ref
    return None


def _port_covered(refs: Sequence[Any], port: int, w: Workload, protocol: int) -> bool:
    for ref in refs:
        value = ref.value
        if isinstance(value, PortRange) and value.lo <= port <= value.hi:
            return True
        if isinstance(value, str) and w.resolve_port(value, protocol_name(protocol)) == port:
            return True
    return False


def _describe(ipset: Any) -> str:
    cidrs = ipset.first_cidrs(3) if hasattr(ipset, "first_cidrs") else ipset.iter_cidrs()[:3]
    text = ", ".join(str(c) for c in cidrs[:2])
    return text + (" and more" if len(cidrs) > 2 else "")


def _inner_address(net: IPNetwork) -> IPAddress:
    """An address inside ``net`` (the first host address for networks larger than /31)."""
    if net.size > 2:
        return IPAddress(net.first + 1, net.version)
    return IPAddress(net.first, net.version)


def decidable(selector: sel.Selector, model: Any) -> bool:
    """False when the selector uses namespace or service-account labels the repository cannot tell.

    ``pcns.<key>`` labels come from Namespace objects and ``pcsa.<key>`` from ServiceAccounts
    (facts §2.4): when a workload's Namespace (or ServiceAccount) is not in the repository, its
    labels are unknown and "matches nothing" cannot be concluded.
    """
    keys = selector.label_keys()
    ns_keys = [k for k in keys if k.startswith(NS_PREFIX) and k not in _NAME_KEYS]
    sa_keys = [k for k in keys if k.startswith(SA_PREFIX) and k not in _NAME_KEYS]
    if ns_keys and any((w.namespace or "default") not in model.namespaces for w in model.workloads):
        return False
    return not (
        sa_keys
        and any(((w.namespace or "default"), w.service_account) not in model.service_accounts for w in model.workloads)
    )
