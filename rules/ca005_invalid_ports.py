"""CA005 invalid-ports: a port, port range or port name that Calico or Kubernetes rejects.

Covered fields (facts 1.5, 1.6, 1.8, 1.12, 3.4, 4.2): Calico rule ``ports``/``notPorts`` (syntax,
range, names, and the rule's ``protocol``), Kubernetes NetworkPolicy ``port``/``endPort``, Service
``port``/``targetPort``/``nodePort``, FelixConfiguration ``kubeNodePortRanges`` and failsafe ports,
HostEndpoint named ports.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from auditor.calico_validation import port_name_problem
from auditor.catalog import Rule
from auditor.context import Context
from auditor.findings import Issue, PathT, Related, Severity
from auditor.model import (
    FelixConfiguration,
    HostEndpoint,
    Policy,
    PolicyRule,
    Ref,
    Resource,
    Service,
    as_dict,
    as_list,
)
from auditor.ports import (
    MAX_PORT,
    MIN_PORT,
    PORT_PROTOCOLS,
    PortError,
    PortRange,
    PortSet,
    parse_range_text,
    protocol_name,
    protocol_number,
    to_int,
)

RULE = Rule(
    id="CA005",
    name="invalid-ports",
    title="A port, port range or port name that Calico or Kubernetes rejects",
    severity=Severity.ERROR,
    rationale=(
        "A bad port rejects the whole object, so the policy or Service is never applied. Calico port "
        'ranges use a colon: `"30000-32767"` is read as a port name and rejected because port names '
        "need a letter. Ports must lie within 1-65535 and ranges must not be reversed. Numeric ports "
        "need the rule's `protocol` to be TCP, UDP or SCTP (a rule without `protocol` matches ICMP too, "
        "which has no ports), and a rule whose protocol has no ports may not list any. Kubernetes "
        "rejects `nodePort` on ClusterIP Services, quoted numbers as port names, and `endPort` without a "
        "numeric `port`."
    ),
    remediation=(
        'Write ranges as `"min:max"` (quoted, colon). Add `protocol: TCP` (or UDP/SCTP) to rules that '
        "list numeric ports; remove ports from ICMP rules. Use lower-case port names of at most 15 "
        "characters with at least one letter, or unquoted numbers. Remove `nodePort` from ClusterIP "
        "Services or change the type to NodePort."
    ),
    references=(
        "https://docs.tigera.io/calico/latest/reference/resources/networkpolicy#ports",
        "https://kubernetes.io/docs/reference/kubernetes-api/service-resources/service-v1/#ServiceSpec",
        "https://kubernetes.io/docs/concepts/services-networking/network-policies/#targeting-a-range-of-ports",
    ),
    tags=("structure", "validation", "ports"),
)

_DASH_RANGE = re.compile(r"^\s*([0-9]+)\s*-\s*([0-9]+)\s*$")
_COLON_RANGE = re.compile(r"^([0-9]+):([0-9]+)$")


# ------------------------------------------------------------------------------------------
# Messages
# ------------------------------------------------------------------------------------------


def _number_message(value: int, what: str = "port") -> str:
    return f"{what} `{value}` is outside {MIN_PORT}-{MAX_PORT}: it is not a port number"


def _calico_port_message(raw: int | str) -> str:
    """Why Calico rejects one entry of ``ports``/``notPorts`` and how to write it."""
    if isinstance(raw, int):
        return _number_message(raw) + "; Calico rejects the rule (omit `ports` to match every port)"
    text = raw.strip()
    if text.isascii() and text.isdigit():
        return _number_message(to_int(text)) + "; Calico rejects the rule"
    dash = _DASH_RANGE.match(text)
    if dash:
        return (
            f"`{raw}` uses a dash: Calico reads it as a port name and rejects it (names need a letter); "
            f'write the range with a colon: `"{dash.group(1)}:{dash.group(2)}"`'
        )
    colon = _COLON_RANGE.match(text)
    if colon:
        lo, hi = to_int(colon.group(1)), to_int(colon.group(2))
        if lo > hi:
            return f'port range `{raw}` is reversed: Calico requires `min:max`; write `"{hi}:{lo}"`'
        return (
            f"port range `{raw}` must lie within {MIN_PORT}-{MAX_PORT}: Calico rejects it; write "
            f'`"{max(lo, MIN_PORT)}:{min(hi, MAX_PORT)}"`'
        )
    why = port_name_problem(text) or "is not a valid port name"
    return (
        f'`{raw}` is neither a number, a `"min:max"` range nor a valid port name (it {why}): Calico rejects '
        "the rule; use the container port's name or its number"
    )


def _k8s_port_name_message(raw: str, what: str) -> str | None:
    """Why Kubernetes rejects a string ``port``/``targetPort`` (an IANA service name), or None."""
    if raw.strip().isascii() and raw.strip().isdigit():
        return (
            f'{what} `"{raw}"` is a quoted number: Kubernetes reads it as a port name, and names need a '
            f"letter; write `{raw.strip()}` without quotes"
        )
    why = port_name_problem(raw)
    if why:
        return f"{what} `{raw}` is not a valid port name (it {why}): Kubernetes rejects the object"
    return None


# ------------------------------------------------------------------------------------------
# Calico policy rules (facts 1.5, 1.6)
# ------------------------------------------------------------------------------------------


def _port_lists(rule: PolicyRule) -> Iterator[tuple[str, list[Ref[Any]]]]:
    for side, entity in (("source", rule.source), ("destination", rule.destination)):
        yield f"{side}.ports", list(entity.ports)
        yield f"{side}.notPorts", list(entity.not_ports)


def _malformed_rule_ports(policy: Policy, rule: PolicyRule) -> Iterator[Issue]:
    for _, refs in _port_lists(rule):
        for ref in refs:
            if ref.ok or isinstance(ref.raw, bool) or not isinstance(ref.raw, (int, str)):
                continue  # other types are schema errors (CA002)
            yield Issue(_calico_port_message(ref.raw), at=policy.ptr_at(ref.path), identity=policy.identity)


def _numeric(refs: list[Ref[Any]]) -> list[Ref[Any]]:
    return [r for r in refs if isinstance(r.value, PortRange)]


def _ports_need_port_protocol(policy: Policy, rule: PolicyRule) -> Iterator[Issue]:
    """Numeric ports need protocol TCP/UDP/SCTP; a protocol without ports allows no ports at all."""
    protocol = rule.protocol
    if protocol is not None and not protocol.ok:
        return  # a misspelt protocol is CA007's finding
    for field_name, refs in _port_lists(rule):
        valid = [r for r in refs if r.ok]
        if protocol is None:
            offending = _numeric(valid)
            if not offending:
                continue
            shown = ", ".join(f"`{r.raw}`" for r in offending)
            yield Issue(
                f"{field_name} {shown} on a rule without `protocol`: Calico rejects numeric ports unless the "
                "rule sets protocol TCP, UDP or SCTP (a rule without protocol also matches ICMP, which has "
                "no ports); add `protocol: TCP`",
                at=policy.ptr_at(offending[0].path),
                identity=policy.identity,
            )
        elif protocol.value not in PORT_PROTOCOLS and valid:
            yield Issue(
                f"{field_name} on a rule with `protocol: {protocol.raw}`: only TCP, UDP and SCTP have ports, so "
                f"Calico rejects the rule; remove the ports or change the protocol",
                at=policy.ptr_at(valid[0].path),
                related=(Related(rule.ptr("protocol"), f"protocol {protocol_name(protocol.value)}"),),
                identity=policy.identity,
            )


# ------------------------------------------------------------------------------------------
# Kubernetes NetworkPolicy ports (Kubernetes ValidateNetworkPolicyPort)
# ------------------------------------------------------------------------------------------


def _k8s_policy_ports(policy: Policy) -> Iterator[tuple[PathT, dict[str, Any]]]:
    """Every ``ports[]`` entry of the manifest (the model flattens peers x ports into rules)."""
    for direction in ("ingress", "egress"):
        for i, item in enumerate(as_list(policy.spec.get(direction))):
            for k, port in enumerate(as_list(as_dict(item).get("ports"))):
                if isinstance(port, dict):
                    yield ("spec", direction, i, "ports", k), port


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _k8s_port_entry(policy: Policy, path: PathT, entry: dict[str, Any]) -> Iterator[Issue]:
    port, end = entry.get("port"), entry.get("endPort")

    def issue(message: str, field_name: str) -> Issue:
        return Issue(message, at=policy.ptr_at(path + (field_name,)), identity=policy.identity)

    if _is_int(port) and not MIN_PORT <= port <= MAX_PORT:
        yield issue(_number_message(port) + "; Kubernetes rejects the NetworkPolicy", "port")
    elif isinstance(port, str):
        message = _k8s_port_name_message(port, "port")
        if message:
            yield issue(message, "port")
    if not _is_int(end):
        return
    if "port" not in entry or port is None:
        yield issue("`endPort` without `port`: Kubernetes rejects it; add the first port of the range", "endPort")
    elif isinstance(port, str):
        yield issue(
            f"`endPort` with the named port `{port}`: Kubernetes allows a range only from a numeric port; use "
            "numbers for both ends",
            "endPort",
        )
    elif _is_int(port) and end < port:
        yield issue(
            f"`endPort: {end}` is below `port: {port}`: Kubernetes rejects a reversed range; write "
            f"`port: {end}` and `endPort: {port}`",
            "endPort",
        )
    elif not MIN_PORT <= end <= MAX_PORT:
        yield issue(_number_message(end, "endPort") + "; Kubernetes rejects the NetworkPolicy", "endPort")


def _k8s_policy_problems(policy: Policy) -> Iterator[Issue]:
    for path, entry in _k8s_policy_ports(policy):
        yield from _k8s_port_entry(policy, path, entry)


# ------------------------------------------------------------------------------------------
# Services (facts 3.4, 4.2)
# ------------------------------------------------------------------------------------------


def _declared_node_ports(ctx: Context) -> tuple[PortSet, str, Severity | None] | None:
    """The node-port range the repository or configuration declares (None: nothing declared)."""
    text = ctx.config.node_port_range.strip()
    if text:
        try:
            return parse_range_text(text), "`cluster.node-port-range` in the calico-audit configuration", None
        except (PortError, ValueError):
            return None
    felix = ctx.model.felix_default
    if felix is not None and felix.kube_node_port_ranges:
        ranges = [r.value for r in felix.kube_node_port_ranges if isinstance(r.value, PortRange)]
        if ranges:
            source = "FelixConfiguration `default` kubeNodePortRanges (keep it equal to --service-node-port-range)"
            return PortSet.of(*ranges), source, Severity.WARNING
    return None


def _service_port_entry(service: Service, index: int, entry: dict[str, Any]) -> Iterator[Issue]:
    def at(field_name: str) -> Any:
        return service.ptr("spec", "ports", index, field_name)

    port, target, node_port = entry.get("port"), entry.get("targetPort"), entry.get("nodePort")
    if _is_int(port) and not MIN_PORT <= port <= MAX_PORT:
        yield Issue(
            _number_message(port) + "; Kubernetes rejects the Service", at=at("port"), identity=service.identity
        )
    if _is_int(target) and target != 0 and not MIN_PORT <= target <= MAX_PORT:
        yield Issue(
            _number_message(target, "targetPort") + "; Kubernetes rejects the Service",
            at=at("targetPort"),
            identity=service.identity,
        )
    elif isinstance(target, str) and target:
        message = _k8s_port_name_message(target, "targetPort")
        if message:
            yield Issue(message, at=at("targetPort"), identity=service.identity)
    if not _is_int(node_port) or node_port == 0:
        return
    if not MIN_PORT <= node_port <= MAX_PORT:
        yield Issue(
            _number_message(node_port, "nodePort") + "; Kubernetes rejects the Service",
            at=at("nodePort"),
            identity=service.identity,
        )
    elif service.type == "ClusterIP":
        yield Issue(
            f"`nodePort: {node_port}` on a ClusterIP Service: Kubernetes forbids node ports unless the type is "
            "NodePort or LoadBalancer; remove nodePort or set `type: NodePort`",
            at=at("nodePort"),
            identity=service.identity,
        )


def _node_port_outside_range(service: Service, declared: tuple[PortSet, str, Severity | None]) -> Iterator[Issue]:
    allowed, source, severity = declared
    if service.type not in ("NodePort", "LoadBalancer"):
        return
    for port in service.ports:
        if port.node_port is None or port.node_port == 0 or not MIN_PORT <= port.node_port <= MAX_PORT:
            continue
        if port.node_port not in allowed:
            yield Issue(
                f"`nodePort: {port.node_port}` is outside the node-port range {allowed} declared by {source}: "
                "the API server refuses to allocate it; choose a port in that range or omit nodePort",
                at=service.ptr_at(port.path + ("nodePort",)),
                identity=service.identity,
                severity=severity,
            )


# ------------------------------------------------------------------------------------------
# FelixConfiguration and HostEndpoint (facts 1.8, 1.12)
# ------------------------------------------------------------------------------------------


def _kube_node_port_ranges(config: FelixConfiguration) -> Iterator[Issue]:
    for ref in config.kube_node_port_ranges or ():
        if ref.error and isinstance(ref.raw, (int, str)) and not isinstance(ref.raw, bool):
            yield Issue(_calico_port_message(ref.raw), at=config.ptr_at(ref.path), identity=config.identity)
        elif isinstance(ref.value, str):
            yield Issue(
                f"`{ref.raw}` is a port name: Calico rejects named ports in kubeNodePortRanges; write the "
                'numeric range, e.g. `"30000:32767"`',
                at=config.ptr_at(ref.path),
                identity=config.identity,
            )


def _failsafe_ports(config: FelixConfiguration) -> Iterator[Issue]:
    for key in ("failsafeInboundHostPorts", "failsafeOutboundHostPorts"):
        for i, item in enumerate(as_list(config.spec.get(key))):
            port = as_dict(item).get("port")
            if _is_int(port) and not 0 <= port <= MAX_PORT:
                yield Issue(
                    _number_message(port) + "; Calico cannot store it as a failsafe port",
                    at=config.ptr("spec", key, i, "port"),
                    identity=config.identity,
                )


def _host_endpoint_ports(hep: HostEndpoint) -> Iterator[Issue]:
    for i, item in enumerate(as_list(hep.spec.get("ports"))):
        entry = as_dict(item)
        port, name, protocol = entry.get("port"), entry.get("name"), entry.get("protocol")
        if _is_int(port) and not MIN_PORT <= port <= MAX_PORT:
            yield Issue(
                _number_message(port) + "; Calico rejects the HostEndpoint",
                at=hep.ptr("spec", "ports", i, "port"),
                identity=hep.identity,
            )
        if isinstance(name, str):
            why = port_name_problem(name)
            if why:
                yield Issue(
                    f"port name `{name}` is not a valid port name (it {why}): rules refer to host endpoint ports "
                    "by Kubernetes-style names, so Calico rejects it",
                    at=hep.ptr("spec", "ports", i, "name"),
                    identity=hep.identity,
                )
        number = protocol_number(protocol) if protocol is not None else None
        if number is not None and number not in PORT_PROTOCOLS:
            yield Issue(
                f"named port with `protocol: {protocol}`: only TCP, UDP and SCTP have ports, so Calico rejects "
                "the HostEndpoint; use TCP, UDP or SCTP",
                at=hep.ptr("spec", "ports", i, "protocol"),
                identity=hep.identity,
            )


# ------------------------------------------------------------------------------------------


def _policy_problems(policy: Policy) -> Iterator[Issue]:
    if policy.is_kubernetes:
        yield from _k8s_policy_problems(policy)
        return
    for rule in policy.rules:
        yield from _malformed_rule_ports(policy, rule)
        yield from _ports_need_port_protocol(policy, rule)


def _by_kind(resource: Resource, declared: tuple[PortSet, str, Severity | None] | None) -> Iterator[Issue]:
    if isinstance(resource, Policy):
        yield from _policy_problems(resource)
    elif isinstance(resource, Service):
        for i, entry in enumerate(as_list(resource.spec.get("ports"))):
            if isinstance(entry, dict):
                yield from _service_port_entry(resource, i, entry)
        if declared is not None:
            yield from _node_port_outside_range(resource, declared)
    elif isinstance(resource, FelixConfiguration):
        yield from _kube_node_port_ranges(resource)
        yield from _failsafe_ports(resource)
    elif isinstance(resource, HostEndpoint):
        yield from _host_endpoint_ports(resource)


def check(ctx: Context) -> Iterator[Issue]:
    declared = _declared_node_ports(ctx)
    for resource in ctx.model.resources:
        yield from _by_kind(resource, declared)
