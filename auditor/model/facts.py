"""Cluster facts the semantic rules need, taken from the repository first, then configuration.

Each fact records where it came from, so a finding can say when it relied on a default
("pod CIDR 192.168.0.0/16 assumed: no IPPool in the repository; set cluster.pod-cidrs").
"""

from __future__ import annotations

from dataclasses import dataclass, field

from netaddr import IPNetwork, IPSet

from auditor import selector as sel
from auditor.config import DEFAULT_NODE_PORT_RANGE, DEFAULT_POD_CIDRS, DEFAULT_SERVICE_CIDRS, Config
from auditor.findings import Pointer
from auditor.model.index import Model
from auditor.model.resources import BGPConfiguration, ProtoPort
from auditor.nets import NetError, parse_cidr
from auditor.ports import PortError, PortSet, parse_range_text

# Calico's default failsafe ports (felix/config/config_params.go): each direction's own two, then the
# TCP ports both directions share.
_FAILSAFE_BOTH = tuple(("TCP", n) for n in (179, 2379, 2380, 5473, 6443, 6666, 6667))
DEFAULT_FAILSAFE_IN = tuple(ProtoPort(p, n, None) for p, n in (("TCP", 22), ("UDP", 68), *_FAILSAFE_BOTH))
DEFAULT_FAILSAFE_OUT = tuple(ProtoPort(p, n, None) for p, n in (("UDP", 53), ("UDP", 67), *_FAILSAFE_BOTH))


@dataclass(frozen=True)
class Fact:
    """A value and its origin: ``repo`` (with a pointer), ``config`` or ``default``."""

    origin: str
    where: Pointer | None = None
    note: str = ""

    @property
    def assumed(self) -> bool:
        return self.origin in ("default", "assumed")


@dataclass
class ClusterFacts:
    advertised_cluster: IPSet = field(default_factory=IPSet)  # serviceClusterIPs of BGPConfiguration default
    advertised_external: IPSet = field(default_factory=IPSet)
    advertised_lb: IPSet = field(default_factory=IPSet)
    advertisement_known: bool = False
    advertisement: Fact = field(default_factory=lambda: Fact("default"))
    bgp: BGPConfiguration | None = None
    pod_cidrs: IPSet = field(default_factory=IPSet)
    pod_cidr_list: list[IPNetwork] = field(default_factory=list)
    pod: Fact = field(default_factory=lambda: Fact("default"))
    service_cidrs: IPSet = field(default_factory=IPSet)
    service: Fact = field(default_factory=lambda: Fact("default"))
    node_ports: PortSet = field(default_factory=lambda: parse_range_text(DEFAULT_NODE_PORT_RANGE))
    node_port: Fact = field(default_factory=lambda: Fact("default"))
    failsafe_in: tuple[ProtoPort, ...] = DEFAULT_FAILSAFE_IN
    failsafe_out: tuple[ProtoPort, ...] = DEFAULT_FAILSAFE_OUT
    failsafe: Fact = field(default_factory=lambda: Fact("default"))
    node_selector: sel.Selector | None = None
    kube_proxy_mode: str = "iptables"
    kube_proxy: Fact = field(
        default_factory=lambda: Fact("default", None, "kube-proxy in iptables mode (set cluster.kube-proxy-mode)")
    )

    #: the union below and the three sets it was made of (rules ask for it thousands of times)
    _advertised: tuple[IPSet, IPSet, IPSet, IPSet] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def advertised(self) -> IPSet:
        """Every advertised address (cluster, external and load-balancer ranges). Made once for the three
        sets it is made of (a set assigned anew makes it again); callers must not change it."""
        kept = self._advertised
        cluster, external, lb = self.advertised_cluster, self.advertised_external, self.advertised_lb
        if kept is None or kept[0] is not cluster or kept[1] is not external or kept[2] is not lb:
            kept = self._advertised = (cluster, external, lb, cluster | external | lb)
        return kept[3]

    def describe_pod_cidrs(self) -> str:
        return ", ".join(str(c) for c in self.pod_cidr_list) or "none"


def _ipset(values: list[str]) -> IPSet:
    out = IPSet()
    for value in values:
        try:
            out.add(parse_cidr(value, strict=False))
        except NetError:
            continue
    return out


def _assume_advertised(facts: ClusterFacts, model: Model) -> None:
    """No BGPConfiguration says what is advertised: a host policy that admits outside sources to an address
    (a Service's cluster, external or load-balancer IP, or one its rule names) is the evidence that the
    address is reachable from outside. Those addresses are taken as advertised, and findings say so."""
    named: list[IPNetwork] = []
    evidence = None
    for policy in model.policies:
        if not (policy.enforced and policy.is_global and (policy.pre_dnat or policy.do_not_track)):
            continue
        for rule in policy.ingress:
            if rule.action != "Allow" or not (rule.source.nets or rule.source.effective_selector is not None):
                continue
            for ref in rule.destination.nets:
                if ref.value is not None and ref.value.prefixlen >= (24 if ref.value.version == 4 else 64):
                    named.append(ref.value)
                    evidence = evidence or (policy, rule, ref)
    if evidence is None:
        return
    addresses = IPSet(named)
    for svc in model.services:
        for refs, target in (
            (svc.external_ips, facts.advertised_external),
            (svc.load_balancer_ips, facts.advertised_lb),
        ):
            for ref in refs:
                if ref.value is not None and str(ref.value) in addresses:
                    target.add(str(ref.value))
    facts.advertised_cluster = addresses - facts.advertised_external - facts.advertised_lb
    policy, rule, ref = evidence
    cidrs = addresses.iter_cidrs()
    shown = ", ".join(str(c) for c in cidrs[:3]) + (" and more" if len(cidrs) > 3 else "")
    facts.advertisement_known = True
    facts.advertisement = Fact(
        "assumed",
        policy.ptr_at(ref.path),
        f"{shown} reachable from outside the cluster: no BGPConfiguration in the repository, and "
        f"{policy.display} {rule.label} admits outside sources to them",
    )


def node_port_range(model: Model, config: Config) -> tuple[PortSet, Fact]:
    """The node-port range every rule uses, and where it comes from (one precedence for all of them):
    the valid ``kubeNodePortRanges`` of FelixConfiguration ``default`` (``repo``, pointing at the field),
    else ``cluster.node-port-range`` of the configuration (``config``), else the Kubernetes default
    30000:32767 (``default``; also when the configured range does not parse, with no note)."""
    felix = model.felix_default
    ranges = felix.kube_node_port_ranges if felix is not None else None
    valid = [r.value for r in ranges or () if r.value is not None and not isinstance(r.value, str)]
    if felix is not None and valid:
        where = felix.ptr("spec", "kubeNodePortRanges")
        return PortSet.of(*valid), Fact("repo", where, "kubeNodePortRanges of FelixConfiguration default")
    default = parse_range_text(DEFAULT_NODE_PORT_RANGE)
    if config.node_port_range:
        try:
            return parse_range_text(config.node_port_range), Fact(
                "config", None, "cluster.node-port-range in the configuration"
            )
        except (PortError, ValueError):
            return default, Fact("default")
    return default, Fact("default", None, "the Kubernetes default 30000:32767 (set cluster.node-port-range)")


def cluster_facts(model: Model, config: Config) -> ClusterFacts:
    facts = ClusterFacts()
    bgp = model.bgp_default
    if bgp is not None:
        facts.bgp = bgp
        facts.advertised_cluster = IPSet([r.value for r in bgp.service_cluster_ips if r.value is not None])
        facts.advertised_external = IPSet([r.value for r in bgp.service_external_ips if r.value is not None])
        facts.advertised_lb = IPSet([r.value for r in bgp.service_load_balancer_ips if r.value is not None])
        facts.advertisement_known = True
        facts.advertisement = Fact("repo", bgp.ptr("spec"), f"BGPConfiguration default in {bgp.file}")
    elif config.advertised_cidrs:
        facts.advertised_cluster = _ipset(config.advertised_cidrs)
        facts.advertisement_known = True
        facts.advertisement = Fact("config", None, "cluster.advertised-cidrs in the configuration")
    elif config.host_endpoints == "assume":
        _assume_advertised(facts, model)

    pools = [p for p in model.ip_pools if p.for_workloads and p.cidr is not None and p.cidr.value is not None]
    if pools:
        facts.pod_cidr_list = [p.cidr.value for p in pools if p.cidr is not None and p.cidr.value is not None]
        facts.pod = Fact("repo", pools[0].ptr("spec", "cidr"), "IPPool " + ", ".join(p.name for p in pools))
    elif config.pod_cidrs:
        facts.pod_cidr_list = [parse_cidr(c, strict=False) for c in config.pod_cidrs]
        facts.pod = Fact("config", None, "cluster.pod-cidrs in the configuration")
    else:
        facts.pod_cidr_list = [IPNetwork(c) for c in DEFAULT_POD_CIDRS]
        facts.pod = Fact(
            "default", None, "Calico's default pool 192.168.0.0/16 (no IPPool in the repository; set cluster.pod-cidrs)"
        )
    facts.pod_cidrs = IPSet(facts.pod_cidr_list)

    if config.service_cidrs:
        facts.service_cidrs = _ipset(config.service_cidrs)
        facts.service = Fact("config", None, "cluster.service-cidrs in the configuration")
    elif facts.advertised_cluster and facts.advertisement.origin == "assumed":
        facts.service_cidrs = _ipset(list(DEFAULT_SERVICE_CIDRS)) | facts.advertised_cluster
        facts.service = Fact("default", None, "the Kubernetes default 10.96.0.0/12 (set cluster.service-cidrs)")
    elif facts.advertised_cluster:
        facts.service_cidrs = IPSet(facts.advertised_cluster)
        facts.service = Fact("repo", facts.advertisement.where, "serviceClusterIPs of BGPConfiguration default")
    else:
        facts.service_cidrs = _ipset(list(DEFAULT_SERVICE_CIDRS))
        facts.service = Fact("default", None, "the Kubernetes default 10.96.0.0/12 (set cluster.service-cidrs)")

    facts.node_ports, facts.node_port = node_port_range(model, config)
    felix = model.felix_default
    if felix is not None and (felix.failsafe_inbound is not None or felix.failsafe_outbound is not None):
        if felix.failsafe_inbound is not None:
            facts.failsafe_in = felix.failsafe_inbound
        if felix.failsafe_outbound is not None:
            facts.failsafe_out = felix.failsafe_outbound
        facts.failsafe = Fact("repo", felix.ptr("spec"), "failsafe ports of FelixConfiguration default")
    if config.kube_proxy_mode:
        facts.kube_proxy_mode = config.kube_proxy_mode
        facts.kube_proxy = Fact(
            "config", None, f"kube-proxy in {config.kube_proxy_mode} mode (cluster.kube-proxy-mode)"
        )
    if config.node_selector:
        try:
            facts.node_selector = sel.parse(config.node_selector)
        except sel.SelectorError:
            facts.node_selector = None
    return facts
