"""CA005 sub-checks on FelixConfiguration port fields and HostEndpoint named ports (facts 1.8, 1.12)."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.calico_validation import port_name_problem
from auditor.catalog import SubCheck
from auditor.findings import Issue
from auditor.model import FelixConfiguration, HostEndpoint, as_dict, as_list
from auditor.ports import MAX_PORT, PORT_PROTOCOLS, protocol_number
from auditor.rules._ca00_kinds import at, only
from auditor.rules._ca005_messages import PORT_NAME_FIX, calico_port_text, is_int, out_of_range


def _kube_node_port_ranges(config: FelixConfiguration) -> Iterator[Issue]:
    for ref in config.kube_node_port_ranges or ():
        if ref.error and isinstance(ref.raw, (int, str)) and not isinstance(ref.raw, bool):
            yield at(config, ref.path, *calico_port_text(ref.raw))
        elif isinstance(ref.value, str):
            yield at(
                config,
                ref.path,
                f"`{ref.raw}` is a port name: Calico rejects named ports in kubeNodePortRanges",
                'Write the numeric range, e.g. `"30000:32767"`.',
            )


def _failsafe_ports(config: FelixConfiguration) -> Iterator[Issue]:
    for key in ("failsafeInboundHostPorts", "failsafeOutboundHostPorts"):
        for i, item in enumerate(as_list(config.spec.get(key))):
            port = as_dict(item).get("port")
            if is_int(port) and not 0 <= port <= MAX_PORT:
                text = out_of_range(port, "Calico cannot store it as a failsafe port")
                yield at(config, ("spec", key, i, "port"), *text)


def _host_endpoint_ports(hep: HostEndpoint) -> Iterator[Issue]:
    for i, item in enumerate(as_list(hep.spec.get("ports"))):
        entry = as_dict(item)
        port, name, protocol = entry.get("port"), entry.get("name"), entry.get("protocol")
        if is_int(port) and not 1 <= port <= MAX_PORT:
            yield at(hep, ("spec", "ports", i, "port"), *out_of_range(port, "Calico rejects the HostEndpoint"))
        why = port_name_problem(name) if isinstance(name, str) else None
        if why:
            yield at(
                hep,
                ("spec", "ports", i, "name"),
                f"port name `{name}` is not a valid port name (it {why}): rules refer to host endpoint ports "
                "by Kubernetes-style names, so Calico rejects it",
                PORT_NAME_FIX,
            )
        number = protocol_number(protocol) if protocol is not None else None
        if number is not None and number not in PORT_PROTOCOLS:
            yield at(
                hep,
                ("spec", "ports", i, "protocol"),
                f"named port with `protocol: {protocol}`: only TCP, UDP and SCTP have ports, so Calico rejects "
                "the HostEndpoint",
                "Use TCP, UDP or SCTP.",
            )


SUB_CHECKS = (
    SubCheck("CA005/felixconfiguration-node-port-ranges", ("FelixConfiguration",), "`kubeNodePortRanges` entries",
             only(FelixConfiguration, _kube_node_port_ranges)),
    SubCheck("CA005/felixconfiguration-failsafe-ports", ("FelixConfiguration",), "failsafe port numbers",
             only(FelixConfiguration, _failsafe_ports)),
    SubCheck("CA005/hostendpoint-ports", ("HostEndpoint",), "HostEndpoint named ports",
             only(HostEndpoint, _host_endpoint_ports)),
)
