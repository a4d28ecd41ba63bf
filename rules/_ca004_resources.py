"""CA004 sub-checks on Calico resources with networks: IP pools, BGP service ranges, network sets,
failsafe nets and host endpoint addresses (facts 1.9-1.12)."""

from __future__ import annotations

from collections.abc import Iterator

from netaddr import IPNetwork

from auditor.calico_validation import NetProblem, is_cidr_notation, net_problem
from auditor.catalog import SubCheck
from auditor.findings import Issue
from auditor.model import BGPConfiguration, FelixConfiguration, HostEndpoint, IPPool, NetworkSet, as_dict, as_list
from auditor.rules._ca00_kinds import at, only
from auditor.rules._ca004_messages import net_text, not_an_address

_LINK_LOCAL = (IPNetwork("169.254.0.0/16"), IPNetwork("fe80::/10"))


def _ip_pool_cidr(pool: IPPool) -> Iterator[Issue]:
    ref = pool.cidr
    if ref is None or not isinstance(ref.raw, str) or ref.value is not None:
        return
    problem = net_problem(ref.raw, strict=True, allow_bare_ip=False) or NetProblem("invalid")
    bare_why = "an IP pool is a range: give it a prefix length"
    yield at(pool, ref.path, *net_text(ref.raw, problem, "IP pool CIDRs", bare_why, single_ok=False))


def _ip_pool_link_local(pool: IPPool) -> Iterator[Issue]:
    ref = pool.cidr
    if ref is None or ref.value is None:
        return
    for link_local in _LINK_LOCAL:
        if ref.value.version == link_local.version and (ref.value in link_local or link_local in ref.value):
            yield at(
                pool,
                ref.path,
                f"IP pool `{ref.raw}` overlaps the link-local range {link_local}: Calico rejects such pools "
                "(those addresses are the node's own, e.g. cloud metadata)",
                "Choose a range outside it.",
            )


def _bgp_service_ranges(config: BGPConfiguration) -> Iterator[Issue]:
    refs = config.service_cluster_ips + config.service_external_ips + config.service_load_balancer_ips
    for ref in refs:
        if ref.ok or not isinstance(ref.raw, str):
            continue
        problem = net_problem(ref.raw, strict=True, allow_bare_ip=False) or NetProblem("invalid")
        bare_why = "confd parses service ranges as CIDRs, so a bare address breaks route advertisement"
        yield at(config, ref.path, *net_text(ref.raw, problem, "BGP service ranges", bare_why))


def _network_set_nets(netset: NetworkSet) -> Iterator[Issue]:
    for ref in netset.nets:
        if ref.ok or not isinstance(ref.raw, str):
            continue
        problem = net_problem(ref.raw, strict=False, allow_bare_ip=True) or NetProblem("invalid")
        yield at(netset, ref.path, *net_text(ref.raw, problem, "network set entries", "write an address or a CIDR"))


def _failsafe_nets(config: FelixConfiguration) -> Iterator[Issue]:
    for key in ("failsafeInboundHostPorts", "failsafeOutboundHostPorts"):
        for i, item in enumerate(as_list(config.spec.get(key))):
            raw = as_dict(item).get("net")
            if not isinstance(raw, str) or not raw or net_problem(raw, strict=False, allow_bare_ip=True) is None:
                continue
            yield at(
                config,
                ("spec", key, i, "net"),
                f"`{raw}` is not an IP address or CIDR: Felix cannot parse this failsafe `net`",
                "Write the remote range, e.g. `10.0.0.0/8`, or omit `net` to allow any address.",
            )


def _host_endpoint_addresses(hep: HostEndpoint) -> Iterator[Issue]:
    for ref in hep.expected_ips:
        if ref.ok or not isinstance(ref.raw, str) or is_cidr_notation(ref.raw):
            continue  # CIDR-style expectedIPs are reported by CA007
        yield at(hep, ref.path, *not_an_address(ref.raw, "Calico", "10.0.0.11"))


SUB_CHECKS = (
    SubCheck("CA004/ippool-cidr", ("IPPool",), "a malformed pool `cidr`", only(IPPool, _ip_pool_cidr)),
    SubCheck("CA004/ippool-link-local", ("IPPool",), "a pool overlapping link-local addresses",
             only(IPPool, _ip_pool_link_local)),
    SubCheck("CA004/bgpconfiguration-service-ranges", ("BGPConfiguration",), "malformed service ranges",
             only(BGPConfiguration, _bgp_service_ranges)),
    SubCheck("CA004/networkset-nets", ("GlobalNetworkSet", "NetworkSet"), "malformed network set `nets`",
             only(NetworkSet, _network_set_nets)),
    SubCheck("CA004/felixconfiguration-failsafe-net", ("FelixConfiguration",), "malformed failsafe `net`",
             only(FelixConfiguration, _failsafe_nets)),
    SubCheck("CA004/hostendpoint-expected-ips", ("HostEndpoint",), "`expectedIPs` that are not addresses",
             only(HostEndpoint, _host_endpoint_addresses)),
)
