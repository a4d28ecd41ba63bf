"""CA007 sub-checks on FelixConfiguration numbers, ranges and addresses (facts 1.12).

From Calico v3.32's ``validateFelixConfigSpec``, ``validateRouteTableRange``/``IDRange``,
``validateProtoPort`` and the ``validate`` tags of ``FelixConfigurationSpec``: failsafe protocols,
route table ranges, WireGuard ports, priority and interface names, NAT and device-route addresses,
node port ranges (at most 7) and the Go runtime limits.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

from auditor.calico_validation import IFACE_FILTER_RE, interface_name_problem
from auditor.catalog import SubCheck
from auditor.findings import Issue, PathT, Related
from auditor.model import FelixConfiguration, Resource, as_dict, as_list
from auditor.nets import NetError, parse_cidr
from auditor.rules._ca007_common import cidr_issue, issue

FELIX = ("FelixConfiguration",)
ROUTE_TABLE_MAX = 0xFFFFFFFF
ROUTE_TABLES_MAX_DESIGNATED = 0xFFFF


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _failsafe_protocols(config: FelixConfiguration) -> Iterator[Issue]:
    for key in ("failsafeInboundHostPorts", "failsafeOutboundHostPorts"):
        for i, item in enumerate(as_list(config.spec.get(key))):
            protocol = as_dict(item).get("protocol")
            if not isinstance(protocol, str) or protocol in ("TCP", "UDP", "SCTP"):
                continue
            fix = (
                f"write `{protocol.upper()}` (lower case is the environment-variable syntax)"
                if protocol.upper() in ("TCP", "UDP", "SCTP")
                else "use TCP, UDP or SCTP"
            )
            yield issue(
                config,
                f"failsafe protocol `{protocol}`: Calico accepts only `TCP`, `UDP` or `SCTP` here; {fix}",
                ("spec", key, i, "protocol"),
            )


def _route_tables(config: Resource) -> Iterator[Issue]:
    spec = config.spec
    single = as_dict(spec.get("routeTableRange"))
    low, high = _int(single.get("min")), _int(single.get("max"))
    if low is not None and high is not None and not (1 <= low <= high <= 250):
        yield issue(
            config,
            f"routeTableRange {low}-{high}: Calico requires a range within 1-250 with min <= max "
            "(use `routeTableRanges` for tables above 250)",
            ("spec", "routeTableRange"),
            on_key=True,
        )
    if spec.get("routeTableRange") is not None and spec.get("routeTableRanges") is not None:
        yield issue(
            config,
            "`routeTableRange` together with `routeTableRanges`: Calico rejects both; keep `routeTableRanges` "
            "(the deprecated `routeTableRange` is replaced by it)",
            ("spec", "routeTableRange"),
            on_key=True,
            related=(Related(config.ptr("spec", "routeTableRanges", on_key=True), "routeTableRanges"),),
        )
    total = 0
    for i, item in enumerate(as_list(spec.get("routeTableRanges"))):
        entry = as_dict(item)
        low, high = _int(entry.get("min")), _int(entry.get("max"))
        if low is None or high is None:
            continue
        problems = []
        if low > high:
            problems.append("min is greater than max")
        if low < 1:
            problems.append("it targets table indices below 1")
        if high > ROUTE_TABLE_MAX:
            problems.append(f"max is above {ROUTE_TABLE_MAX}")
        if problems:
            yield issue(
                config,
                f"routeTableRanges entry {low}-{high}: {'; '.join(problems)}, so Calico rejects it",
                ("spec", "routeTableRanges", i),
            )
        else:
            total += high - low + 1
    if total > ROUTE_TABLES_MAX_DESIGNATED:
        yield issue(
            config,
            f"routeTableRanges designate {total:,} tables: Calico allows at most {ROUTE_TABLES_MAX_DESIGNATED:,}",
            ("spec", "routeTableRanges"),
            on_key=True,
        )


def _out_of_range(config: Resource, key: str, low: int, high: int, what: str) -> Iterator[Issue]:
    value = _int(config.spec.get(key))
    if value is not None and not low <= value <= high:
        yield issue(config, f"`{key}: {value}` is outside {low}-{high} ({what}): Calico rejects it", ("spec", key))


def _wireguard(config: Resource) -> Iterator[Issue]:
    for key in ("wireguardListeningPort", "wireguardListeningPortV6"):
        yield from _out_of_range(config, key, 1, 65535, "a UDP port")
    yield from _out_of_range(config, "wireguardRoutingRulePriority", 1, 32765, "a routing rule priority")
    for key in ("wireguardInterfaceName", "wireguardInterfaceNameV6"):
        name = config.spec.get(key)
        why = interface_name_problem(name) if isinstance(name, str) and name else None
        if why or name == "*":
            why = why or "must name one interface"
            yield issue(config, f"{key} `{name}` {why}: Calico rejects it", ("spec", key))


def _address(config: Resource, key: str, version: int) -> Iterator[Issue]:
    value = config.spec.get(key)
    if not isinstance(value, str) or not value:
        return
    try:
        ok = ipaddress.ip_address(value.strip()).version == version
    except ValueError:
        ok = False
    if not ok:
        yield issue(config, f"{key} `{value}` is not an IPv{version} address: Calico rejects it", ("spec", key))


def _port_range_problem(value: Any) -> str | None:
    """numorstring.Port as Felix's NAT/PSNAT ranges use it: a port or ``min:max`` within 1-65535."""
    if _int(value) is not None:
        low = high = value
    elif isinstance(value, str) and ":" in value:
        parts = value.split(":")
        if len(parts) != 2 or not all(p.strip().isascii() and p.strip().isdigit() for p in parts):
            return "is not `min:max`"
        low, high = (int(p) for p in parts)
    else:
        return None  # a name, or a type error (CA002)
    if not (1 <= low <= 65535 and 1 <= high <= 65535):
        return "has a port outside 1-65535"
    if low > high:
        return "has min greater than max"
    return None


def _nat(config: Resource) -> Iterator[Issue]:
    spec = config.spec
    yield from _address(config, "natOutgoingAddress", 4)
    yield from _address(config, "deviceRouteSourceAddress", 4)
    yield from _address(config, "deviceRouteSourceAddressIPv6", 6)
    for key in ("natPortRange", "bpfPSNATPorts"):
        why = _port_range_problem(spec.get(key))
        if why:
            yield issue(config, f"{key} `{spec.get(key)}` {why}: Calico rejects it", ("spec", key))
    value = spec.get("iptablesNATOutgoingInterfaceFilter")
    if isinstance(value, str) and value and not IFACE_FILTER_RE.match(value):
        yield issue(
            config,
            f"iptablesNATOutgoingInterfaceFilter `{value}` is not an interface match (1-15 letters, digits and "
            "`:._+-`, `+` as wildcard): Calico rejects it",
            ("spec", "iptablesNATOutgoingInterfaceFilter"),
        )
    for i, cidr in enumerate(as_list(spec.get("externalNodesList"))):
        if isinstance(cidr, str):
            yield from _external_node(config, cidr, ("spec", "externalNodesList", i))


def _external_node(config: Resource, cidr: str, at: PathT) -> Iterator[Issue]:
    try:
        network = parse_cidr(cidr, strict=False, allow_bare_ip=True)
    except NetError as exc:
        yield cidr_issue(config, "externalNodesList", exc, at)
        return
    if network.version != 4:
        yield issue(config, f"externalNodesList `{cidr}` is IPv6: Calico accepts only IPv4 CIDRs here", at)


def _node_port_ranges(config: Resource) -> Iterator[Issue]:
    ranges = config.spec.get("kubeNodePortRanges")
    if isinstance(ranges, list) and len(ranges) > 7:
        yield issue(
            config,
            f"kubeNodePortRanges has {len(ranges)} entries: Calico allows at most 7 (iptables multiport matches "
            "at most 15 ports, a range counting twice); merge adjacent ranges",
            ("spec", "kubeNodePortRanges"),
            on_key=True,
        )


def _runtime_limits(config: Resource) -> Iterator[Issue]:
    for key in ("goGCThreshold", "goMemoryLimitMB", "goMaxProcs"):
        value = _int(config.spec.get(key))
        if value is not None and value < -1:
            yield issue(config, f"`{key}: {value}`: Calico requires -1 (default) or more", ("spec", key))
    yield from _out_of_range(config, "debugPort", 0, 65535, "a TCP port")
    yield from _out_of_range(config, "bpfExtToServiceConnmark", 0, 0xFFFFFFFF, "a 32-bit mark")


def _node_selector(config: Resource) -> Iterator[Issue]:
    name = config.name
    if config.spec.get("nodeSelector") in (None, "") or not (name == "default" or name.startswith("node.")):
        return
    yield issue(
        config,
        f"`nodeSelector` on FelixConfiguration `{name}`: Calico v3.32 rejects it on `default` and per-node "
        "(`node.<name>`) configurations; give the selector-scoped settings their own name",
        ("spec", "nodeSelector"),
        on_key=True,
    )


SUB_CHECKS = (
    SubCheck("CA007/felixconfiguration-failsafe-protocol", FELIX, "failsafe port protocols", _failsafe_protocols),
    SubCheck("CA007/felixconfiguration-route-tables", FELIX, "route table ranges", _route_tables),
    SubCheck("CA007/felixconfiguration-wireguard", FELIX, "WireGuard ports, priority and interfaces", _wireguard),
    SubCheck("CA007/felixconfiguration-nat", FELIX, "NAT, device-route and external-node addresses", _nat),
    SubCheck("CA007/felixconfiguration-node-port-ranges", FELIX, "at most 7 kubeNodePortRanges", _node_port_ranges),
    SubCheck("CA007/felixconfiguration-runtime-limits", FELIX, "Go runtime limits, debug port, marks", _runtime_limits),
    SubCheck(
        "CA007/felixconfiguration-node-selector",
        FELIX,
        "`nodeSelector` on `default` or `node.<name>`",
        _node_selector,
    ),
)
