"""The questions rules, ``audit trace`` and the exposure map ask of the packet path.

This is the one door to :mod:`auditor.packet.evaluator` (host side: host endpoints, untracked and
pre-DNAT policy, kube-proxy, forward and host policy) and :mod:`auditor.packet.podside` (pod side:
the Service's pods and their ingress policy). Rules get a :class:`Questions` from ``ctx.packet``:

* *who reaches this address and port, and through which steps* — :meth:`Questions.who_reaches`,
  :meth:`Questions.service_flow`;
* *what does this flow do* — :meth:`Questions.flow` (outside to a Service address, a host or a pod),
  :meth:`Questions.host_egress`, :meth:`Questions.forward`;
* *does this rule ever decide* — :meth:`Questions.chain_decision` (the flow an earlier rule decides);

and every answer that backs a finding is a :class:`~auditor.findings.Witness`: the concrete flow with the
evaluator's verdict and its steps, placed in the manifests, replayable with ``audit trace``
(:meth:`Questions.replay`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from functools import cached_property

from netaddr import IPAddress, IPSet

from auditor.addrset import AddressSet
from auditor.config import Config
from auditor.findings import FlowStep, Location, Witness
from auditor.model import (
    NS_LABEL,
    ORCH_LABEL,
    EntityRule,
    HostEndpoint,
    Model,
    Policy,
    PolicyRule,
    Service,
    ServicePort,
    Workload,
)
from auditor.model.facts import ClusterFacts
from auditor.packet.evaluator import (
    EPHEMERAL_PORT,
    NO_ADDRESSES,
    TCP,
    UDP,
    AddressKind,
    Backend,
    Evaluator,
    Packet,
    Peer,
    ServiceAddress,
    SourceClass,
    Step,
    Verdict,
    address_classes,
    entity_matches,
    labels_satisfying,
    parse_flow_destination,
    representative,
    rule_matches,
)
from auditor.packet.podside import (
    NodeDenial,
    PodSide,
    PortMistake,
    Target,
    decidable,
    host_flags,
    names_host,
    plain_selector,
    why_no_hosts,
)
from auditor.ports import PROTOCOL_NUMBERS, protocol_name

__all__ = [
    "ANY_POD",
    "NO_ADDRESSES",
    "TCP",
    "UDP",
    "AddressKind",
    "AddressSet",
    "Backend",
    "Evaluator",
    "NodeDenial",
    "Packet",
    "Peer",
    "PodSide",
    "PortMistake",
    "Questions",
    "ServiceAddress",
    "SourceClass",
    "Step",
    "Target",
    "Verdict",
    "address_classes",
    "decidable",
    "entity_matches",
    "host_flags",
    "is_sample",
    "names_host",
    "parse_flow_destination",
    "plain_selector",
    "representative",
    "rule_matches",
    "sample_address",
    "sample_pod",
    "why_no_hosts",
]

# A pod on another node, as host-endpoint rules see it: some namespaced Kubernetes workload.
ANY_POD = {NS_LABEL: "", ORCH_LABEL: "k8s"}


# Addresses a reader recognises as "some client on the Internet" (RFC 5737 / RFC 3849 documentation ranges),
# used as the witness client when the class holds one; every address of a class gets the same verdict.
_SAMPLE_CLIENTS = tuple(IPAddress(a) for a in ("198.51.100.7", "203.0.113.7", "192.0.2.7", "2001:db8::7"))


def sample_address(ips: AddressSet | IPSet | IPAddress) -> IPAddress:
    """A readable member of ``ips`` to show as the witness source (all members are treated alike)."""
    if isinstance(ips, IPAddress):
        return ips
    for candidate in _SAMPLE_CLIENTS:
        if candidate in ips:
            return candidate
    first = representative(ips)
    if int(first) % 256 == 0:
        nxt = IPAddress(int(first) + 1, first.version)
        if nxt in ips:
            return nxt
    return first


def is_sample(ips: AddressSet | IPSet) -> bool:
    """``ips`` holds one of the readable witness clients."""
    return any(candidate in ips for candidate in _SAMPLE_CLIENTS)


def sample_pod(pods: IPSet, avoid: AddressSet | IPSet | None = None) -> IPAddress:
    """A pod address as a witness source: inside the pod CIDR, outside ``avoid`` when it can be."""
    fallback = None
    for cidr in pods.iter_cidrs():
        for offset in (cidr.size // 2 + 5, 5, 1):
            if offset < cidr.size:
                ip = IPAddress(int(cidr.first) + offset, cidr.version)
                fallback = fallback or ip
                if avoid is None or ip not in avoid:
                    return ip
    return fallback or representative(pods)


def steps_of(verdict: Verdict) -> tuple[FlowStep, ...]:
    """The evaluator's steps as witness steps, each placed at the rule, policy, Service or host endpoint."""
    return tuple(FlowStep(s.stage, s.outcome, s.text, s.at) for s in verdict.steps)


class Questions:
    """The packet-path questions of one run (one model, one configuration)."""

    def __init__(self, model: Model, config: Config) -> None:
        self.model = model
        self.config = config
        self.ev = Evaluator(model, config)

    @cached_property
    def pods(self) -> PodSide:
        return PodSide(self.ev)

    @property
    def facts(self) -> ClusterFacts:
        return self.ev.facts

    # --- who reaches what ----------------------------------------------------------------------

    def who_reaches(
        self, address: ServiceAddress, port: ServicePort, hep: HostEndpoint | None, remember: bool = True
    ) -> list[SourceClass]:
        """Outside sources, class by class, and whether each reaches ``address``:``port`` through ``hep``."""
        return self.ev.reachability(address, port, hep, remember=remember)

    def who_reaches_unlisted(
        self, address: ServiceAddress, port: ServicePort, heps: Sequence[HostEndpoint]
    ) -> list[AddressSet]:
        """For each of ``heps``: the outside sources that reach ``address``:``port`` through it past any
        pre-DNAT/untracked allow-list (the union of :meth:`who_reaches`' ``reaches_unlisted`` classes)."""
        return self.ev.unlisted_reach(address, port, heps)

    @staticmethod
    def mode_of(svc: Service) -> str:
        return "local" if svc.local_mode else "cluster"

    def service_flow(
        self,
        address: ServiceAddress,
        port: ServicePort,
        hep: HostEndpoint | None,
        sources: AddressSet | IPSet | IPAddress,
        allowed: bool,
        accept: Callable[[Verdict], bool] | None = None,
        workload: Workload | None = None,
    ) -> Witness | None:
        """The witness that a source of ``sources`` is ``allowed`` (or not) to ``address``:``port`` through
        ``hep``: one concrete client, the backend whose verdict says so, and every step. None when the
        evaluator does not back the claim for that client."""
        src = sample_address(sources)
        client = self.ev.outside_peer(src)
        results = self.ev.to_service(client, hep, address.service, port, address.ip, address.how)
        for backend, verdict in results:
            if verdict.allowed != allowed:
                continue
            if accept is not None and not accept(verdict):
                continue
            if workload is not None and backend.workload is not workload:
                continue
            return self._witness(
                verdict,
                src,
                address.ip,
                self.dport(address, port),
                PROTOCOL_NUMBERS.get(port.protocol, TCP),
                hep,
                self.mode_of(address.service),
                _backend_text(backend),
            )
        return None

    def unpinned_exposure(self, service: Service, ip: IPAddress) -> Witness | None:
        """A flow from outside that reaches ``service`` when Kubernetes assigns it the cluster IP ``ip``
        (through any host endpoint, on any of its ports), or None when the packet path stops every one."""
        address = ServiceAddress(service, ip, AddressKind.CLUSTER_IP, ("spec", "clusterIP"), True)
        for port in service.ports:
            for hep in self.ev.ingress_groups():
                for cls in self.ev.reachability(address, port, hep, remember=False):
                    if cls.reaches:
                        found = self.service_flow(address, port, hep, cls.ips, True)
                        if found is not None:
                            return replace(found, service=f"{service.namespace}/{service.name}")
        return None

    def edge_intends(self, address: ServiceAddress, hep: HostEndpoint | None) -> bool:
        """An Allow of ``hep``'s untracked, pre-DNAT or forward policy names ``address`` among its
        destinations: the address is meant to be reachable from outside through that host endpoint."""
        if hep is None:
            return False
        mine = set(self.ev.policies_for_hep(hep))
        return any(
            rule.action == "Allow"
            and policy in mine
            and (policy.pre_dnat or policy.do_not_track or policy.apply_on_forward)
            for policy, rule, _ in self.ev.host_rules_naming(address.ip)
        )

    def denied_at_pod(
        self,
        service: Service,
        port: ServicePort,
        workload: Workload,
        intended_only: bool,
        sources: AddressSet | None = None,
    ) -> Witness | None:
        """A flow from outside to one of ``service``'s advertised addresses that the host endpoints let
        through, kube-proxy delivers to ``workload``, and the pod's ingress policy drops.

        ``intended_only`` asks for an address some edge Allow names (the Service is meant to be reachable);
        ``sources`` narrows the clients (the ones a pod rule names, say)."""
        for address in self.pods.advertised(service):
            groups = self.ev.ingress_groups()
            # Intent is the address's: an edge Allow on some host endpoints means it to be reachable, and
            # traffic to it arrives through every node (ECMP), those the Allow does not select included.
            if intended_only and not any(self.edge_intends(address, hep) for hep in groups):
                continue
            for hep in groups:
                for cls in self.ev.reachability(address, port, hep):
                    ips = cls.ips if sources is None else cls.ips & sources
                    if not ips:
                        continue
                    found = self.service_flow(address, port, hep, ips, False, _decided_at_pod, workload)
                    if found is not None:
                        return found
        return None

    def pod_chain(self, workload: Workload, source: Peer, port: int, protocol: int, allowed: bool) -> Witness | None:
        """The pod's own ingress verdict for ``source`` on ``port`` (a witness of kind ``chain``: the last hop
        of a flow, for claims about pod policy that need no outside route)."""
        verdict = self.pods.verdict(workload, source, port, protocol)
        if verdict.allowed != allowed:
            return None
        return Witness(
            kind="chain",
            allowed=verdict.allowed,
            source=str(source),
            destination=f"{workload.kind} {workload.namespace}/{workload.name}",
            port=port,
            protocol=protocol_name(protocol),
            steps=steps_of(verdict),
            mode="pod",
            target=f"{workload.kind} {workload.namespace}/{workload.name}",
            assumptions=tuple(h.assumed for h in (source.host_endpoint,) if h is not None and h.assumed),
        )

    @staticmethod
    def dport(address: ServiceAddress, port: ServicePort) -> int:
        return port.node_port if address.how == AddressKind.NODE_PORT and port.node_port else (port.port or 0)

    # --- what does this flow do ------------------------------------------------------------------

    def flow(
        self, src: IPAddress, dst: IPAddress, port: int, protocol: int, via: HostEndpoint | None, service: str = ""
    ) -> list[tuple[str, Verdict]]:
        """Everything the repository says about one packet from ``src`` (outside, or a pod when inside
        the pod CIDR) to ``dst``:``port``/``protocol`` arriving through ``via``: one verdict per target
        (backend pod, host, pod). Empty when ``dst`` is nothing the manifests know."""
        ev = self.ev
        mapped = ev.service_for(dst, port, protocol) if not service else self.assigned(service, dst, port, protocol)
        if mapped is not None:
            svc, sp, how = mapped
            client = self.source_peer(src)
            return [(_backend_text(b), v) for b, v in ev.to_service(client, via, svc, sp, dst, how)]
        if via is not None and any(IPAddress(str(ip)) == dst for ip in via.valid_expected_ips):
            return [(f"host {via.node or via.name}", ev.to_host(self.source_peer(src), via, port, protocol))]
        if dst in ev.facts.pod_cidrs and via is not None:
            pkt = Packet(self.source_peer(src), self.pod_address(dst), port, protocol)
            return [(f"pod {dst}", ev.forwarded(via, pkt))]
        return []

    def assigned(
        self, service: str, ip: IPAddress, port: int, protocol: int
    ) -> tuple[Service, ServicePort, str] | None:
        """``ip``:``port`` as the cluster IP Kubernetes assigns to Service ``namespace/name`` (not pinned)."""
        namespace, _, name = service.rpartition("/")
        for svc in self.model.services:
            if svc.name == name and (svc.namespace or "") == namespace:
                for sp in svc.ports:
                    if sp.port == port and PROTOCOL_NUMBERS.get(sp.protocol, TCP) == protocol:
                        return svc, sp, AddressKind.CLUSTER_IP
        return None

    def source_peer(self, src: IPAddress) -> Peer:
        """A client: a pod on another node when ``src`` is in the pod CIDR, else an outside address."""
        if src in self.ev.facts.pod_cidrs:
            return Peer("pod", src, NO_ADDRESSES, (ANY_POD,), text=f"a pod on another node ({src})")
        return self.ev.outside_peer(src)

    @staticmethod
    def pod_address(dst: IPAddress) -> Peer:
        return Peer("pod", dst, NO_ADDRESSES, (ANY_POD,), text=f"pod {dst}")

    def host_ingress(self, hep: HostEndpoint, src: IPAddress, port: int, protocol: int) -> Witness:
        """An outside client to a process on the host behind ``hep`` (on its first expected IP)."""
        verdict = self.ev.to_host(self.ev.outside_peer(src), hep, port, protocol)
        dst = hep.valid_expected_ips[0] if hep.valid_expected_ips else None
        return self._witness(verdict, src, dst, port, protocol, hep, "host", f"host {hep.node or hep.name}")

    def host_egress(self, hep: HostEndpoint, dst: IPAddress, port: int, protocol: int) -> Witness:
        """A process on the host behind ``hep`` to a remote address."""
        verdict = self.ev.from_host(hep, self.ev.outside_peer(dst), port, protocol)
        src = hep.valid_expected_ips[0] if hep.valid_expected_ips else f"host {hep.node or hep.name}"
        return self._witness(
            verdict, src, dst, port, protocol, hep, "host", f"host {hep.node or hep.name}", direction="egress"
        )

    def forward(self, hep: HostEndpoint, src: IPAddress, dst: IPAddress, port: int, protocol: int) -> Witness:
        """Traffic from ``src`` forwarded through ``hep`` to the pod address ``dst`` (pod-to-pod across nodes)."""
        verdict = self.ev.forwarded(hep, Packet(self.source_peer(src), self.pod_address(dst), port, protocol))
        return self._witness(verdict, src, dst, port, protocol, hep, "forward", f"pod {dst}")

    # --- which traffic a host endpoint polices ---------------------------------------------------------

    def pod_traffic_through(self, hep: HostEndpoint) -> tuple[IPSet, str, bool]:
        """The pod addresses whose traffic between nodes crosses ``hep``'s interface unencapsulated (so its
        forward and pre-DNAT policy sees it), the fact or assumption that says so, and whether it rests on
        an assumption about the interface.

        Felix accepts IPIP and VXLAN packets from Calico hosts in the filter INPUT chain before host-endpoint
        dispatch, and the inner packet arrives on ``tunl0`` / ``vxlan.calico`` (``felix/rules/static.go``):
        a named host endpoint's forward policy never sees pod traffic of an always-encapsulated pool. An
        all-interfaces (``*``) endpoint polices forwarded traffic of every interface, tunnels included; a
        named one only its own interface, which carries routed pod traffic only if it is the node's route
        to the other nodes (the interface with the node's address)."""
        facts = self.ev.facts
        name = hep.interface_name
        if name == "*":
            every = "an all-interfaces (`*`) host endpoint polices forwarded traffic of every interface"
            return facts.pod_cidrs, every, False
        if name and _is_overlay_interface(name):
            return IPSet(), f"{name} is a tunnel/VPN interface, not the route to other nodes' pods", False
        if hep.assumed:
            where, unsure = "the node's main interface", False
        elif self._holds_node_address(hep):
            where, unsure = f"interface {name or 'with ' + str(hep.valid_expected_ips[0])}", False
        else:
            held = ", ".join(map(str, hep.valid_expected_ips))
            where, unsure = (f"interface {name}" if name else f"the interface holding {held}"), True
        pools = [p for p in self.model.ip_pools if p.for_workloads and p.cidr is not None and p.cidr.value is not None]
        if not pools:
            why = (
                f"assumed: pod traffic between nodes is routed unencapsulated through {where} (no IPPool in the "
                "repository says whether it is IPIP/VXLAN-encapsulated)"
            )
            return facts.pod_cidrs, _unsure(why, where, unsure), unsure
        routed = [p for p in pools if p.encapsulation != "Always"]
        cidrs = IPSet([p.cidr.value for p in routed if p.cidr is not None])
        if not routed:
            names = ", ".join(p.name for p in pools)
            why = f"pod traffic between nodes is encapsulated (IPPool {names}): it never crosses {where} bare"
            return cidrs, why, False
        cross = [p.name for p in routed if p.encapsulation == "CrossSubnet"]
        plain = [p.name for p in routed if p.encapsulation == "Never"]
        parts = []
        if plain:
            parts.append(f"IPPool {', '.join(plain)} routes pod traffic unencapsulated through {where}")
        if cross:
            parts.append(
                f"IPPool {', '.join(cross)} (CrossSubnet) encapsulates only across subnets, so pods on nodes of one "
                f"subnet talk unencapsulated through {where}"
            )
        return cidrs, _unsure("; ".join(parts), where, unsure), unsure

    def _holds_node_address(self, hep: HostEndpoint) -> bool:
        """The endpoint's expectedIPs include its Node's address (so its interface routes to other nodes)."""
        mine = {str(ip) for ip in hep.valid_expected_ips}
        return any(node.name == hep.node and mine & set(node.addresses) for node in self.model.nodes)

    # --- does this rule ever decide --------------------------------------------------------------

    def chain_decision(
        self, policies: Sequence[Policy], direction: str, pkt: Packet, stage: str, endpoint: str
    ) -> tuple[Verdict, Witness]:
        """The verdict of one endpoint's policy chain on ``pkt`` (the flow an earlier rule decides)."""
        result = self.ev.run_chain(policies, direction, pkt, stage, False)
        verdict = Verdict(result.outcome == "allow", list(result.steps))
        src, dst = str(pkt.src), str(pkt.dst)
        witness = Witness(
            kind="chain",
            allowed=verdict.allowed,
            source=src,
            destination=dst,
            port=pkt.port,
            protocol=protocol_name(pkt.protocol),
            steps=steps_of(verdict),
            direction=direction,
            mode=stage,
            target=endpoint,
        )
        return verdict, witness

    def packet_matching(self, rule: PolicyRule, direction: str) -> Packet | None:
        """A concrete packet ``rule`` matches (None when one cannot be built: named ports, services)."""
        protocol = rule.protocol.value if rule.protocol is not None and isinstance(rule.protocol.value, int) else TCP
        if rule.not_protocol is not None and rule.not_protocol.value == protocol:
            protocol = UDP if protocol != UDP else TCP
        src = self._peer_matching(rule.source, direction == "egress")
        dst = self._peer_matching(rule.destination, direction == "ingress")
        if src is None or dst is None:
            return None
        port = _port_matching(rule.destination)
        sport = _port_matching(rule.source, default=EPHEMERAL_PORT)
        if port is None or sport is None:
            return None
        pkt = Packet(src, dst, port, protocol, sport)
        return pkt if rule_matches(rule, pkt, self.model) else None

    def _peer_matching(self, entity: EntityRule, endpoint: bool) -> Peer | None:
        """A peer ``entity`` matches; ``endpoint``: it is the policy's own endpoint (shown as such)."""
        if entity.services:
            return None
        nets = [n for n in entity.valid_nets] if entity.nets else []
        excluded = IPSet([r.value for r in entity.not_nets if r.value is not None])
        pool = IPSet(nets) if nets else IPSet(["0.0.0.0/0"])
        pool -= excluded
        if not pool:
            return None
        ip = sample_address(pool)
        labels: tuple[Mapping[str, str], ...] = ()
        if entity.effective_selector is not None:
            found = labels_satisfying(entity.effective_selector)
            if found is None:
                return None
            labels = (found,)
        return Peer("outside", ip, NO_ADDRESSES, labels, text=f"the policy's endpoint ({ip})" if endpoint else f"{ip}")

    # --- witnesses ---------------------------------------------------------------------------------

    def _witness(
        self,
        verdict: Verdict,
        src: IPAddress | str,
        dst: IPAddress | None,
        port: int,
        protocol: int,
        hep: HostEndpoint | None,
        mode: str,
        target: str,
        direction: str = "ingress",
    ) -> Witness:
        return Witness(
            kind="flow" if dst is not None else "chain",
            allowed=verdict.allowed,
            source=str(src),
            destination=str(dst) if dst is not None else "(no expected IP)",
            port=port,
            protocol=protocol_name(protocol),
            steps=steps_of(verdict),
            via=hep.name if hep is not None else "",
            direction=direction,
            mode=mode,
            target=target,
            assumptions=self.assumptions(hep, mode),
        )

    def assumptions(self, hep: HostEndpoint | None, mode: str) -> tuple[str, ...]:
        """What the verdict rests on that the repository does not say (the findings quote it)."""
        out = []
        facts = self.ev.facts
        relevant = [facts.advertisement] if mode in ("cluster", "local") else []
        if mode == "forward":
            relevant.append(facts.pod)
        for fact in relevant:
            if fact.assumed and fact.note:
                out.append(fact.note)
        if hep is not None and hep.assumed:
            out.append(hep.assumed)
        return tuple(out)

    def host_endpoint(self, name: str, at: object = None) -> HostEndpoint | None:
        """The host endpoint named ``name``; when several share it (CA006), the one defined at ``at`` (a
        Location of its ``metadata.name``), else the first."""
        named = [h for h in self.ev.host_endpoints if h.name == name]
        if len(named) > 1 and isinstance(at, Location):
            for hep in named:
                ptr = hep.ptr("metadata", "name")
                span = ptr.doc.locate(ptr.path)
                if ptr.doc.file.path == at.path and span.line == at.span.line:
                    return hep
        return named[0] if named else None

    def replay(self, witness: Witness) -> bool | None:
        """Replay a flow witness through the evaluator: True when its verdict agrees with the claim,
        False when it does not, None for chain witnesses (they carry their own decision)."""
        if witness.kind != "flow":
            return None
        first = witness.steps[0].at if witness.steps and witness.steps[0].stage == "host endpoint" else None
        via = self.host_endpoint(witness.via, first) if witness.via else None
        dst = IPAddress(witness.destination)
        proto = PROTOCOL_NUMBERS[witness.protocol]
        if witness.direction == "egress":
            if via is None:
                return False
            return self.ev.from_host(via, self.ev.outside_peer(dst), witness.port, proto).allowed == witness.allowed
        src = IPAddress(witness.source)
        verdicts = self.flow(src, dst, witness.port, proto, via, service=witness.service)
        if not verdicts:
            return False
        mine = [v for target, v in verdicts if target == witness.target] or [v for _, v in verdicts]
        return any(v.allowed == witness.allowed for v in mine)


def _unsure(why: str, where: str, unsure: bool) -> str:
    if not unsure:
        return why
    return f"{why}; assumed: {where} is the node's route to the other nodes (no Node address in the repository says so)"


_OVERLAY_PREFIXES = ("wg", "tun", "tap", "vpn", "tailscale", "zt", "ipsec", "gre", "vti", "lo", "docker", "virbr")


def _is_overlay_interface(name: str) -> bool:
    return name.lower().startswith(_OVERLAY_PREFIXES) and name.lower() not in ("", "*")


def _port_matching(entity: EntityRule, default: int = 443) -> int | None:
    """A port the entity's ``ports``/``notPorts`` admit (None when only named ports are listed)."""
    from auditor.ports import PortRange, PortSet

    ranges = [r.value for r in entity.ports if isinstance(r.value, PortRange)]
    if entity.ports and not ranges:
        return None
    allowed = PortSet.of(*ranges) if ranges else PortSet([(1, 65535)])
    allowed -= PortSet.of(*[r.value for r in entity.not_ports if isinstance(r.value, PortRange)])
    if not allowed:
        return None
    return default if default in allowed else allowed.first()


def _decided_at_pod(verdict: Verdict) -> bool:
    step = verdict.decisive
    return step is not None and step.stage == "pod" and step.outcome == "deny"


def _backend_text(backend: Backend) -> str:
    if backend.workload is None:
        return "backends not in the repository"
    return f"{backend.workload.kind} {backend.workload.namespace}/{backend.workload.name}"
