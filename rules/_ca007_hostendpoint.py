"""CA007 sub-checks on HostEndpoints: node, interface, expected IPs and named ports (facts 1.8)."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.api import Issue, SubCheck
from auditor.calico_validation import (
    PLACEHOLDER_FIX,
    interface_name_problem,
    is_cidr_notation,
    is_subdomain,
    looks_like_placeholder,
    protocol_problem,
)
from auditor.model import HostEndpoint, as_dict, as_list
from auditor.nets import parse_cidr
from auditor.rules._ca007_common import HEP, issue


def _bad_value_message(field_name: str, value: str, why: str) -> str:
    if looks_like_placeholder(value):
        return (
            f"{field_name} `{value}` is an unfilled placeholder, and Calico rejects the HostEndpoint as written; "
            f"{PLACEHOLDER_FIX}"
        )
    return f"{field_name} `{value}` {why}: Calico rejects the HostEndpoint"


def _host_endpoint_node(hep: HostEndpoint) -> Iterator[Issue]:
    spec = hep.data.get("spec")
    if not isinstance(spec, dict):
        return  # a missing spec is a schema error (CA002)
    node = spec.get("node")
    if node is None or node == "":
        yield issue(
            hep,
            "HostEndpoint without `node`: Calico rejects it (Felix applies a host endpoint only on the node "
            "named here); set `node` to the node's name",
            ("spec", "node") if "node" in spec else ("spec",),
            on_key=True,
        )
    elif isinstance(node, str) and not is_subdomain(node):
        yield issue(
            hep,
            _bad_value_message("node", node, "is not a valid node name (a lower-case DNS subdomain)"),
            ("spec", "node"),
        )


def _host_endpoint_binding(hep: HostEndpoint) -> Iterator[Issue]:
    spec = hep.data.get("spec")
    if not isinstance(spec, dict):
        return
    if not spec.get("interfaceName") and not as_list(spec.get("expectedIPs")):
        yield issue(
            hep,
            "HostEndpoint with neither `interfaceName` nor `expectedIPs`: Calico rejects it because it could "
            "not bind to any interface; add `interfaceName` (or `*`) and the host's `expectedIPs`",
            ("spec",),
            on_key=True,
        )


def _host_endpoint_interface_name(hep: HostEndpoint) -> Iterator[Issue]:
    name = hep.spec.get("interfaceName")
    if isinstance(name, str) and name:
        why = interface_name_problem(name)
        if why:
            yield issue(hep, _bad_value_message("interfaceName", name, why), ("spec", "interfaceName"))


def _expected_ips_as_cidrs(hep: HostEndpoint) -> Iterator[Issue]:
    for ref in hep.expected_ips:
        if ref.ok or not isinstance(ref.raw, str) or not is_cidr_notation(ref.raw):
            continue
        address = ref.raw.strip().partition("/")[0]
        network = parse_cidr(ref.raw, strict=False)
        if network.prefixlen == (32 if network.version == 4 else 128):
            fix = f"write `{address}`"
        else:
            fix = "list the host's own addresses one by one"
        yield issue(
            hep,
            f"`{ref.raw}` is a CIDR: expectedIPs take plain IP addresses and Calico rejects CIDR notation; {fix}",
            ref.path,
        )


def _host_endpoint_port_protocols(hep: HostEndpoint) -> Iterator[Issue]:
    for i, item in enumerate(as_list(hep.spec.get("ports"))):
        protocol = as_dict(item).get("protocol")
        why = protocol_problem(protocol) if protocol is not None else None
        if why:
            yield issue(hep, f"port protocol `{protocol}` {why}", ("spec", "ports", i, "protocol"))



def _host_endpoint_profiles(hep: HostEndpoint) -> Iterator[Issue]:
    for i, profile in enumerate(as_list(hep.spec.get("profiles"))):
        if isinstance(profile, str) and not is_subdomain(profile):
            yield issue(
                hep,
                f"profile `{profile}` is not a valid profile name (lower-case letters, digits, '-' and '.', "
                "starting and ending with a letter or digit): Calico rejects the HostEndpoint",
                ("spec", "profiles", i),
            )


SUB_CHECKS = (
    SubCheck("CA007/hostendpoint-node", HEP, "`node` missing or not a node name", _host_endpoint_node),
    SubCheck(
        "CA007/hostendpoint-binding", HEP, "neither `interfaceName` nor `expectedIPs`", _host_endpoint_binding
    ),
    SubCheck("CA007/hostendpoint-interface-name", HEP, "invalid `interfaceName`", _host_endpoint_interface_name),
    SubCheck("CA007/hostendpoint-expected-ips", HEP, "CIDRs in `expectedIPs`", _expected_ips_as_cidrs),
    SubCheck("CA007/hostendpoint-port-protocol", HEP, "named port protocols", _host_endpoint_port_protocols),
    SubCheck("CA007/hostendpoint-profiles", HEP, "profile names", _host_endpoint_profiles),
)
