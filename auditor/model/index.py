"""The :class:`Model`: every resource of a run by kind, with lookups, Calico's policy order and the
label indexes that answer "what does this selector match" without testing every object."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Generic

from auditor import selector as sel
from auditor.model.fields import ip_refs
from auditor.model.resources import (
    AUTO_HEP_LABEL,
    DEFAULT_TIER_ORDER,
    BGPConfiguration,
    FelixConfiguration,
    HostEndpoint,
    IPPool,
    KubeControllersConfiguration,
    Namespace,
    NetworkSet,
    Node,
    Policy,
    Resource,
    Service,
    ServiceAccount,
    T,
    Tier,
    Workload,
    implied_host_endpoint,
)

_BUILT_IN_TIER_ORDERS = {"kube-admin": 1_000.0, "kube-baseline": 10_000_000.0}


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
        self._indexes: dict[str, LabelIndex[Any]] = {}
        self._service_workloads: dict[Service, list[Workload]] = {}
        self._workloads_by_namespace: dict[str | None, list[Workload]] = {}

    # --- lookups ---------------------------------------------------------------------------

    @property
    def bgp_default(self) -> BGPConfiguration | None:
        return _named_default(self.bgp_configurations)

    @property
    def felix_default(self) -> FelixConfiguration | None:
        return _named_default(self.felix_configurations)

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
                addresses = ip_refs(("status", "addresses"), [((i,), a) for i, a in enumerate(node.addresses)])
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

    def tier_order(self, name: str) -> float:
        tier = self.tiers.get(name)
        if tier is not None:
            return tier.order
        # A tier without an order (or not in the repository) sorts like the default tier: Calico
        # defaults a nil tier order to 1,000,000 (libcalico-go resources.DefaultTierFields).
        return _BUILT_IN_TIER_ORDERS.get(name, DEFAULT_TIER_ORDER)

    def tier_default_action(self, name: str) -> str:
        tier = self.tiers.get(name)
        if tier is not None:
            return tier.default_action
        return "Pass" if name in ("kube-admin", "kube-baseline") else "Deny"

    def ordered(self, policies: Iterable[Policy]) -> list[Policy]:
        """Calico's evaluation order: tier order, tier name, policy order (missing last), name."""
        return sorted(policies, key=lambda p: (self.tier_order(p.tier), p.tier, *p.sort_key))

    # --- selection through label indexes ---------------------------------------------------

    def _index(self, name: str, build: Callable[[], list[tuple[Mapping[str, str], Any]]]) -> LabelIndex[Any]:
        index = self._indexes.get(name)
        if index is None:
            index = self._indexes[name] = LabelIndex(build())
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
        found = self._service_workloads.get(service)
        if found is None:
            if not self._workloads_by_namespace:
                for w in self.workloads:
                    self._workloads_by_namespace.setdefault(w.namespace, []).append(w)
            want = service.selector
            found = self._service_workloads[service] = [
                w
                for w in self._workloads_by_namespace.get(service.namespace, ())
                if all(w.pod_labels.get(k) == v for k, v in want.items())
            ]
        return found


def _named_default(configs: Iterable[T]) -> T | None:
    """The first configuration named ``default`` (the cluster-wide one Calico reads)."""
    return next((c for c in configs if getattr(c, "name", None) == "default"), None)


class LabelIndex(Generic[T]):
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
