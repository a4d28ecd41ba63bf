"""CA007 sub-checks on IP pools: encapsulation, block size, allowed uses and selectors (facts 1.11)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from auditor.calico_validation import uses_global
from auditor.catalog import SubCheck
from auditor.findings import Issue, Related
from auditor.model import IPPool, Resource, as_list
from auditor.nets import NetError, parse_cidr
from auditor.rules._ca007_common import POOL, cidr_issue, issue

_ENABLED_MODES = ("Always", "CrossSubnet")


def _pool_encapsulation(pool: IPPool) -> Iterator[Issue]:
    spec = pool.spec
    ipip, vxlan = spec.get("ipipMode"), spec.get("vxlanMode")
    if ipip in _ENABLED_MODES and vxlan in _ENABLED_MODES:
        yield issue(
            pool,
            f"`vxlanMode: {vxlan}` with `ipipMode: {ipip}`: a pool uses one encapsulation, so Calico rejects "
            "both enabled; set one of them to `Never`",
            ("spec", "vxlanMode"),
            related=(Related(pool.ptr("spec", "ipipMode"), "ipipMode"),),
        )


def _pool_ipip_ipv6(pool: IPPool) -> Iterator[Issue]:
    ipip = pool.spec.get("ipipMode")
    ipv6 = pool.cidr is not None and pool.cidr.value is not None and pool.cidr.value.version == 6
    if ipip in _ENABLED_MODES and ipv6:
        yield issue(
            pool,
            f"`ipipMode: {ipip}` on an IPv6 pool: IPIP carries IPv4 only, so Calico rejects it; use "
            "`vxlanMode` or `ipipMode: Never`",
            ("spec", "ipipMode"),
        )


def _pool_block_size(pool: IPPool) -> Iterator[Issue]:
    if pool.cidr is None or pool.cidr.value is None:
        return
    cidr = pool.cidr.value
    raw = pool.spec.get("blockSize")
    block = raw if isinstance(raw, int) and not isinstance(raw, bool) and 0 < raw <= 128 else None
    bounds = (20, 32) if cidr.version == 4 else (116, 128)
    if block is not None and not bounds[0] <= block <= bounds[1]:
        yield issue(
            pool,
            f"`blockSize: {block}` is outside {bounds[0]}-{bounds[1]} for an IPv{cidr.version} pool: Calico rejects it",
            ("spec", "blockSize"),
        )
        return
    if raw not in (None, 0) and block is None:
        return  # out-of-range values are schema errors (CA002)
    effective = block or (26 if cidr.version == 4 else 122)
    if not pool.disabled and cidr.prefixlen > effective:
        yield issue(
            pool,
            f"pool `{pool.cidr.raw}` is smaller than one IPAM block (/{effective}): Calico rejects an enabled "
            f"pool that cannot hold a block; use a /{effective} or larger range, or a larger `blockSize`",
            ("spec", "blockSize") if block else ("spec", "cidr"),
        )


def _pool_allowed_uses(pool: IPPool) -> Iterator[Issue]:
    spec = pool.spec
    raw_uses = as_list(spec.get("allowedUses"))
    uses = [u for u in raw_uses if isinstance(u, str)]
    if "LoadBalancer" in uses:
        yield from _load_balancer_pool(pool, raw_uses)
    if "Tunnel" in uses and spec.get("namespaceSelector"):
        yield issue(
            pool,
            "`namespaceSelector` on a pool used for `Tunnel` addresses: Calico rejects it (tunnel addresses "
            "belong to nodes, not namespaces)",
            ("spec", "namespaceSelector"),
        )


def _load_balancer_pool(pool: IPPool, raw_uses: list[Any]) -> Iterator[Issue]:
    """A LoadBalancer pool has no other use, no encapsulation, BGP export and ``nodeSelector: all()``."""
    spec = pool.spec
    lb_at = pool.ptr("spec", "allowedUses", raw_uses.index("LoadBalancer"))
    for i, use in enumerate(raw_uses):
        if use in ("Workload", "Tunnel"):
            yield issue(
                pool,
                f"`{use}` together with `LoadBalancer` in allowedUses: Calico requires a LoadBalancer pool to "
                "have no other use; make a separate pool",
                ("spec", "allowedUses", i),
                related=(Related(lb_at, "LoadBalancer"),),
            )
    for key in ("ipipMode", "vxlanMode"):
        if spec.get(key) in _ENABLED_MODES:
            yield issue(
                pool,
                f"`{key}: {spec.get(key)}` on a LoadBalancer pool: Calico rejects encapsulation for "
                f"LoadBalancer addresses; set `{key}: Never`",
                ("spec", key),
                related=(Related(lb_at, "LoadBalancer"),),
            )
    if spec.get("disableBGPExport") is True:
        yield issue(
            pool,
            "`disableBGPExport: true` on a LoadBalancer pool: Calico rejects it (LoadBalancer addresses must "
            "be advertised)",
            ("spec", "disableBGPExport"),
        )
    selector = spec.get("nodeSelector")
    if isinstance(selector, str) and selector and selector != "all()" and not uses_global(selector):
        yield issue(
            pool,
            f"nodeSelector `{selector}` on a LoadBalancer pool: Calico requires `all()` (every node may "
            "advertise LoadBalancer addresses)",
            ("spec", "nodeSelector"),
        )


def _pool_global_selectors(pool: IPPool) -> Iterator[Issue]:
    for key in ("nodeSelector", "namespaceSelector"):
        value = pool.spec.get(key)
        if isinstance(value, str) and uses_global(value):
            yield issue(pool, f"`global()` in an IP pool {key}: Calico rejects it; use `all()`", ("spec", key))



def _reserved_cidrs(reservation: Resource) -> Iterator[Issue]:
    for i, cidr in enumerate(as_list(reservation.spec.get("reservedCIDRs"))):
        if not isinstance(cidr, str):
            continue
        try:
            parse_cidr(cidr, strict=False, allow_bare_ip=True)
        except NetError as exc:
            yield cidr_issue(reservation, "reservedCIDRs", exc, ("spec", "reservedCIDRs", i))


SUB_CHECKS = (
    SubCheck("CA007/ippool-encapsulation", POOL, "IPIP and VXLAN both enabled", _pool_encapsulation),
    SubCheck("CA007/ippool-ipip-ipv6", POOL, "IPIP on an IPv6 pool", _pool_ipip_ipv6),
    SubCheck("CA007/ippool-block-size", POOL, "`blockSize` range and pools smaller than a block", _pool_block_size),
    SubCheck("CA007/ippool-allowed-uses", POOL, "LoadBalancer and Tunnel pool constraints", _pool_allowed_uses),
    SubCheck("CA007/ippool-global-selector", POOL, "`global()` in pool selectors", _pool_global_selectors),
    SubCheck("CA007/ipreservation-cidrs", ("IPReservation",), "reserved CIDRs", _reserved_cidrs),
)
