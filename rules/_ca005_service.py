"""CA005 sub-checks on Kubernetes Services: ``port``, ``targetPort``, ``nodePort`` and the node-port range
(facts 3.4, 4.2)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from auditor.catalog import SubCheck
from auditor.context import Context
from auditor.findings import Issue, Severity
from auditor.model import Resource, Service, as_list
from auditor.ports import MAX_PORT, MIN_PORT
from auditor.rules._ca00_kinds import at, only
from auditor.rules._ca005_messages import is_int, k8s_port_name_text, out_of_range

SERVICE = ("Service",)
_REJECTS = "Kubernetes rejects the Service"


def _port_entries(service: Service) -> Iterator[tuple[int, dict[str, Any]]]:
    for i, entry in enumerate(as_list(service.spec.get("ports"))):
        if isinstance(entry, dict):
            yield i, entry


def _ports(service: Service) -> Iterator[Issue]:
    for i, entry in _port_entries(service):
        port, target = entry.get("port"), entry.get("targetPort")
        if is_int(port) and not MIN_PORT <= port <= MAX_PORT:
            yield at(service, ("spec", "ports", i, "port"), *out_of_range(port, _REJECTS))
        if is_int(target) and target != 0 and not MIN_PORT <= target <= MAX_PORT:
            yield at(service, ("spec", "ports", i, "targetPort"), *out_of_range(target, _REJECTS, "targetPort"))
        elif isinstance(target, str) and target:
            text = k8s_port_name_text(target, "targetPort")
            if text:
                yield at(service, ("spec", "ports", i, "targetPort"), *text)


def _node_ports(service: Service) -> Iterator[Issue]:
    for i, entry in _port_entries(service):
        node_port = entry.get("nodePort")
        if not is_int(node_port) or node_port == 0:
            continue
        where = ("spec", "ports", i, "nodePort")
        if not MIN_PORT <= node_port <= MAX_PORT:
            yield at(service, where, *out_of_range(node_port, _REJECTS, "nodePort"))
        elif service.type == "ClusterIP":
            yield at(
                service,
                where,
                f"`nodePort: {node_port}` on a ClusterIP Service: Kubernetes forbids node ports unless the type is "
                "NodePort or LoadBalancer",
                "Remove `nodePort` or set `type: NodePort`.",
            )


_SOURCES = {
    # The node-port range as the cluster facts resolve it (auditor.facts): FelixConfiguration `default` first.
    "repo": ("FelixConfiguration `default` kubeNodePortRanges (keep it equal to --service-node-port-range)",
             Severity.WARNING),
    "config": ("`cluster.node-port-range` in the calico-audit configuration", None),
}


def _node_port_outside_range(resource: Resource, ctx: Context) -> Iterator[Issue]:
    if not isinstance(resource, Service) or resource.type not in ("NodePort", "LoadBalancer"):
        return
    ports = [p for p in resource.ports if p.node_port and MIN_PORT <= p.node_port <= MAX_PORT]
    if not ports:
        return
    facts = ctx.packet.facts
    declared = _SOURCES.get(facts.node_port.origin)
    if declared is None:
        return  # the Kubernetes default is assumed, not declared: nothing to hold the Service to
    source, severity = declared
    allowed = facts.node_ports
    for port in ports:
        if port.node_port not in allowed:
            yield at(
                resource,
                port.path + ("nodePort",),
                f"`nodePort: {port.node_port}` is outside the node-port range {allowed} declared by {source}: "
                "the API server refuses to allocate it",
                "Choose a port in that range or omit `nodePort`.",
                severity=severity,
            )


SUB_CHECKS = (
    SubCheck("CA005/service-ports", SERVICE, "`port` and `targetPort`", only(Service, _ports)),
    SubCheck("CA005/service-node-port", SERVICE, "`nodePort` range and Service type", only(Service, _node_ports)),
    SubCheck("CA005/service-node-port-range", SERVICE, "`nodePort` outside the declared node-port range",
             _node_port_outside_range, uses_context=True),
)
