"""The one resource model: typed, read-only views of every manifest, built once per run.

Every typed object keeps its :class:`~auditor.loader.RawResource`, so any field can be turned
into a precise :class:`~auditor.findings.Pointer` with ``obj.ptr("spec", "ingress", 0)``. Wrong
types never crash the model: a field of the wrong type reads as absent (CA002 reports it), a value
that does not parse is kept as a :class:`Ref` with its error (CA003/CA004/CA005 report those).

Calico semantics applied here, once: ``types`` inference, ``order`` (missing = last), tiers,
namespace defaulting, implicit labels of pods (namespace, orchestrator, service account, ``pcns.``
and ``pcsa.`` labels), selector scoping of namespaced policies and rules, Kubernetes
NetworkPolicy conversion, automatic host endpoints.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Generic, TypeVar

from netaddr import IPNetwork

from auditor import selector as sel
from auditor.findings import PathT, Pointer
from auditor.loader import RawResource
from auditor.nets import NetError, parse_cidr, parse_ip
from auditor.ports import PortError, PortRange, parse_port, protocol_number

T = TypeVar("T")

CALICO_GROUPS = ("projectcalico.org/v3", "crd.projectcalico.org/v1")
NS_LABEL = "projectcalico.org/namespace"
ORCH_LABEL = "projectcalico.org/orchestrator"
SA_LABEL = "projectcalico.org/serviceaccount"
NS_PREFIX = "pcns."
SA_PREFIX = "pcsa."
AUTO_HEP_LABEL = "projectcalico.org/created-by"
DEFAULT_TIER_ORDER = 1_000_000.0

CALICO_KINDS = frozenset(
    {
        "GlobalNetworkPolicy",
        "NetworkPolicy",
        "StagedGlobalNetworkPolicy",
        "StagedNetworkPolicy",
        "StagedKubernetesNetworkPolicy",
        "Tier",
        "HostEndpoint",
        "GlobalNetworkSet",
        "NetworkSet",
        "IPPool",
        "BGPConfiguration",
        "BGPPeer",
        "FelixConfiguration",
        "KubeControllersConfiguration",
        "ClusterInformation",
        "IPReservation",
        "BGPFilter",
        "Profile",
    }
)
WORKLOAD_KINDS = frozenset(
    {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job", "CronJob"}
)
K8S_KINDS = WORKLOAD_KINDS | {"Service", "Namespace", "Node", "ServiceAccount", "NetworkPolicy"}
KNOWN_KINDS = CALICO_KINDS | K8S_KINDS
CALICO_NAMESPACED = frozenset({"NetworkPolicy", "StagedNetworkPolicy", "StagedKubernetesNetworkPolicy", "NetworkSet"})
K8S_CLUSTER_SCOPED = frozenset({"Namespace", "Node"})
K8S_NAMESPACED = WORKLOAD_KINDS | {"Service", "ServiceAccount", "NetworkPolicy"}


# ------------------------------------------------------------------------------------------
# Small typed readers: a wrong type reads as absent
# ------------------------------------------------------------------------------------------


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def as_bool(value: Any) -> bool:
    return value is True


def label_text(value: Any) -> str:
    """A label value as Kubernetes would see it after a lenient decode (``true`` -> ``"true"``)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


def labels_of(value: Any) -> dict[str, str]:
    return {str(k): label_text(v) for k, v in as_dict(value).items() if not isinstance(v, (dict, list))}


@dataclass(frozen=True, slots=True)
class Ref(Generic[T]):
    """A parsed field: where it is (relative to its resource), what was written, what it means."""

    path: PathT
    raw: Any
    value: T | None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.value is not None


# ------------------------------------------------------------------------------------------
# Resources
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False, slots=True)
class Resource:
    raw: RawResource
    api_version: str
    kind: str
    name: str
    namespace: str | None  # None for cluster-scoped kinds
    labels: Mapping[str, str]
    annotations: Mapping[str, str]

    @property
    def data(self) -> dict[str, Any]:
        """The resource as written (``Spec:`` stays ``Spec``; the typed fields read ``raw.data``)."""
        return self.raw.as_written

    @property
    def spec(self) -> dict[str, Any]:
        return as_dict(self.raw.data.get("spec"))

    @property
    def is_calico(self) -> bool:
        return self.api_version in CALICO_GROUPS

    @property
    def identity(self) -> str:
        """``Kind/namespace/name`` (``Kind/name`` when cluster-scoped): used in fingerprints."""
        if self.namespace is not None:
            return f"{self.kind}/{self.namespace}/{self.name}"
        return f"{self.kind}/{self.name}"

    @property
    def display(self) -> str:
        if self.namespace is not None:
            return f"{self.kind} {self.namespace}/{self.name}"
        return f"{self.kind} {self.name}"

    def ptr(self, *path: str | int, on_key: bool = False) -> Pointer:
        return Pointer(self.raw.doc, self.raw.base + self.raw.written_path(path), on_key)

    def ptr_at(self, path: PathT, on_key: bool = False) -> Pointer:
        return Pointer(self.raw.doc, self.raw.base + self.raw.written_path(tuple(path)), on_key)

    @property
    def file(self) -> str:
        return self.raw.doc.file.path


# ---- Kubernetes ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServicePort:
    index: int
    name: str
    port: int | None
    target_port: int | str | None  # None: defaults to port
    node_port: int | None
    protocol: str

    @property
    def path(self) -> PathT:
        return ("spec", "ports", self.index)

    @property
    def effective_target(self) -> int | str | None:
        return self.target_port if self.target_port is not None else self.port


@dataclass(frozen=True, eq=False, slots=True)
class Service(Resource):
    type: str
    cluster_ips: tuple[Ref[Any], ...]  # parsed ipaddress objects
    cluster_ip_explicit: bool
    headless: bool
    ports: tuple[ServicePort, ...]
    selector: Mapping[str, str] | None  # None: no selector (endpoints managed by hand)
    external_traffic_policy: str  # "Cluster" or "Local" (Kubernetes default applied)
    external_traffic_policy_set: bool
    internal_traffic_policy: str
    external_ips: tuple[Ref[Any], ...]
    load_balancer_ips: tuple[Ref[Any], ...]  # spec.loadBalancerIP and status.loadBalancer.ingress[].ip

    @property
    def gets_cluster_ip(self) -> bool:
        return self.type != "ExternalName" and not self.headless

    @property
    def externally_accessible(self) -> bool:
        """Kubernetes allows externalTrafficPolicy only on these."""
        return self.type in ("NodePort", "LoadBalancer") or (self.type == "ClusterIP" and bool(self.external_ips))

    @property
    def local_mode(self) -> bool:
        return self.external_traffic_policy == "Local" and self.externally_accessible and not self.headless

    @property
    def cluster_mode(self) -> bool:
        return self.gets_cluster_ip and not self.local_mode


@dataclass(frozen=True, slots=True)
class ContainerPort:
    name: str
    port: int
    protocol: str
    path: PathT


@dataclass(frozen=True, eq=False, slots=True)
class Workload(Resource):
    """A Pod or a controller's pod template: the pods it makes share these labels and ports."""

    pod_labels: Mapping[str, str]  # as written in the template
    labels_path: PathT  # where the pod labels are written
    service_account: str
    container_ports: tuple[ContainerPort, ...]
    host_network: bool
    endpoint_labels: Mapping[str, str]  # with Calico's implicit labels: what selectors see

    def resolve_port(self, name_or_number: int | str, protocol: str = "TCP") -> int | None:
        if isinstance(name_or_number, int):
            return name_or_number
        for port in self.container_ports:
            if port.name == name_or_number and port.protocol == protocol:
                return port.port
        return None


@dataclass(frozen=True, eq=False, slots=True)
class Namespace(Resource):
    pass


@dataclass(frozen=True, eq=False, slots=True)
class Node(Resource):
    addresses: tuple[str, ...]


@dataclass(frozen=True, eq=False, slots=True)
class ServiceAccount(Resource):
    pass


# ---- Calico --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SelectorRef:
    path: PathT
    text: str
    selector: sel.Selector | None
    error: sel.SelectorError | None = None
    is_yaml_string: bool = True


@dataclass(frozen=True, eq=False, slots=True)
class EntityRule:
    """``source`` or ``destination`` of a rule, parsed, with Calico's selector scoping applied."""

    path: PathT
    present: bool
    nets: tuple[Ref[IPNetwork], ...]
    not_nets: tuple[Ref[IPNetwork], ...]
    selector: SelectorRef | None
    not_selector: SelectorRef | None
    namespace_selector: SelectorRef | None
    ports: tuple[Ref[PortRange | str], ...]
    not_ports: tuple[Ref[PortRange | str], ...]
    service_account_names: tuple[str, ...]
    service_account_selector: SelectorRef | None
    services: Mapping[str, Any] | None
    # The selector Calico actually evaluates (None: no selector criterion).
    effective_selector: sel.Selector | None
    effective_not_selector: sel.Selector | None
    # nets and notNets as (version, first, last) integers, for fast matching
    net_ranges: tuple[tuple[int, int, int], ...] = ()
    not_net_ranges: tuple[tuple[int, int, int], ...] = ()

    def __post_init__(self) -> None:
        for name, refs in (("net_ranges", self.nets), ("not_net_ranges", self.not_nets)):
            ranges = tuple(
                (r.value.version, int(r.value.first), int(r.value.last)) for r in refs if r.value is not None
            )
            object.__setattr__(self, name, ranges)

    @property
    def selectors(self) -> tuple[SelectorRef, ...]:
        return tuple(
            s
            for s in (self.selector, self.not_selector, self.namespace_selector, self.service_account_selector)
            if s is not None
        )

    @property
    def valid_nets(self) -> list[IPNetwork]:
        return [r.value for r in self.nets if r.value is not None]

    @property
    def valid_not_nets(self) -> list[IPNetwork]:
        return [r.value for r in self.not_nets if r.value is not None]

    @property
    def matches_any_address(self) -> bool:
        """No criterion on addresses or endpoints (ports aside)."""
        return (
            not self.nets
            and not self.not_nets
            and self.effective_selector is None
            and self.effective_not_selector is None
            and not self.services
        )


@dataclass(frozen=True, eq=False, slots=True)
class PolicyRule:
    policy: Policy = field(repr=False)
    direction: str  # "ingress" / "egress"
    index: int
    path: PathT
    action: str  # as written
    protocol: Ref[int] | None
    not_protocol: Ref[int] | None
    ip_version: int | None
    source: EntityRule
    destination: EntityRule
    icmp: Mapping[str, Any] | None
    has_http: bool

    @property
    def label(self) -> str:
        return f"{self.direction}[{self.index}]"

    def ptr(self, *path: str | int, on_key: bool = False) -> Pointer:
        return self.policy.ptr_at(self.path + tuple(path), on_key)


@dataclass(frozen=True, eq=False, slots=True)
class Policy(Resource):
    """Calico GlobalNetworkPolicy / NetworkPolicy (staged or not), or a converted Kubernetes NetworkPolicy."""

    tier: str
    order: float  # math.inf when omitted
    order_set: bool
    selector: SelectorRef | None
    namespace_selector: SelectorRef | None
    service_account_selector: SelectorRef | None
    effective_selector: sel.Selector | None  # None when the selector does not parse
    types: tuple[str, ...]
    types_explicit: bool
    ingress: tuple[PolicyRule, ...]
    egress: tuple[PolicyRule, ...]
    pre_dnat: bool
    apply_on_forward: bool
    do_not_track: bool
    staged: bool
    staged_action: str
    is_global: bool
    is_kubernetes: bool
    label_selector_errors: tuple[tuple[PathT, str], ...] = ()  # Kubernetes LabelSelectors that do not parse

    @property
    def rules(self) -> tuple[PolicyRule, ...]:
        return self.ingress + self.egress

    @property
    def can_select_host_endpoints(self) -> bool:
        """Only GlobalNetworkPolicy without namespace/service-account selectors reaches HostEndpoints."""
        return self.is_global and self.namespace_selector is None and self.service_account_selector is None

    @property
    def enforced(self) -> bool:
        return not self.staged

    @property
    def sort_key(self) -> tuple[float, str]:
        return (self.order, f"{self.name}/{self.namespace or ''}/{self.kind}")

    def governs(self, direction: str) -> bool:
        return direction.capitalize() in self.types


@dataclass(frozen=True, eq=False, slots=True)
class Tier(Resource):
    order: float
    default_action: str


@dataclass(frozen=True, eq=False, slots=True)
class HostEndpoint(Resource):
    node: str
    interface_name: str
    expected_ips: tuple[Ref[Any], ...]
    profiles: tuple[str, ...]
    named_ports: tuple[tuple[str, int, str], ...]  # (name, port, protocol)
    auto: bool = False  # created by kube-controllers from a Node
    assumed: str = ""  # not in the repository: why the audit reasons as if it existed (the sentence findings quote)

    @property
    def valid_expected_ips(self) -> list[Any]:
        return [r.value for r in self.expected_ips if r.value is not None]


def implied_host_endpoint(
    raw: RawResource,
    name: str,
    labels: Mapping[str, str],
    *,
    node: str = "",
    interface_name: str = "",
    expected_ips: tuple[Ref[Any], ...] = (),
    profiles: tuple[str, ...] = (),
    auto: bool = False,
    assumed: str = "",
) -> HostEndpoint:
    """A host endpoint the repository implies but does not declare (kube-controllers' automatic ones, or
    one assumed from host policies); ``raw`` is the resource that implies it (findings point there)."""
    return HostEndpoint(
        raw=raw,
        api_version="projectcalico.org/v3",
        kind="HostEndpoint",
        name=name,
        namespace=None,
        labels=labels,
        annotations={},
        node=node,
        interface_name=interface_name,
        expected_ips=expected_ips,
        profiles=profiles,
        named_ports=(),
        auto=auto,
        assumed=assumed,
    )


@dataclass(frozen=True, eq=False, slots=True)
class NetworkSet(Resource):
    nets: tuple[Ref[IPNetwork], ...]
    endpoint_labels: Mapping[str, str]

    @property
    def valid_nets(self) -> list[IPNetwork]:
        return [r.value for r in self.nets if r.value is not None]


@dataclass(frozen=True, eq=False, slots=True)
class IPPool(Resource):
    cidr: Ref[IPNetwork] | None
    disabled: bool
    allowed_uses: tuple[str, ...]
    ipip_mode: str = "Never"  # Always | CrossSubnet | Never
    vxlan_mode: str = "Never"

    @property
    def encapsulation(self) -> str:
        """``Always``, ``CrossSubnet`` or ``Never``: how pod traffic between nodes leaves this pool."""
        modes = {self.ipip_mode, self.vxlan_mode}
        if "Always" in modes:
            return "Always"
        return "CrossSubnet" if "CrossSubnet" in modes else "Never"

    @property
    def for_workloads(self) -> bool:
        return not self.disabled and "Workload" in self.allowed_uses


@dataclass(frozen=True, eq=False, slots=True)
class BGPConfiguration(Resource):
    service_cluster_ips: tuple[Ref[IPNetwork], ...]
    service_external_ips: tuple[Ref[IPNetwork], ...]
    service_load_balancer_ips: tuple[Ref[IPNetwork], ...]


@dataclass(frozen=True, slots=True)
class ProtoPort:
    protocol: str
    port: int | None
    net: str | None


@dataclass(frozen=True, eq=False, slots=True)
class FelixConfiguration(Resource):
    failsafe_inbound: tuple[ProtoPort, ...] | None  # None: Calico defaults
    failsafe_outbound: tuple[ProtoPort, ...] | None
    kube_node_port_ranges: tuple[Ref[PortRange | str], ...] | None
    default_endpoint_to_host_action: str


@dataclass(frozen=True, eq=False, slots=True)
class KubeControllersConfiguration(Resource):
    auto_host_endpoints: bool


# ------------------------------------------------------------------------------------------
# Building
# ------------------------------------------------------------------------------------------


def _meta(raw: RawResource, default_namespace: str) -> tuple[str, str, str, str | None, dict[str, str], dict[str, str]]:
    data = raw.data
    api = as_str(data.get("apiVersion")) or ""
    kind = as_str(data.get("kind")) or ""
    meta = as_dict(data.get("metadata"))
    name_value = meta.get("name")
    name = name_value if isinstance(name_value, str) else label_text(name_value) if name_value is not None else ""
    if api in CALICO_GROUPS:
        namespaced: bool | None = kind in CALICO_NAMESPACED
    elif kind in K8S_NAMESPACED:
        namespaced = True
    elif kind in K8S_CLUSTER_SCOPED:
        namespaced = False
    else:  # a kind we do not model: take the namespace as written
        namespaced = None
    ns_value = meta.get("namespace")
    namespace: str | None = None
    if namespaced or (namespaced is None and isinstance(ns_value, str) and ns_value):
        namespace = ns_value if isinstance(ns_value, str) and ns_value else default_namespace
    return api, kind, name, namespace, labels_of(meta.get("labels")), labels_of(meta.get("annotations"))


def parse_selector_at(path: PathT, value: Any) -> SelectorRef | None:
    if value is None:
        return None
    if not isinstance(value, str):
        return SelectorRef(path, str(value), None, sel.SelectorError("a selector must be a string", 0), False)
    try:
        return SelectorRef(path, value, sel.parse(value))
    except sel.SelectorError as exc:
        return SelectorRef(path, value, None, exc)


def _net_refs(path: PathT, values: Any, strict: bool = True, allow_bare_ip: bool = False) -> tuple[Ref[IPNetwork], ...]:
    out = []
    for i, value in enumerate(as_list(values)):
        if not isinstance(value, str):
            out.append(Ref(path + (i,), value, None, f"{value!r} is not a CIDR string"))
            continue
        try:
            out.append(Ref(path + (i,), value, parse_cidr(value, strict, allow_bare_ip)))
        except NetError as exc:
            out.append(Ref(path + (i,), value, None, str(exc)))
    return tuple(out)


def _ip_refs(path: PathT, values: Iterable[tuple[PathT, Any]]) -> tuple[Ref[Any], ...]:
    out = []
    for p, value in values:
        if not isinstance(value, str):
            out.append(Ref(path + p, value, None, f"{value!r} is not an IP address"))
            continue
        try:
            out.append(Ref(path + p, value, parse_ip(value)))
        except NetError as exc:
            out.append(Ref(path + p, value, None, str(exc)))
    return tuple(out)


def _port_refs(path: PathT, values: Any) -> tuple[Ref[PortRange | str], ...]:
    out = []
    for i, value in enumerate(as_list(values)):
        try:
            out.append(Ref(path + (i,), value, parse_port(value)))
        except PortError as exc:
            out.append(Ref(path + (i,), value, None, str(exc)))
    return tuple(out)


def _protocol_ref(path: PathT, value: Any) -> Ref[int] | None:
    if value is None:
        return None
    number = protocol_number(value)
    if number is None:
        return Ref(path, value, None, f"{value!r} is not a protocol Calico accepts")
    return Ref(path, value, number)


def _scoped(selector: sel.Selector, prefix: str, has_label: str) -> sel.Selector:
    """A namespace or service-account selector rewritten the way Calico stores it.

    Label keys get ``prefix`` (``pcns.``/``pcsa.``); ``all()`` becomes ``has(<has_label>)`` and
    ``global()`` becomes ``!has(projectcalico.org/namespace)`` (non-namespaced objects).
    """
    return selector.prefixed(prefix).replace_functions(
        all_with=sel.has(has_label), global_with=sel.has(NS_LABEL).negate()
    )


def _entity(
    path: PathT,
    value: Any,
    policy_namespace: str | None,
) -> EntityRule:
    data = as_dict(value)
    selector = parse_selector_at(path + ("selector",), data.get("selector"))
    not_selector = parse_selector_at(path + ("notSelector",), data.get("notSelector"))
    ns_selector = parse_selector_at(path + ("namespaceSelector",), data.get("namespaceSelector"))
    sa = as_dict(data.get("serviceAccounts"))
    sa_names = tuple(n for n in as_list(sa.get("names")) if isinstance(n, str))
    sa_selector = parse_selector_at(path + ("serviceAccounts", "selector"), sa.get("selector"))
    services = data.get("services") if isinstance(data.get("services"), dict) else None

    effective: sel.Selector | None = None
    broken = any(s is not None and s.selector is None for s in (selector, ns_selector, sa_selector))
    if not broken:
        wants_positive = selector is not None or not_selector is not None or bool(sa_names) or sa_selector is not None
        parts: list[sel.Selector] = []
        if selector is not None and selector.selector is not None:
            parts.append(selector.selector)
        if sa_names:
            parts.append(sel.one_of(SA_LABEL, sa_names))
        if sa_selector is not None and sa_selector.selector is not None:
            parts.append(_scoped(sa_selector.selector, SA_PREFIX, SA_LABEL))
        if ns_selector is not None and ns_selector.selector is not None:
            parts.append(_scoped(ns_selector.selector, NS_PREFIX, NS_LABEL))
        elif policy_namespace is not None and wants_positive:
            parts.append(sel.equals(NS_LABEL, policy_namespace))
        for part in parts:
            effective = part if effective is None else effective.and_(part)
    not_effective = not_selector.selector if not_selector is not None else None
    return EntityRule(
        path=path,
        present=isinstance(value, dict),
        nets=_net_refs(path + ("nets",), data.get("nets")),
        not_nets=_net_refs(path + ("notNets",), data.get("notNets")),
        selector=selector,
        not_selector=not_selector,
        namespace_selector=ns_selector,
        ports=_port_refs(path + ("ports",), data.get("ports")),
        not_ports=_port_refs(path + ("notPorts",), data.get("notPorts")),
        service_account_names=sa_names,
        service_account_selector=sa_selector,
        services=services,
        effective_selector=effective,
        effective_not_selector=not_effective,
    )


def _order(value: Any) -> tuple[float, bool]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            number = float(value)  # an integer past 1e308 raises OverflowError
        except OverflowError:
            number = math.inf if value > 0 else -math.inf
        if not math.isnan(number):
            return number, True
    return math.inf, False


def infer_types(spec: Mapping[str, Any]) -> tuple[tuple[str, ...], bool]:
    """Calico's defaulting of ``types``: explicit wins; else by which rule lists are non-empty."""
    raw = spec.get("types")
    if isinstance(raw, list) and raw:
        return tuple(t for t in raw if t in ("Ingress", "Egress")), True
    has_ingress = bool(as_list(spec.get("ingress")))
    has_egress = bool(as_list(spec.get("egress")))
    if has_egress and has_ingress:
        return ("Ingress", "Egress"), False
    if has_egress:
        return ("Egress",), False
    return ("Ingress",), False


def _calico_policy(raw: RawResource, meta: tuple[Any, ...]) -> Policy:
    kind, namespace = meta[1], meta[3]
    spec = as_dict(raw.data.get("spec"))
    is_global = kind in ("GlobalNetworkPolicy", "StagedGlobalNetworkPolicy")
    staged = kind.startswith("Staged")
    selector = parse_selector_at(("spec", "selector"), spec.get("selector"))
    # Calico ANDs these in only when they are non-empty strings (globalnetworkpolicyprocessor.go
    # `if nsSelector != ""`): `namespaceSelector: ''` leaves the policy able to select host endpoints.
    ns_value = spec.get("namespaceSelector")
    sa_value = spec.get("serviceAccountSelector")
    ns_selector = parse_selector_at(("spec", "namespaceSelector"), ns_value) if is_global and ns_value != "" else None
    sa_selector = parse_selector_at(("spec", "serviceAccountSelector"), sa_value) if sa_value != "" else None
    effective: sel.Selector | None = sel.ALL if selector is None else selector.selector
    if effective is not None:
        if not is_global and namespace is not None:
            effective = effective.and_(sel.equals(NS_LABEL, namespace))
        for extra, prefix, label in ((ns_selector, NS_PREFIX, NS_LABEL), (sa_selector, SA_PREFIX, SA_LABEL)):
            if extra is None:
                continue
            if extra.selector is None:
                effective = None
                break
            effective = effective.and_(_scoped(extra.selector, prefix, label))
    order, order_set = _order(spec.get("order"))
    types, explicit = infer_types(spec)
    tier = as_str(spec.get("tier")) or "default"
    policy = _simple(
        Policy,
        raw,
        meta,
        tier=tier,
        order=order,
        order_set=order_set,
        selector=selector,
        namespace_selector=ns_selector,
        service_account_selector=sa_selector,
        effective_selector=effective,
        types=types,
        types_explicit=explicit,
        ingress=(),
        egress=(),
        pre_dnat=as_bool(spec.get("preDNAT")),
        apply_on_forward=as_bool(spec.get("applyOnForward")),
        do_not_track=as_bool(spec.get("doNotTrack")),
        staged=staged,
        staged_action=as_str(spec.get("stagedAction")) or "Set",
        is_global=is_global,
        is_kubernetes=False,
    )
    rule_ns = None if is_global else namespace
    for direction in ("ingress", "egress"):
        rules = []
        for i, rule in enumerate(as_list(spec.get(direction))):
            path: PathT = ("spec", direction, i)
            data = as_dict(rule)
            ip_version = data.get("ipVersion")
            rules.append(
                PolicyRule(
                    policy=policy,
                    direction=direction,
                    index=i,
                    path=path,
                    action=as_str(data.get("action")) or "",
                    protocol=_protocol_ref(path + ("protocol",), data.get("protocol")),
                    not_protocol=_protocol_ref(path + ("notProtocol",), data.get("notProtocol")),
                    ip_version=ip_version if ip_version in (4, 6) else None,
                    source=_entity(path + ("source",), data.get("source"), rule_ns),
                    destination=_entity(path + ("destination",), data.get("destination"), rule_ns),
                    icmp=as_dict(data.get("icmp")) or None,
                    has_http=isinstance(data.get("http"), dict),
                )
            )
        object.__setattr__(policy, direction, tuple(rules))
    return policy


def _label_selector(value: Any, path: PathT, errors: list[tuple[PathT, str]]) -> sel.Selector | None:
    try:
        return sel.from_label_selector(value)
    except sel.LabelSelectorError as exc:
        errors.append((path + tuple(exc.path), exc.message))
        return None


def _k8s_peer_entity(
    path: PathT, peer: Any, namespace: str, ports: Any, port_path: PathT, errors: list[tuple[PathT, str]]
) -> EntityRule:
    """One Kubernetes NetworkPolicy peer as the Calico EntityRule the converter would make."""
    data = as_dict(peer)
    nets: tuple[Ref[IPNetwork], ...] = ()
    not_nets: tuple[Ref[IPNetwork], ...] = ()
    effective: sel.Selector | None = None
    selector_ref = None
    ns_ref = None
    block = data.get("ipBlock")
    if isinstance(block, dict):
        cidr = block.get("cidr")
        nets = _net_refs(path + ("ipBlock",), [cidr], strict=False) if cidr is not None else ()
        nets = tuple(Ref(path + ("ipBlock", "cidr"), r.raw, r.value, r.error) for r in nets)
        not_nets = _net_refs(path + ("ipBlock", "except"), block.get("except"), strict=False)
    elif peer is not None:
        pod_sel: sel.Selector | None = sel.equals(ORCH_LABEL, "k8s")
        if "podSelector" in data:
            chosen = _label_selector(data.get("podSelector"), path + ("podSelector",), errors)
            pod_sel = None if chosen is None else pod_sel.and_(chosen)
        ns_scope: sel.Selector | None
        if "namespaceSelector" in data:
            ns = _label_selector(data.get("namespaceSelector"), path + ("namespaceSelector",), errors)
            ns_scope = None if ns is None else _scoped(ns, NS_PREFIX, NS_LABEL)
        else:
            ns_scope = sel.equals(NS_LABEL, namespace)
        if pod_sel is not None and ns_scope is not None:
            effective = pod_sel.and_(ns_scope)
    return EntityRule(
        path=path,
        present=peer is not None,
        nets=nets,
        not_nets=not_nets,
        selector=selector_ref,
        not_selector=None,
        namespace_selector=ns_ref,
        ports=_k8s_ports(port_path, ports),
        not_ports=(),
        service_account_names=(),
        service_account_selector=None,
        services=None,
        effective_selector=effective,
        effective_not_selector=None,
    )


def _k8s_ports(path: PathT, port: Any) -> tuple[Ref[PortRange | str], ...]:
    data = as_dict(port)
    if "port" not in data:
        return ()
    value = data.get("port")
    end = data.get("endPort")
    if isinstance(value, int) and isinstance(end, int) and not isinstance(end, bool):
        value = f"{value}:{end}"
    try:
        return (Ref(path + ("port",), data.get("port"), parse_port(value)),)
    except PortError as exc:
        return (Ref(path + ("port",), data.get("port"), None, str(exc)),)


def _k8s_policy(raw: RawResource, meta: tuple[Any, ...]) -> Policy:
    kind, namespace = meta[1], meta[3]
    spec = as_dict(raw.data.get("spec"))
    errors: list[tuple[PathT, str]] = []
    chosen = _label_selector(spec.get("podSelector"), ("spec", "podSelector"), errors)
    pod_sel = (
        None
        if chosen is None
        else sel.equals(ORCH_LABEL, "k8s").and_(chosen).and_(sel.equals(NS_LABEL, namespace or "default"))
    )
    raw_types = as_list(spec.get("policyTypes"))
    if raw_types:
        types = tuple(t for t in raw_types if t in ("Ingress", "Egress"))
    else:
        types = ("Ingress", "Egress") if "egress" in spec else ("Ingress",)
    policy = _simple(
        Policy,
        raw,
        meta,
        tier="default",
        order=1000.0,
        order_set=True,
        selector=None,
        namespace_selector=None,
        service_account_selector=None,
        effective_selector=pod_sel,
        types=types,
        types_explicit=bool(raw_types),
        ingress=(),
        egress=(),
        pre_dnat=False,
        apply_on_forward=False,
        do_not_track=False,
        staged=kind.startswith("Staged"),
        staged_action="Set",
        is_global=False,
        is_kubernetes=True,
    )
    for direction, peers_key in (("ingress", "from"), ("egress", "to")):
        rules: list[PolicyRule] = []
        for i, item in enumerate(as_list(spec.get(direction))):
            item_data = as_dict(item)
            path: PathT = ("spec", direction, i)
            peers = as_list(item_data.get(peers_key))
            ports = as_list(item_data.get("ports"))
            peer_list: list[tuple[PathT, Any]] = [(path + (peers_key, j), p) for j, p in enumerate(peers)] or [
                (path, None)
            ]
            port_list: list[tuple[PathT, Any]] = [(path + ("ports", k), p) for k, p in enumerate(ports)] or [
                (path, None)
            ]
            for peer_path, peer in peer_list:
                for port_path, port in port_list:
                    proto = None
                    if port is not None:
                        proto_value = as_dict(port).get("protocol", "TCP")
                        proto = _protocol_ref(port_path + ("protocol",), proto_value)
                    ns = namespace or "default"
                    peer_entity = _k8s_peer_entity(peer_path, peer, ns, None, port_path, errors)
                    local = _k8s_peer_entity(port_path, None, ns, port, port_path, [])
                    source, destination = (peer_entity, local) if direction == "ingress" else (local, peer_entity)
                    rules.append(
                        PolicyRule(
                            policy=policy,
                            direction=direction,
                            index=len(rules),
                            path=peer_path if peer is not None else port_path,
                            action="Allow",
                            protocol=proto,
                            not_protocol=None,
                            ip_version=None,
                            source=source,
                            destination=destination,
                            icmp=None,
                            has_http=False,
                        )
                    )
        object.__setattr__(policy, direction, tuple(rules))
    object.__setattr__(policy, "label_selector_errors", tuple(dict.fromkeys(errors)))
    return policy


def _service(raw: RawResource, meta: tuple[Any, ...]) -> Service:
    spec = as_dict(raw.data.get("spec"))
    svc_type = as_str(spec.get("type")) or "ClusterIP"
    cluster_ip = spec.get("clusterIP")
    cluster_ips_raw = as_list(spec.get("clusterIPs"))
    headless = cluster_ip == "None" or (cluster_ips_raw[:1] == ["None"])
    ip_values: list[tuple[PathT, Any]] = []
    if isinstance(cluster_ip, str) and cluster_ip not in ("", "None"):
        ip_values.append((("clusterIP",), cluster_ip))
    for i, value in enumerate(cluster_ips_raw):
        if value in ("", "None") or (i == 0 and value == cluster_ip):
            continue
        ip_values.append((("clusterIPs", i), value))
    ports = []
    for i, port in enumerate(as_list(spec.get("ports"))):
        data = as_dict(port)
        number = data.get("port")
        target = data.get("targetPort")
        node_port = data.get("nodePort")
        ports.append(
            ServicePort(
                index=i,
                name=as_str(data.get("name")) or "",
                port=number if isinstance(number, int) and not isinstance(number, bool) else None,
                target_port=target if isinstance(target, (int, str)) and not isinstance(target, bool) else None,
                node_port=node_port if isinstance(node_port, int) and not isinstance(node_port, bool) else None,
                protocol=as_str(data.get("protocol")) or "TCP",
            )
        )
    etp = as_str(spec.get("externalTrafficPolicy"))
    status_ips = [
        (("status", "loadBalancer", "ingress", i, "ip"), as_dict(item).get("ip"))
        for i, item in enumerate(as_list(as_dict(as_dict(raw.data.get("status")).get("loadBalancer")).get("ingress")))
        if as_dict(item).get("ip") is not None
    ]
    lb_values: list[tuple[PathT, Any]] = []
    if spec.get("loadBalancerIP"):
        lb_values.append((("spec", "loadBalancerIP"), spec.get("loadBalancerIP")))
    lb_values.extend(status_ips)
    selector = spec.get("selector")
    return _simple(
        Service,
        raw,
        meta,
        type=svc_type,
        cluster_ips=_ip_refs(("spec",), ip_values),
        cluster_ip_explicit=bool(ip_values),
        headless=headless,
        ports=tuple(ports),
        selector=labels_of(selector) if isinstance(selector, dict) and selector else None,
        external_traffic_policy="Local" if etp == "Local" else "Cluster",
        external_traffic_policy_set=etp is not None,
        internal_traffic_policy="Local" if spec.get("internalTrafficPolicy") == "Local" else "Cluster",
        external_ips=_ip_refs(
            ("spec", "externalIPs"), [((i,), v) for i, v in enumerate(as_list(spec.get("externalIPs")))]
        ),
        load_balancer_ips=_ip_refs((), lb_values),
    )


_TEMPLATE_PATHS: dict[str, PathT] = {
    "Pod": (),
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}


def _dig(data: Any, path: PathT) -> Any:
    for part in path:
        if isinstance(part, str):
            data = as_dict(data).get(part)
        else:
            items = as_list(data)
            data = items[part] if 0 <= part < len(items) else None
    return data


def _workload(raw: RawResource, meta: tuple[Any, ...]) -> Workload:
    kind, labels = meta[1], meta[4]
    template_path = _TEMPLATE_PATHS[kind]
    template = as_dict(_dig(raw.data, template_path))
    pod_spec = as_dict(template.get("spec"))
    pod_labels = labels_of(as_dict(template.get("metadata")).get("labels")) if template_path else labels
    ports = []
    for group in ("initContainers", "containers"):
        for ci, container in enumerate(as_list(pod_spec.get(group))):
            for pi, port in enumerate(as_list(as_dict(container).get("ports"))):
                data = as_dict(port)
                number = data.get("containerPort")
                if isinstance(number, int) and not isinstance(number, bool):
                    ports.append(
                        ContainerPort(
                            name=as_str(data.get("name")) or "",
                            port=number,
                            protocol=as_str(data.get("protocol")) or "TCP",
                            path=template_path + ("spec", group, ci, "ports", pi),
                        )
                    )
    sa = as_str(pod_spec.get("serviceAccountName")) or as_str(pod_spec.get("serviceAccount")) or "default"
    return _simple(
        Workload,
        raw,
        meta,
        pod_labels=pod_labels,
        labels_path=template_path + ("metadata", "labels"),
        service_account=sa,
        container_ports=tuple(ports),
        host_network=as_bool(pod_spec.get("hostNetwork")),
        endpoint_labels={},
    )


def _host_endpoint(raw: RawResource, meta: tuple[Any, ...]) -> HostEndpoint:
    spec = as_dict(raw.data.get("spec"))
    named = []
    for port in as_list(spec.get("ports")):
        data = as_dict(port)
        if isinstance(data.get("name"), str) and type(data.get("port")) is int:  # not a bool
            named.append((data["name"], data["port"], as_str(data.get("protocol")) or "TCP"))
    return _simple(
        HostEndpoint,
        raw,
        meta,
        node=as_str(spec.get("node")) or "",
        interface_name=as_str(spec.get("interfaceName")) or "",
        expected_ips=_ip_refs(
            ("spec", "expectedIPs"), [((i,), v) for i, v in enumerate(as_list(spec.get("expectedIPs")))]
        ),
        profiles=tuple(p for p in as_list(spec.get("profiles")) if isinstance(p, str)),
        named_ports=tuple(named),
    )


def _proto_ports(value: Any) -> tuple[ProtoPort, ...] | None:
    if not isinstance(value, list):
        return None
    out = []
    for item in value:
        data = as_dict(item)
        port = data.get("port")
        out.append(
            ProtoPort(
                protocol=as_str(data.get("protocol")) or "TCP",
                port=port if isinstance(port, int) and not isinstance(port, bool) else None,
                net=as_str(data.get("net")),
            )
        )
    return tuple(out)


def _simple(cls: type[Any], raw: RawResource, meta: tuple[Any, ...], **fields: Any) -> Any:
    api, kind, name, namespace, labels, annotations = meta
    return cls(
        raw=raw,
        api_version=api,
        kind=kind,
        name=name,
        namespace=namespace,
        labels=labels,
        annotations=annotations,
        **fields,
    )


def _cidr_items(path: PathT, value: Any) -> tuple[Ref[IPNetwork], ...]:
    out = []
    for i, item in enumerate(as_list(value)):
        cidr = as_dict(item).get("cidr")
        refs = _net_refs(path + (i,), [cidr])
        out.extend(Ref(path + (i, "cidr"), r.raw, r.value, r.error) for r in refs)
    return tuple(out)


# ------------------------------------------------------------------------------------------
# The model
# ------------------------------------------------------------------------------------------


@dataclass
class Model:
    resources: list[Resource] = field(default_factory=list)
    services: list[Service] = field(default_factory=list)
    workloads: list[Workload] = field(default_factory=list)
    namespaces: dict[str, Namespace] = field(default_factory=dict)
    nodes: list[Node] = field(default_factory=list)
    service_accounts: dict[tuple[str, str], ServiceAccount] = field(default_factory=dict)
    policies: list[Policy] = field(default_factory=list)
    tiers: dict[str, Tier] = field(default_factory=dict)
    host_endpoints: list[HostEndpoint] = field(default_factory=list)
    network_sets: list[NetworkSet] = field(default_factory=list)
    ip_pools: list[IPPool] = field(default_factory=list)
    bgp_configurations: list[BGPConfiguration] = field(default_factory=list)
    felix_configurations: list[FelixConfiguration] = field(default_factory=list)
    kube_controllers: list[KubeControllersConfiguration] = field(default_factory=list)
    by_key: dict[tuple[str, str, str | None, str], list[Resource]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._indexes: dict[str, _LabelIndex[Any]] = {}
        self._service_workloads: dict[int, list[Workload]] = {}
        self._workloads_by_namespace: dict[str | None, list[Workload]] = {}

    # --- lookups ---------------------------------------------------------------------------

    def of_kind(self, *kinds: str) -> Iterator[Resource]:
        return (r for r in self.resources if r.kind in kinds)

    @property
    def bgp_default(self) -> BGPConfiguration | None:
        for config in self.bgp_configurations:
            if config.name == "default":
                return config
        return None

    @property
    def felix_default(self) -> FelixConfiguration | None:
        for config in self.felix_configurations:
            if config.name == "default":
                return config
        return None

    @property
    def auto_host_endpoints_enabled(self) -> bool:
        return any(k.auto_host_endpoints for k in self.kube_controllers)

    @cached_property
    def all_host_endpoints(self) -> list[HostEndpoint]:
        """User HostEndpoints plus the automatic ones kube-controllers makes from Nodes (when enabled)."""
        out = list(self.host_endpoints)
        if self.auto_host_endpoints_enabled:
            for node in self.nodes:
                labels = dict(node.labels)
                labels[AUTO_HEP_LABEL] = "calico-kube-controllers"
                addresses = _ip_refs(("status", "addresses"), [((i,), a) for i, a in enumerate(node.addresses)])
                out.append(
                    implied_host_endpoint(
                        node.raw,
                        f"{node.name}-auto-hep",
                        labels,
                        node=node.name,
                        interface_name="*",
                        expected_ips=addresses,
                        profiles=("projectcalico-default-allow",),
                        auto=True,
                    )
                )
        return out

    @property
    def enforced_policies(self) -> list[Policy]:
        return [p for p in self.policies if not p.staged]

    def tier_order(self, name: str) -> float:
        tier = self.tiers.get(name)
        if tier is not None:
            return tier.order
        # A tier without an order (or not in the repository) sorts like the default tier: Calico
        # defaults a nil tier order to 1,000,000 (libcalico-go resources.DefaultTierFields).
        return {"kube-admin": 1_000.0, "kube-baseline": 10_000_000.0}.get(name, DEFAULT_TIER_ORDER)

    def tier_default_action(self, name: str) -> str:
        tier = self.tiers.get(name)
        if tier is not None:
            return tier.default_action
        return "Pass" if name in ("kube-admin", "kube-baseline") else "Deny"

    def ordered(self, policies: Iterable[Policy]) -> list[Policy]:
        """Calico's evaluation order: tier order, tier name, policy order (missing last), name."""
        return sorted(policies, key=lambda p: (self.tier_order(p.tier), p.tier, *p.sort_key))

    # --- selection through label indexes ---------------------------------------------------

    def _index(self, name: str, build: Callable[[], list[tuple[Mapping[str, str], Any]]]) -> _LabelIndex[Any]:
        index = self._indexes.get(name)
        if index is None:
            index = self._indexes[name] = _LabelIndex(build())
        return index

    def workloads_matching(self, selector: sel.Selector) -> list[Workload]:
        index = self._index("workloads", lambda: [(w.endpoint_labels, w) for w in self.workloads if not w.host_network])
        return index.select(selector)

    def host_endpoints_matching(self, selector: sel.Selector) -> list[HostEndpoint]:
        index = self._index("heps", lambda: [(h.labels, h) for h in self.all_host_endpoints])
        return index.select(selector)

    def network_sets_matching(self, selector: sel.Selector) -> list[NetworkSet]:
        index = self._index("netsets", lambda: [(n.endpoint_labels, n) for n in self.network_sets])
        return index.select(selector)

    def service_workloads(self, service: Service) -> list[Workload]:
        """Workloads in the Service's namespace whose pod labels match its selector (cached)."""
        if service.selector is None:
            return []
        found = self._service_workloads.get(id(service))
        if found is None:
            if not self._workloads_by_namespace:
                for w in self.workloads:
                    self._workloads_by_namespace.setdefault(w.namespace, []).append(w)
            want = service.selector
            found = self._service_workloads[id(service)] = [
                w
                for w in self._workloads_by_namespace.get(service.namespace, ())
                if all(w.pod_labels.get(k) == v for k, v in want.items())
            ]
        return found

    def policies_selecting(self, labels: Mapping[str, str], policies: Iterable[Policy] | None = None) -> list[Policy]:
        return [
            p
            for p in (self.policies if policies is None else policies)
            if p.effective_selector is not None and p.effective_selector.matches(labels)
        ]


class _LabelIndex(Generic[T]):
    """Finds the objects a selector matches without testing every object.

    Objects that carry the same labels are one class for every selector: a selector is evaluated
    once per distinct label set, never once per object, and only on the classes that carry a label
    every match needs (or, failing that, one of the labels some match needs). Answers are kept per
    selector (selectors are hashable by canonical form), so a selector written in 6,000 policies is
    answered once. Results come in the order the objects were given.
    """

    def __init__(self, items: list[tuple[Mapping[str, str], T]]) -> None:
        self.items = items
        #: the distinct label sets, and the positions of the objects carrying each one (ascending)
        self.classes: list[Mapping[str, str]] = []
        self.members: list[list[int]] = []
        slot: dict[frozenset[tuple[str, str]], int] = {}
        for i, (labels, _) in enumerate(items):
            key = frozenset(labels.items())
            c = slot.get(key)
            if c is None:
                c = slot[key] = len(self.classes)
                self.classes.append(labels)
                self.members.append([])
            self.members[c].append(i)
        self.by_key: dict[str, list[int]] = defaultdict(list)
        self.by_pair: dict[tuple[str, str], list[int]] = defaultdict(list)
        for c, labels in enumerate(self.classes):
            for key, value in labels.items():
                self.by_key[key].append(c)
                self.by_pair[(key, value)].append(c)
        self._answers: dict[sel.Selector, list[T]] = {}

    def select(self, selector: sel.Selector) -> list[T]:
        """The objects ``selector`` matches, in order: a new list each time (callers may change it)."""
        found = self._answers.get(selector)
        if found is None:
            items = self.items
            found = self._answers[selector] = [items[i][1] for i in self._positions(selector)]
        return list(found)

    def _positions(self, selector: sel.Selector) -> tuple[int, ...]:
        required = selector.required_labels()
        if required is None:
            return ()
        candidates: Iterable[int]
        if required:
            # The rarest label every match must carry narrows the candidate classes most.
            def pool(entry: tuple[str, frozenset[str] | None]) -> list[int]:
                key, values = entry
                if values is None:
                    return self.by_key.get(key, [])
                return sorted({c for v in values for c in self.by_pair.get((key, v), ())})

            candidates = min((pool(entry) for entry in required.items()), key=len)
        else:
            hint = selector.index_hint()
            if hint is None:
                candidates = range(len(self.classes))
            else:
                found: set[int] = set()
                for key, values in hint:
                    if values is None:
                        found.update(self.by_key.get(key, ()))
                    else:
                        for value in values:
                            found.update(self.by_pair.get((key, value), ()))
                candidates = sorted(found)
        matched = [self.members[c] for c in candidates if selector.matches(self.classes[c])]
        if len(matched) == 1:
            return tuple(matched[0])
        return tuple(sorted(i for members in matched for i in members))


def _endpoint_labels(
    labels: Mapping[str, str],
    namespace: str,
    sa: str | None,
    ns_labels: Mapping[str, str],
    sa_labels: Mapping[str, str],
) -> dict[str, str]:
    out = dict(labels)
    out[NS_LABEL] = namespace
    out[ORCH_LABEL] = "k8s"
    out[NS_PREFIX + "projectcalico.org/name"] = namespace
    out[NS_PREFIX + "kubernetes.io/metadata.name"] = namespace
    for key, value in ns_labels.items():
        out[NS_PREFIX + key] = value
    if sa is not None:
        if len(sa) < 63:
            out[SA_LABEL] = sa
        out[SA_PREFIX + "projectcalico.org/name"] = sa
        for key, value in sa_labels.items():
            out[SA_PREFIX + key] = value
    return out


def build_model(resources: Iterable[RawResource], default_namespace: str = "default") -> Model:
    model = Model()
    for raw in resources:
        meta = _meta(raw, default_namespace)
        api, kind = meta[0], meta[1]
        obj: Resource
        is_calico = api in CALICO_GROUPS
        if is_calico and kind in (
            "GlobalNetworkPolicy",
            "NetworkPolicy",
            "StagedGlobalNetworkPolicy",
            "StagedNetworkPolicy",
        ):
            obj = _calico_policy(raw, meta)
            model.policies.append(obj)  # type: ignore[arg-type]
        elif kind == "StagedKubernetesNetworkPolicy" or (kind == "NetworkPolicy" and not is_calico):
            obj = _k8s_policy(raw, meta)
            model.policies.append(obj)  # type: ignore[arg-type]
        elif kind == "Service" and not is_calico:
            obj = _service(raw, meta)
            model.services.append(obj)  # type: ignore[arg-type]
        elif kind in WORKLOAD_KINDS and not is_calico:
            obj = _workload(raw, meta)
            model.workloads.append(obj)  # type: ignore[arg-type]
        elif kind == "Namespace" and not is_calico:
            obj = _simple(Namespace, raw, meta)
            model.namespaces.setdefault(obj.name, obj)  # type: ignore[arg-type]
        elif kind == "Node" and not is_calico:
            status = as_dict(raw.data.get("status"))
            addresses = tuple(
                a for a in (as_dict(x).get("address") for x in as_list(status.get("addresses"))) if isinstance(a, str)
            )
            obj = _simple(Node, raw, meta, addresses=addresses)
            model.nodes.append(obj)  # type: ignore[arg-type]
        elif kind == "ServiceAccount" and not is_calico:
            obj = _simple(ServiceAccount, raw, meta)
            model.service_accounts.setdefault((obj.namespace or "", obj.name), obj)  # type: ignore[arg-type]
        elif is_calico and kind == "Tier":
            spec = as_dict(raw.data.get("spec"))
            order, order_set = _order(spec.get("order"))
            order = order if order_set else DEFAULT_TIER_ORDER
            obj = _simple(Tier, raw, meta, order=order, default_action=as_str(spec.get("defaultAction")) or "Deny")
            model.tiers.setdefault(obj.name, obj)  # type: ignore[arg-type]
        elif is_calico and kind == "HostEndpoint":
            obj = _host_endpoint(raw, meta)
            model.host_endpoints.append(obj)  # type: ignore[arg-type]
        elif is_calico and kind in ("GlobalNetworkSet", "NetworkSet"):
            nets = _net_refs(
                ("spec", "nets"), as_dict(raw.data.get("spec")).get("nets"), strict=False, allow_bare_ip=True
            )
            obj = _simple(NetworkSet, raw, meta, nets=nets, endpoint_labels={})
            model.network_sets.append(obj)  # type: ignore[arg-type]
        elif is_calico and kind == "IPPool":
            spec = as_dict(raw.data.get("spec"))
            cidr_refs = _net_refs(("spec",), [spec.get("cidr")]) if "cidr" in spec else ()
            cidr = (
                Ref(("spec", "cidr"), cidr_refs[0].raw, cidr_refs[0].value, cidr_refs[0].error) if cidr_refs else None
            )
            uses = tuple(u for u in as_list(spec.get("allowedUses")) if isinstance(u, str)) or ("Workload", "Tunnel")
            modes = {k: v for k in ("ipipMode", "vxlanMode") if isinstance(v := spec.get(k), str)}
            obj = _simple(
                IPPool,
                raw,
                meta,
                cidr=cidr,
                disabled=as_bool(spec.get("disabled")),
                allowed_uses=uses,
                ipip_mode=modes.get("ipipMode", "Never"),
                vxlan_mode=modes.get("vxlanMode", "Never"),
            )
            model.ip_pools.append(obj)  # type: ignore[arg-type]
        elif is_calico and kind == "BGPConfiguration":
            spec = as_dict(raw.data.get("spec"))
            obj = _simple(
                BGPConfiguration,
                raw,
                meta,
                service_cluster_ips=_cidr_items(("spec", "serviceClusterIPs"), spec.get("serviceClusterIPs")),
                service_external_ips=_cidr_items(("spec", "serviceExternalIPs"), spec.get("serviceExternalIPs")),
                service_load_balancer_ips=_cidr_items(
                    ("spec", "serviceLoadBalancerIPs"), spec.get("serviceLoadBalancerIPs")
                ),
            )
            model.bgp_configurations.append(obj)  # type: ignore[arg-type]
        elif is_calico and kind == "FelixConfiguration":
            spec = as_dict(raw.data.get("spec"))
            ranges = spec.get("kubeNodePortRanges")
            obj = _simple(
                FelixConfiguration,
                raw,
                meta,
                failsafe_inbound=_proto_ports(spec.get("failsafeInboundHostPorts")),
                failsafe_outbound=_proto_ports(spec.get("failsafeOutboundHostPorts")),
                kube_node_port_ranges=_port_refs(("spec", "kubeNodePortRanges"), ranges)
                if isinstance(ranges, list)
                else None,
                default_endpoint_to_host_action=as_str(spec.get("defaultEndpointToHostAction")) or "Drop",
            )
            model.felix_configurations.append(obj)  # type: ignore[arg-type]
        elif is_calico and kind == "KubeControllersConfiguration":
            node = as_dict(as_dict(as_dict(raw.data.get("spec")).get("controllers")).get("node"))
            auto = as_dict(node.get("hostEndpoint")).get("autoCreate") == "Enabled"
            obj = _simple(KubeControllersConfiguration, raw, meta, auto_host_endpoints=auto)
            model.kube_controllers.append(obj)  # type: ignore[arg-type]
        else:
            obj = _simple(Resource, raw, meta)
        model.resources.append(obj)
        key = ("calico" if is_calico else api.split("/")[0] if "/" in api else "core", kind, obj.namespace, obj.name)
        model.by_key.setdefault(key, []).append(obj)
    _finish(model)
    return model


def _finish(model: Model) -> None:
    """Derived labels that need the whole repository: namespace and service-account labels."""
    for workload in model.workloads:
        ns = workload.namespace or "default"
        ns_obj = model.namespaces.get(ns)
        sa_obj = model.service_accounts.get((ns, workload.service_account))
        labels = _endpoint_labels(
            workload.pod_labels,
            ns,
            workload.service_account,
            ns_obj.labels if ns_obj else {},
            sa_obj.labels if sa_obj else {},
        )
        object.__setattr__(workload, "endpoint_labels", labels)
    for netset in model.network_sets:
        if netset.namespace is None:
            object.__setattr__(netset, "endpoint_labels", dict(netset.labels))
            continue
        ns_obj = model.namespaces.get(netset.namespace)
        labels = dict(netset.labels)
        labels[NS_LABEL] = netset.namespace
        labels[NS_PREFIX + "projectcalico.org/name"] = netset.namespace
        for key, value in (ns_obj.labels if ns_obj else {}).items():
            labels[NS_PREFIX + key] = value
        object.__setattr__(netset, "endpoint_labels", labels)
    model.policies.sort(key=lambda p: (model.tier_order(p.tier), p.tier, *p.sort_key))
