"""The model's resource types: typed, read-only views of every manifest.

Every typed object keeps its :class:`~auditor.load.RawResource`, so any field can be turned
into a precise :class:`~auditor.findings.Pointer` with ``obj.ptr("spec", "ingress", 0)``. Wrong
types never crash the model: a field of the wrong type reads as absent (CA002 reports it), a value
that does not parse is kept as a :class:`Ref` with its error (CA003/CA004/CA005 report those).
Resource objects hash and compare by identity.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from netaddr import IPNetwork

from auditor import selector as sel
from auditor.findings import PathT, Pointer
from auditor.load import RawResource
from auditor.ports import PortRange

T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")

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


#: Paths in use, each value stored once. A model holds a path per parsed field (``("spec", "ingress",
#: 0, "source", "nets", 0)``), and every policy repeats the same few hundred (20k documents: 111,000
#: tuples, 299 distinct values). A cache: emptied when it grows past a bound (hostile input).
_PATHS: dict[PathT, PathT] = {}


def shared_path(path: PathT) -> PathT:
    """The stored tuple equal to ``path`` (path parts are str keys and int indices)."""
    found = _PATHS.get(path)
    if found is None:
        if len(_PATHS) >= 100_000:
            _PATHS.clear()
        found = _PATHS[path] = path
    return found


class Memo(dict[K, V]):
    """A cache of values computed from a key: emptied when it grows past ``limit`` (hostile input).

    Model building keeps the answers for inputs that repeat across a repository (the same selector
    text, ports list, nets list or Kubernetes peer in thousands of policies) in these; every value
    kept is immutable, so sharing one between resources is the same as computing it again.
    """

    __slots__ = ("limit",)

    def __init__(self, limit: int = 50_000) -> None:
        super().__init__()
        self.limit = limit

    def keep(self, key: K, value: V) -> V:
        if len(self) >= self.limit:
            self.clear()
        self[key] = value
        return value


#: The integer ranges of a nets tuple, by the tuple's id (the tuple itself is kept with them, so the
#: id stays its own): the model builds one tuple per distinct nets list (:func:`~auditor.model.fields.net_refs`).
_RANGES: Memo[int, tuple[tuple[Any, ...], tuple[tuple[int, int, int], ...]]] = Memo()


def net_ranges(refs: tuple[Ref[IPNetwork], ...]) -> tuple[tuple[int, int, int], ...]:
    """``(version, first, last)`` of every valid network in ``refs``, in order."""
    if not refs:
        return ()
    found = _RANGES.get(id(refs))
    if found is not None and found[0] is refs:
        return found[1]
    ranges = tuple((r.value.version, int(r.value.first), int(r.value.last)) for r in refs if r.value is not None)
    return _RANGES.keep(id(refs), (refs, ranges))[1]


@dataclass(frozen=True, slots=True)
class Ref(Generic[T]):
    """A parsed field: where it is (relative to its resource), what was written, what it means."""

    path: PathT
    raw: Any
    value: T | None
    error: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", shared_path(self.path))

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
    #: ``Kind/namespace/name`` (``Kind/name`` when cluster-scoped): used in fingerprints. Set once at
    #: construction (rules read it hundreds of thousands of times in a large repository).
    identity: str = field(init=False, repr=False, default="")

    def __post_init__(self) -> None:
        if self.namespace is not None:
            identity = f"{self.kind}/{self.namespace}/{self.name}"
        else:
            identity = f"{self.kind}/{self.name}"
        object.__setattr__(self, "identity", identity)

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

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", shared_path(self.path))


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
        set_ = object.__setattr__
        set_(self, "path", shared_path(self.path))
        set_(self, "net_ranges", net_ranges(self.nets))
        set_(self, "not_net_ranges", net_ranges(self.not_nets))

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

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", shared_path(self.path))

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
