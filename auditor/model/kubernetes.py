"""Kubernetes resources into the model: NetworkPolicy conversion to Calico's semantics, Services,
workloads (pod templates) and the implicit labels Calico gives a pod (namespace, orchestrator,
service account, ``pcns.`` and ``pcsa.`` labels)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from netaddr import IPNetwork

from auditor import selector as sel
from auditor.findings import PathT
from auditor.load import RawResource
from auditor.model.fields import (
    Meta,
    ip_refs,
    label_equals,
    net_refs,
    protocol_ref,
    scoped_selector,
    selector_and,
    simple_resource,
)
from auditor.model.resources import (
    NS_LABEL,
    NS_PREFIX,
    ORCH_LABEL,
    SA_LABEL,
    SA_PREFIX,
    ContainerPort,
    EntityRule,
    Memo,
    Policy,
    PolicyRule,
    Ref,
    Service,
    ServicePort,
    Workload,
    as_bool,
    as_dict,
    as_list,
    as_str,
    labels_of,
)
from auditor.ports import PortError, PortRange, parse_port

#: Kubernetes LabelSelectors and ports by what was written (``repr`` of plain data: ``1``, ``True``,
#: ``1.0`` and ``'1'`` stay apart), and the peer selectors made of them: the same few are written in
#: thousands of NetworkPolicies. A LabelSelector that does not parse keeps its error (path, message).
_LABEL_SELECTORS: Memo[str, sel.Selector | tuple[tuple[str | int, ...], str]] = Memo()
_PORTS: Memo[tuple[PathT, str], tuple[Ref[PortRange | str], ...]] = Memo()


def _label_selector(value: Any, path: PathT, errors: list[tuple[PathT, str]]) -> sel.Selector | None:
    key = repr(value)
    found = _LABEL_SELECTORS.get(key)
    if found is None:
        try:
            found = sel.from_label_selector(value)
        except sel.LabelSelectorError as exc:
            found = (tuple(exc.path), exc.message)
        _LABEL_SELECTORS.keep(key, found)
    if isinstance(found, tuple):
        errors.append((path + found[0], found[1]))
        return None
    return found


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
        nets = net_refs(path + ("ipBlock",), [cidr], strict=False) if cidr is not None else ()
        nets = tuple(Ref(path + ("ipBlock", "cidr"), r.raw, r.value, r.error) for r in nets)
        not_nets = net_refs(path + ("ipBlock", "except"), block.get("except"), strict=False)
    elif peer is not None:
        pod_sel: sel.Selector | None = label_equals(ORCH_LABEL, "k8s")
        if "podSelector" in data:
            chosen = _label_selector(data.get("podSelector"), path + ("podSelector",), errors)
            pod_sel = None if chosen is None or pod_sel is None else selector_and(pod_sel, chosen)
        ns_scope: sel.Selector | None
        if "namespaceSelector" in data:
            ns = _label_selector(data.get("namespaceSelector"), path + ("namespaceSelector",), errors)
            ns_scope = None if ns is None else scoped_selector(ns, NS_PREFIX, NS_LABEL)
        else:
            ns_scope = label_equals(NS_LABEL, namespace)
        if pod_sel is not None and ns_scope is not None:
            effective = selector_and(pod_sel, ns_scope)
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
    if port is None:
        return ()
    key = (path, repr(port))
    found = _PORTS.get(key)
    if found is None:
        found = _PORTS.keep(key, _k8s_ports_of(path, port))
    return found


def _k8s_ports_of(path: PathT, port: Any) -> tuple[Ref[PortRange | str], ...]:
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


def build_k8s_policy(raw: RawResource, meta: Meta) -> Policy:
    kind, namespace = meta[1], meta[3]
    spec = as_dict(raw.data.get("spec"))
    errors: list[tuple[PathT, str]] = []
    chosen = _label_selector(spec.get("podSelector"), ("spec", "podSelector"), errors)
    pod_sel = (
        None
        if chosen is None
        else selector_and(
            selector_and(label_equals(ORCH_LABEL, "k8s"), chosen), label_equals(NS_LABEL, namespace or "default")
        )
    )
    raw_types = as_list(spec.get("policyTypes"))
    if raw_types:
        types = tuple(t for t in raw_types if t in ("Ingress", "Egress"))
    else:
        types = ("Ingress", "Egress") if "egress" in spec else ("Ingress",)
    policy = simple_resource(
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
                        proto = protocol_ref(port_path + ("protocol",), proto_value)
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


def build_service(raw: RawResource, meta: Meta) -> Service:
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
    return simple_resource(
        Service,
        raw,
        meta,
        type=svc_type,
        cluster_ips=ip_refs(("spec",), ip_values),
        cluster_ip_explicit=bool(ip_values),
        headless=headless,
        ports=tuple(ports),
        selector=labels_of(selector) if isinstance(selector, dict) and selector else None,
        external_traffic_policy="Local" if etp == "Local" else "Cluster",
        external_traffic_policy_set=etp is not None,
        internal_traffic_policy="Local" if spec.get("internalTrafficPolicy") == "Local" else "Cluster",
        external_ips=ip_refs(
            ("spec", "externalIPs"), [((i,), v) for i, v in enumerate(as_list(spec.get("externalIPs")))]
        ),
        load_balancer_ips=ip_refs((), lb_values),
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


def build_workload(raw: RawResource, meta: Meta) -> Workload:
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
    return simple_resource(
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


def pod_endpoint_labels(
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
