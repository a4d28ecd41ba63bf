"""Building the :class:`~auditor.model.index.Model` from raw resources: each kind to its builder, then
the labels that need the whole repository (namespace and service-account labels)."""

from __future__ import annotations

import gc
from collections.abc import Iterable

from auditor.load import RawResource
from auditor.model.calico import build_calico_policy, build_host_endpoint, order_of, proto_ports
from auditor.model.fields import cidr_items, meta_of, net_refs, port_refs, simple_resource
from auditor.model.index import Model
from auditor.model.kubernetes import build_k8s_policy, build_service, build_workload, pod_endpoint_labels
from auditor.model.resources import (
    CALICO_GROUPS,
    DEFAULT_TIER_ORDER,
    NS_LABEL,
    NS_PREFIX,
    WORKLOAD_KINDS,
    BGPConfiguration,
    FelixConfiguration,
    IPPool,
    KubeControllersConfiguration,
    Namespace,
    NetworkSet,
    Node,
    Ref,
    Resource,
    ServiceAccount,
    Tier,
    as_bool,
    as_dict,
    as_list,
    as_str,
)


def build_model(resources: Iterable[RawResource], default_namespace: str = "default") -> Model:
    """The model of ``resources``. Cyclic garbage collection is paused while it is built: everything
    built lives as long as the model, and temporaries make no cycles, so a collection during the build
    would only traverse the new objects again and again (20k documents: a sixth of the build's time).
    The collector's state is given back afterwards, also when building fails."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _build_model(resources, default_namespace)
    finally:
        if collecting:
            gc.enable()


def _build_model(resources: Iterable[RawResource], default_namespace: str) -> Model:
    model = Model()
    for raw in resources:
        meta = meta_of(raw, default_namespace)
        api, kind = meta[0], meta[1]
        obj: Resource
        is_calico = api in CALICO_GROUPS
        if is_calico and kind in (
            "GlobalNetworkPolicy",
            "NetworkPolicy",
            "StagedGlobalNetworkPolicy",
            "StagedNetworkPolicy",
        ):
            obj = build_calico_policy(raw, meta)
            model.policies.append(obj)  # type: ignore[arg-type]
        elif kind == "StagedKubernetesNetworkPolicy" or (kind == "NetworkPolicy" and not is_calico):
            obj = build_k8s_policy(raw, meta)
            model.policies.append(obj)  # type: ignore[arg-type]
        elif kind == "Service" and not is_calico:
            obj = build_service(raw, meta)
            model.services.append(obj)  # type: ignore[arg-type]
        elif kind in WORKLOAD_KINDS and not is_calico:
            obj = build_workload(raw, meta)
            model.workloads.append(obj)  # type: ignore[arg-type]
        elif kind == "Namespace" and not is_calico:
            obj = simple_resource(Namespace, raw, meta)
            model.namespaces.setdefault(obj.name, obj)  # type: ignore[arg-type]
        elif kind == "Node" and not is_calico:
            status = as_dict(raw.data.get("status"))
            addresses = tuple(
                a for a in (as_dict(x).get("address") for x in as_list(status.get("addresses"))) if isinstance(a, str)
            )
            obj = simple_resource(Node, raw, meta, addresses=addresses)
            model.nodes.append(obj)  # type: ignore[arg-type]
        elif kind == "ServiceAccount" and not is_calico:
            obj = simple_resource(ServiceAccount, raw, meta)
            model.service_accounts.setdefault((obj.namespace or "", obj.name), obj)  # type: ignore[arg-type]
        elif is_calico and kind == "Tier":
            spec = as_dict(raw.data.get("spec"))
            order, order_set = order_of(spec.get("order"))
            order = order if order_set else DEFAULT_TIER_ORDER
            action = as_str(spec.get("defaultAction")) or "Deny"
            obj = simple_resource(Tier, raw, meta, order=order, default_action=action)
            model.tiers.setdefault(obj.name, obj)  # type: ignore[arg-type]
        elif is_calico and kind == "HostEndpoint":
            obj = build_host_endpoint(raw, meta)
            model.host_endpoints.append(obj)  # type: ignore[arg-type]
        elif is_calico and kind in ("GlobalNetworkSet", "NetworkSet"):
            nets = net_refs(
                ("spec", "nets"), as_dict(raw.data.get("spec")).get("nets"), strict=False, allow_bare_ip=True
            )
            obj = simple_resource(NetworkSet, raw, meta, nets=nets, endpoint_labels={})
            model.network_sets.append(obj)  # type: ignore[arg-type]
        elif is_calico and kind == "IPPool":
            spec = as_dict(raw.data.get("spec"))
            cidr_refs = net_refs(("spec",), [spec.get("cidr")]) if "cidr" in spec else ()
            cidr = (
                Ref(("spec", "cidr"), cidr_refs[0].raw, cidr_refs[0].value, cidr_refs[0].error) if cidr_refs else None
            )
            uses = tuple(u for u in as_list(spec.get("allowedUses")) if isinstance(u, str)) or ("Workload", "Tunnel")
            modes = {k: v for k in ("ipipMode", "vxlanMode") if isinstance(v := spec.get(k), str)}
            obj = simple_resource(
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
            obj = simple_resource(
                BGPConfiguration,
                raw,
                meta,
                service_cluster_ips=cidr_items(("spec", "serviceClusterIPs"), spec.get("serviceClusterIPs")),
                service_external_ips=cidr_items(("spec", "serviceExternalIPs"), spec.get("serviceExternalIPs")),
                service_load_balancer_ips=cidr_items(
                    ("spec", "serviceLoadBalancerIPs"), spec.get("serviceLoadBalancerIPs")
                ),
            )
            model.bgp_configurations.append(obj)  # type: ignore[arg-type]
        elif is_calico and kind == "FelixConfiguration":
            spec = as_dict(raw.data.get("spec"))
            ranges = spec.get("kubeNodePortRanges")
            obj = simple_resource(
                FelixConfiguration,
                raw,
                meta,
                failsafe_inbound=proto_ports(spec.get("failsafeInboundHostPorts")),
                failsafe_outbound=proto_ports(spec.get("failsafeOutboundHostPorts")),
                kube_node_port_ranges=port_refs(("spec", "kubeNodePortRanges"), ranges)
                if isinstance(ranges, list)
                else None,
                default_endpoint_to_host_action=as_str(spec.get("defaultEndpointToHostAction")) or "Drop",
            )
            model.felix_configurations.append(obj)  # type: ignore[arg-type]
        elif is_calico and kind == "KubeControllersConfiguration":
            node = as_dict(as_dict(as_dict(raw.data.get("spec")).get("controllers")).get("node"))
            auto = as_dict(node.get("hostEndpoint")).get("autoCreate") == "Enabled"
            obj = simple_resource(KubeControllersConfiguration, raw, meta, auto_host_endpoints=auto)
            model.kube_controllers.append(obj)  # type: ignore[arg-type]
        else:
            obj = simple_resource(Resource, raw, meta)
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
        labels = pod_endpoint_labels(
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
