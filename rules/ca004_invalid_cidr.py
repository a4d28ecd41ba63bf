"""CA004 invalid-cidr: a network or address Calico or Kubernetes rejects, so the object is never applied.

Covered fields (facts 1.5, 1.9-1.12, 4.2): rule ``nets``/``notNets`` (CIDR with a prefix, strictly
masked, one IP family per rule, matching ``ipVersion``, no catch-all in ``notNets``); IPPool
``cidr``; BGPConfiguration service ranges; (Global)NetworkSet ``nets``; Kubernetes NetworkPolicy
``ipBlock``; FelixConfiguration failsafe ``net``; Service cluster, external and load-balancer IPs;
HostEndpoint ``expectedIPs`` that are not addresses at all (CIDR-style ``expectedIPs`` are CA007).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

from netaddr import IPNetwork

from auditor.calico_validation import (
    PLACEHOLDER_FIX,
    NetProblem,
    is_cidr_notation,
    looks_like_placeholder,
    net_problem,
    special_ip_problem,
)
from auditor.catalog import Rule
from auditor.context import Context
from auditor.findings import Issue, PathT, Related, Severity
from auditor.model import (
    BGPConfiguration,
    FelixConfiguration,
    HostEndpoint,
    IPPool,
    NetworkSet,
    Policy,
    PolicyRule,
    Ref,
    Resource,
    Service,
    as_dict,
    as_list,
)
from auditor.nets import IPv4_ALL, IPv6_ALL, NetError, parse_cidr

RULE = Rule(
    id="CA004",
    name="invalid-cidr",
    title="A CIDR or IP address that Calico or Kubernetes rejects",
    severity=Severity.ERROR,
    rationale=(
        "Calico validates every network in a resource before storing it, and one bad entry rejects the "
        "whole object: `calicoctl apply` or `kubectl apply` fails and the policy you reviewed is never "
        "enforced (or the previous version stays in place). Rule `nets` must be CIDRs with an explicit "
        "prefix and no host bits (`10.20.30.40/24` is rejected, `10.20.30.40` too), a rule may not mix "
        "IPv4 and IPv6 or contradict its `ipVersion`, and since v3.31 `notNets: [0.0.0.0/0]` is rejected "
        "because it matches nothing. IP pools must be strictly masked and stay clear of link-local "
        "ranges; BGP service ranges are parsed as CIDRs by confd; Kubernetes rejects Services whose "
        "cluster or external IPs are not addresses and NetworkPolicy `ipBlock`s that are not CIDRs."
    ),
    remediation=(
        "Write networks as `address/prefix` with the host bits cleared (`10.20.30.0/24`, or "
        "`10.20.30.40/32` for a single address). Put a `#` before trailing comments. Split a rule that "
        "needs both IPv4 and IPv6 networks into two rules. Write Service IPs as plain addresses."
    ),
    references=(
        "https://docs.tigera.io/calico/latest/reference/resources/networkpolicy#entityrule",
        "https://docs.tigera.io/calico/latest/reference/resources/ippool",
        "https://docs.tigera.io/calico/latest/reference/resources/bgpconfig",
        "https://kubernetes.io/docs/concepts/services-networking/network-policies/",
    ),
    tags=("structure", "validation", "networks"),
    guide_step="Step 2, first and second examples (the published docs lost the `#` of `# Cluster IP A`)",
)


# ------------------------------------------------------------------------------------------
# Messages
# ------------------------------------------------------------------------------------------


def _net_message(raw: str, problem: NetProblem, noun: str, bare_why: str, single_ok: bool = True) -> str:
    """What is wrong with one network value, why it is rejected, and what to write.

    ``single_ok``: a one-address network is a sensible alternative for this field.
    """
    if problem.kind == "bare-ip":
        return f"`{raw}` has no prefix length: {bare_why}; write `{problem.fix}`"
    if problem.kind == "host-bits":
        return (
            f"`{raw}` has host bits set: Calico rejects {noun} that are not strictly masked; "
            f"write `{problem.fix}`" + (f" (or `{problem.host}` for one address)" if single_ok else "")
        )
    if problem.kind == "comment":
        return (
            f"`{raw}` is not a CIDR: the text after the address is part of the value (a YAML comment needs "
            f"` #` before it); write `{problem.fix}  # {raw.strip()[len(problem.fix) :].strip()}`"
        )
    if looks_like_placeholder(raw):
        return f"`{raw}` is an unfilled placeholder, not a CIDR, and Calico rejects it as written; {PLACEHOLDER_FIX}"
    return f"`{raw}` is not a valid CIDR: {noun} must be networks such as `10.0.0.0/16` or `fd00::/64`"


def _not_an_address(raw: str, rejected_by: str, example: str) -> str:
    if looks_like_placeholder(raw):
        return f"`{raw}` is an unfilled placeholder, not an IP address, and {rejected_by} rejects it; {PLACEHOLDER_FIX}"
    return f"`{raw}` is not a valid IP address: {rejected_by} rejects it; write an address such as `{example}`"


def _address_message(raw: str, field: str) -> str:
    if is_cidr_notation(raw):
        return f"`{raw}` is a CIDR, but `{field}` takes a plain IP address; write `{raw.split('/')[0]}`"
    return _not_an_address(raw, "Kubernetes", "10.96.0.10")


def _family(net: IPNetwork) -> str:
    return f"IPv{net.version}"


# ------------------------------------------------------------------------------------------
# Calico policy rules (facts 1.5)
# ------------------------------------------------------------------------------------------

_RULE_NETS_NOUN = "rule nets"
_RULE_NETS_BARE = "Calico reads rule nets as CIDRs and rejects a bare address"


def _rule_refs(rule: PolicyRule) -> list[tuple[str, Ref[IPNetwork]]]:
    """Every net of a rule in Calico's scan order, with its field name."""
    out: list[tuple[str, Ref[IPNetwork]]] = []
    for side, entity in (("source", rule.source), ("destination", rule.destination)):
        out.extend((f"{side}.nets", ref) for ref in entity.nets)
        out.extend((f"{side}.notNets", ref) for ref in entity.not_nets)
    return out


def _malformed_rule_nets(policy: Policy, rule: PolicyRule) -> Iterator[Issue]:
    for _, ref in _rule_refs(rule):
        if ref.ok or not isinstance(ref.raw, str):
            continue  # non-strings are type errors (CA002)
        problem = net_problem(ref.raw, strict=True, allow_bare_ip=False)
        if problem is not None:
            yield Issue(
                _net_message(ref.raw, problem, _RULE_NETS_NOUN, _RULE_NETS_BARE),
                at=policy.ptr_at(ref.path),
                identity=policy.identity,
            )


def _mixed_families(policy: Policy, rule: PolicyRule) -> Iterator[Issue]:
    """All nets of one rule (source and destination, positive and negative) share one family."""
    if rule.ip_version is not None:
        return  # _contradicts_ip_version reports the odd ones out
    first: tuple[str, Ref[IPNetwork]] | None = None
    for field_name, ref in _rule_refs(rule):
        if ref.value is None:
            continue
        if first is None:
            first = (field_name, ref)
            continue
        assert first[1].value is not None
        if ref.value.version != first[1].value.version:
            yield Issue(
                f"rule {rule.label} mixes IPv4 and IPv6: `{ref.raw}` is {_family(ref.value)} but "
                f"`{first[1].raw}` ({first[0]}) is {_family(first[1].value)}; Calico rejects a rule with "
                "both families: split it into one rule per family",
                at=policy.ptr_at(ref.path),
                related=(Related(policy.ptr_at(first[1].path), "first network of the other family"),),
                identity=policy.identity,
            )
            return


def _contradicts_ip_version(policy: Policy, rule: PolicyRule) -> Iterator[Issue]:
    if rule.ip_version is None:
        return
    for _, ref in _rule_refs(rule):
        if ref.value is not None and ref.value.version != rule.ip_version:
            yield Issue(
                f"`{ref.raw}` is {_family(ref.value)} but the rule says `ipVersion: {rule.ip_version}`: Calico "
                "rejects nets whose family contradicts ipVersion; remove the net or fix ipVersion",
                at=policy.ptr_at(ref.path),
                related=(Related(rule.ptr("ipVersion"), "ipVersion"),),
                identity=policy.identity,
            )


def _catch_all_not_nets(policy: Policy, rule: PolicyRule) -> Iterator[Issue]:
    for entity in (rule.source, rule.destination):
        for ref in entity.not_nets:
            if ref.value is not None and ref.value in (IPv4_ALL, IPv6_ALL):
                yield Issue(
                    f"`notNets: [{ref.raw}]` excludes every address, so the rule can never match: Calico "
                    "(v3.31+) rejects a catch-all CIDR in notNets; remove it (omit `nets` to match any "
                    "address)",
                    at=policy.ptr_at(ref.path),
                    identity=policy.identity,
                )


def _calico_rule_problems(policy: Policy) -> Iterator[Issue]:
    for rule in policy.rules:
        yield from _malformed_rule_nets(policy, rule)
        yield from _mixed_families(policy, rule)
        yield from _contradicts_ip_version(policy, rule)
        yield from _catch_all_not_nets(policy, rule)


# ------------------------------------------------------------------------------------------
# Kubernetes NetworkPolicy ipBlock (Kubernetes ValidateIPBlock)
# ------------------------------------------------------------------------------------------


def _ip_blocks(policy: Policy) -> Iterator[tuple[PathT, dict[str, Any]]]:
    """Every ``ipBlock`` of the manifest with its path (the model flattens peers x ports into rules)."""
    for direction, peers_key in (("ingress", "from"), ("egress", "to")):
        for i, item in enumerate(as_list(policy.spec.get(direction))):
            for j, peer in enumerate(as_list(as_dict(item).get(peers_key))):
                block = as_dict(peer).get("ipBlock")
                if isinstance(block, dict):
                    yield ("spec", direction, i, peers_key, j, "ipBlock"), block


def _sloppy_cidr(raw: Any) -> IPNetwork | None:
    """A Kubernetes ipBlock CIDR: host bits allowed, a prefix length required."""
    if not isinstance(raw, str):
        return None
    try:
        return parse_cidr(raw, strict=False)
    except NetError:
        return None


def _strict_subset(inner: IPNetwork, outer: IPNetwork) -> bool:
    return inner.version == outer.version and inner in outer and inner.prefixlen > outer.prefixlen


def _malformed_ip_block(policy: Policy, path: PathT, block: dict[str, Any]) -> Iterator[Issue]:
    """``cidr`` and every ``except`` entry must be CIDRs (host bits allowed)."""
    entries = [(("cidr",), block.get("cidr"))]
    entries += [(("except", k), value) for k, value in enumerate(as_list(block.get("except")))]
    for sub, raw in entries:
        if not isinstance(raw, str) or _sloppy_cidr(raw) is not None:
            continue
        problem = net_problem(raw, strict=False, allow_bare_ip=False) or NetProblem("invalid")
        yield Issue(
            _net_message(raw, problem, "ipBlock entries", "Kubernetes requires a CIDR in ipBlock"),
            at=policy.ptr_at(path + sub),
            identity=policy.identity,
        )


def _except_outside_cidr(policy: Policy, path: PathT, block: dict[str, Any]) -> Iterator[Issue]:
    """Each ``except`` entry must be a strict subset of ``cidr``."""
    cidr = _sloppy_cidr(block.get("cidr"))
    if cidr is None:
        return
    for k, raw in enumerate(as_list(block.get("except"))):
        excluded = _sloppy_cidr(raw)
        if excluded is None or _strict_subset(excluded, cidr):
            continue
        yield Issue(
            f"except entry `{raw}` is not a strict subset of ipBlock cidr `{block.get('cidr')}`: Kubernetes "
            "rejects the NetworkPolicy; list only ranges inside cidr (and smaller than it) in except",
            at=policy.ptr_at(path + ("except", k)),
            related=(Related(policy.ptr_at(path + ("cidr",)), "ipBlock cidr"),),
            identity=policy.identity,
        )


def _ip_block_problems(policy: Policy) -> Iterator[Issue]:
    for path, block in _ip_blocks(policy):
        yield from _malformed_ip_block(policy, path, block)
        yield from _except_outside_cidr(policy, path, block)


# ------------------------------------------------------------------------------------------
# Calico resources with networks (facts 1.9-1.12)
# ------------------------------------------------------------------------------------------

_LINK_LOCAL = (IPNetwork("169.254.0.0/16"), IPNetwork("fe80::/10"))


def _ip_pool_problems(pool: IPPool) -> Iterator[Issue]:
    ref = pool.cidr
    if ref is None or not isinstance(ref.raw, str):
        return
    if ref.value is None:
        problem = net_problem(ref.raw, strict=True, allow_bare_ip=False) or NetProblem("invalid")
        yield Issue(
            _net_message(
                ref.raw, problem, "IP pool CIDRs", "an IP pool is a range: give it a prefix length", single_ok=False
            ),
            at=pool.ptr_at(ref.path),
            identity=pool.identity,
        )
        return
    for link_local in _LINK_LOCAL:
        if ref.value.version == link_local.version and (ref.value in link_local or link_local in ref.value):
            yield Issue(
                f"IP pool `{ref.raw}` overlaps the link-local range {link_local}: Calico rejects such pools "
                "(those addresses are the node's own, e.g. cloud metadata); choose a range outside it",
                at=pool.ptr_at(ref.path),
                identity=pool.identity,
            )


def _bgp_service_range_problems(config: BGPConfiguration) -> Iterator[Issue]:
    refs = config.service_cluster_ips + config.service_external_ips + config.service_load_balancer_ips
    for ref in refs:
        if ref.ok or not isinstance(ref.raw, str):
            continue
        problem = net_problem(ref.raw, strict=True, allow_bare_ip=False) or NetProblem("invalid")
        yield Issue(
            _net_message(
                ref.raw,
                problem,
                "BGP service ranges",
                "confd parses service ranges as CIDRs, so a bare address breaks route advertisement",
            ),
            at=config.ptr_at(ref.path),
            identity=config.identity,
        )


def _network_set_problems(netset: NetworkSet) -> Iterator[Issue]:
    for ref in netset.nets:
        if ref.ok or not isinstance(ref.raw, str):
            continue
        problem = net_problem(ref.raw, strict=False, allow_bare_ip=True) or NetProblem("invalid")
        yield Issue(
            _net_message(ref.raw, problem, "network set entries", "write an address or a CIDR"),
            at=netset.ptr_at(ref.path),
            identity=netset.identity,
        )


def _failsafe_net_problems(config: FelixConfiguration) -> Iterator[Issue]:
    for key in ("failsafeInboundHostPorts", "failsafeOutboundHostPorts"):
        for i, item in enumerate(as_list(config.spec.get(key))):
            raw = as_dict(item).get("net")
            if not isinstance(raw, str) or not raw:
                continue
            if net_problem(raw, strict=False, allow_bare_ip=True) is None:
                continue
            yield Issue(
                f"`{raw}` is not an IP address or CIDR: Felix cannot parse this failsafe `net`; write the "
                "remote range, e.g. `10.0.0.0/8`, or omit `net` to allow any address",
                at=config.ptr("spec", key, i, "net"),
                identity=config.identity,
            )


def _host_endpoint_problems(hep: HostEndpoint) -> Iterator[Issue]:
    for ref in hep.expected_ips:
        if ref.ok or not isinstance(ref.raw, str) or is_cidr_notation(ref.raw):
            continue  # CIDR-style expectedIPs are reported by CA007
        yield Issue(
            _not_an_address(ref.raw, "Calico", "10.0.0.11"),
            at=hep.ptr_at(ref.path),
            identity=hep.identity,
        )


# ------------------------------------------------------------------------------------------
# Kubernetes Services (facts 4.2)
# ------------------------------------------------------------------------------------------


def _invalid_service_addresses(service: Service) -> Iterator[Issue]:
    fields = (
        (service.cluster_ips, "clusterIP"),
        (service.external_ips, "externalIPs"),
        (service.load_balancer_ips, "loadBalancerIP"),
    )
    for refs, field_name in fields:
        for ref in refs:
            if ref.ok or not isinstance(ref.raw, str):
                continue
            yield Issue(_address_message(ref.raw, field_name), at=service.ptr_at(ref.path), identity=service.identity)


def _special_external_ips(service: Service) -> Iterator[Issue]:
    for ref in service.external_ips:
        if ref.value is None:
            continue
        why = special_ip_problem(ref.value)
        if why:
            yield Issue(
                f"external IP `{ref.raw}` {why}: Kubernetes rejects such externalIPs; use an address that "
                "routes to the nodes",
                at=service.ptr_at(ref.path),
                identity=service.identity,
            )


def _cluster_ip_families(service: Service) -> Iterator[Issue]:
    """``clusterIPs``: at most one address per family, and the first equals ``clusterIP``."""
    spec = service.spec
    raw_list = as_list(spec.get("clusterIPs"))
    cluster_ip = spec.get("clusterIP")
    if raw_list and isinstance(cluster_ip, str) and cluster_ip and raw_list[0] != cluster_ip:
        yield Issue(
            f"clusterIPs[0] `{raw_list[0]}` differs from clusterIP `{cluster_ip}`: Kubernetes requires the "
            "first clusterIPs entry to equal clusterIP; make them the same",
            at=service.ptr("spec", "clusterIPs", 0),
            identity=service.identity,
        )
    seen: dict[int, int] = {}
    for i, raw in enumerate(raw_list):
        if not isinstance(raw, str):
            continue
        try:
            version = ipaddress.ip_address(raw.strip()).version
        except ValueError:
            continue
        if version in seen:
            yield Issue(
                f"clusterIPs has two IPv{version} addresses (`{raw_list[seen[version]]}` and `{raw}`): "
                "Kubernetes allows one address per family (dual stack); remove one",
                at=service.ptr("spec", "clusterIPs", i),
                identity=service.identity,
            )
        else:
            seen[version] = i


def _service_problems(service: Service) -> Iterator[Issue]:
    yield from _invalid_service_addresses(service)
    yield from _special_external_ips(service)
    yield from _cluster_ip_families(service)


# ------------------------------------------------------------------------------------------


def _by_kind(resource: Resource) -> Iterator[Issue]:
    if isinstance(resource, Policy):
        yield from _ip_block_problems(resource) if resource.is_kubernetes else _calico_rule_problems(resource)
    elif isinstance(resource, IPPool):
        yield from _ip_pool_problems(resource)
    elif isinstance(resource, BGPConfiguration):
        yield from _bgp_service_range_problems(resource)
    elif isinstance(resource, NetworkSet):
        yield from _network_set_problems(resource)
    elif isinstance(resource, FelixConfiguration):
        yield from _failsafe_net_problems(resource)
    elif isinstance(resource, HostEndpoint):
        yield from _host_endpoint_problems(resource)
    elif isinstance(resource, Service):
        yield from _service_problems(resource)


def check(ctx: Context) -> Iterator[Issue]:
    for resource in ctx.model.resources:
        yield from _by_kind(resource)
