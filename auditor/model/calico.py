"""Calico resources into the model: policies (``types`` inference, ``order``, selector scoping of
namespaced policies and rules), entity rules, host endpoints and Felix's failsafe ports."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from auditor import selector as sel
from auditor.findings import PathT
from auditor.load import RawResource
from auditor.model.fields import (
    Meta,
    ip_refs,
    label_equals,
    label_one_of,
    net_refs,
    parse_selector_at,
    port_refs,
    protocol_ref,
    scoped_selector,
    selector_and,
    simple_resource,
)
from auditor.model.resources import (
    NS_LABEL,
    NS_PREFIX,
    SA_LABEL,
    SA_PREFIX,
    EntityRule,
    HostEndpoint,
    Policy,
    PolicyRule,
    ProtoPort,
    Ref,
    SelectorRef,
    as_bool,
    as_dict,
    as_list,
    as_str,
)


def _selector_at(path: PathT, key: str, value: Any) -> SelectorRef | None:
    """The selector written under ``key`` (None when there is none), without making its path when absent."""
    return None if value is None else parse_selector_at(path + (key,), value)


def entity_rule(
    path: PathT,
    value: Any,
    policy_namespace: str | None,
) -> EntityRule:
    data = as_dict(value)
    if not data:  # no source/destination (or an empty one): nothing to parse
        return EntityRule(path, isinstance(value, dict), (), (), None, None, None, (), (), (), None, None, None, None)
    get = data.get
    selector = _selector_at(path, "selector", get("selector"))
    not_selector = _selector_at(path, "notSelector", get("notSelector"))
    ns_selector = _selector_at(path, "namespaceSelector", get("namespaceSelector"))
    sa = as_dict(get("serviceAccounts"))
    sa_names = tuple(n for n in as_list(sa.get("names")) if isinstance(n, str)) if sa else ()
    sa_selector = parse_selector_at(path + ("serviceAccounts", "selector"), sa.get("selector")) if sa else None
    services = get("services") if isinstance(get("services"), dict) else None

    effective: sel.Selector | None = None
    broken = any(s is not None and s.selector is None for s in (selector, ns_selector, sa_selector))
    if not broken:
        wants_positive = selector is not None or not_selector is not None or bool(sa_names) or sa_selector is not None
        parts: list[sel.Selector] = []
        if selector is not None and selector.selector is not None:
            parts.append(selector.selector)
        if sa_names:
            parts.append(label_one_of(SA_LABEL, sa_names))
        if sa_selector is not None and sa_selector.selector is not None:
            parts.append(scoped_selector(sa_selector.selector, SA_PREFIX, SA_LABEL))
        if ns_selector is not None and ns_selector.selector is not None:
            parts.append(scoped_selector(ns_selector.selector, NS_PREFIX, NS_LABEL))
        elif policy_namespace is not None and wants_positive:
            parts.append(label_equals(NS_LABEL, policy_namespace))
        for part in parts:
            effective = part if effective is None else selector_and(effective, part)
    not_effective = not_selector.selector if not_selector is not None else None
    nets, not_nets, ports, not_ports = get("nets"), get("notNets"), get("ports"), get("notPorts")
    return EntityRule(
        path=path,
        present=True,
        nets=net_refs(path + ("nets",), nets) if nets else (),
        not_nets=net_refs(path + ("notNets",), not_nets) if not_nets else (),
        selector=selector,
        not_selector=not_selector,
        namespace_selector=ns_selector,
        ports=port_refs(path + ("ports",), ports) if ports else (),
        not_ports=port_refs(path + ("notPorts",), not_ports) if not_ports else (),
        service_account_names=sa_names,
        service_account_selector=sa_selector,
        services=services,
        effective_selector=effective,
        effective_not_selector=not_effective,
    )


def order_of(value: Any) -> tuple[float, bool]:
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


def _protocol_at(path: PathT, key: str, value: Any) -> Ref[int] | None:
    return None if value is None else protocol_ref(path + (key,), value)


def build_calico_policy(raw: RawResource, meta: Meta) -> Policy:
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
            effective = selector_and(effective, label_equals(NS_LABEL, namespace))
        for extra, prefix, label in ((ns_selector, NS_PREFIX, NS_LABEL), (sa_selector, SA_PREFIX, SA_LABEL)):
            if extra is None:
                continue
            if extra.selector is None:
                effective = None
                break
            effective = selector_and(effective, scoped_selector(extra.selector, prefix, label))
    order, order_set = order_of(spec.get("order"))
    types, explicit = infer_types(spec)
    tier = as_str(spec.get("tier")) or "default"
    policy = simple_resource(
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
                    protocol=_protocol_at(path, "protocol", data.get("protocol")),
                    not_protocol=_protocol_at(path, "notProtocol", data.get("notProtocol")),
                    ip_version=ip_version if ip_version in (4, 6) else None,
                    source=entity_rule(path + ("source",), data.get("source"), rule_ns),
                    destination=entity_rule(path + ("destination",), data.get("destination"), rule_ns),
                    icmp=as_dict(data.get("icmp")) or None,
                    has_http=isinstance(data.get("http"), dict),
                )
            )
        object.__setattr__(policy, direction, tuple(rules))
    return policy


def build_host_endpoint(raw: RawResource, meta: Meta) -> HostEndpoint:
    spec = as_dict(raw.data.get("spec"))
    named = []
    for port in as_list(spec.get("ports")):
        data = as_dict(port)
        if isinstance(data.get("name"), str) and type(data.get("port")) is int:  # not a bool
            named.append((data["name"], data["port"], as_str(data.get("protocol")) or "TCP"))
    return simple_resource(
        HostEndpoint,
        raw,
        meta,
        node=as_str(spec.get("node")) or "",
        interface_name=as_str(spec.get("interfaceName")) or "",
        expected_ips=ip_refs(
            ("spec", "expectedIPs"), [((i,), v) for i, v in enumerate(as_list(spec.get("expectedIPs")))]
        ),
        profiles=tuple(p for p in as_list(spec.get("profiles")) if isinstance(p, str)),
        named_ports=tuple(named),
    )


def proto_ports(value: Any) -> tuple[ProtoPort, ...] | None:
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
