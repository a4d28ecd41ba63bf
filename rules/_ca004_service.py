"""CA004 sub-checks on Kubernetes Services: cluster, external and load-balancer addresses (facts 4.2)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from auditor.calico_validation import special_ip_problem
from auditor.catalog import SubCheck
from auditor.findings import Issue
from auditor.model import Service, as_list
from auditor.rules._ca00_kinds import at, only
from auditor.rules._ca004_messages import address_text

SERVICE = ("Service",)


def _invalid_addresses(service: Service) -> Iterator[Issue]:
    fields = (
        (service.cluster_ips, "clusterIP"),
        (service.external_ips, "externalIPs"),
        (service.load_balancer_ips, "loadBalancerIP"),
    )
    for refs, field_name in fields:
        for ref in refs:
            if ref.ok or not isinstance(ref.raw, str):
                continue
            yield at(service, ref.path, *address_text(ref.raw, field_name))


def _special_external_ips(service: Service) -> Iterator[Issue]:
    for ref in service.external_ips:
        if ref.value is None:
            continue
        why = special_ip_problem(ref.value)
        if why:
            yield at(
                service,
                ref.path,
                f"external IP `{ref.raw}` {why}: Kubernetes rejects such externalIPs",
                "Use an address that routes to the nodes.",
            )


def _cluster_ip_families(service: Service) -> Iterator[Issue]:
    """``clusterIPs``: at most one address per family, and the first equals ``clusterIP``."""
    spec = service.spec
    raw_list = as_list(spec.get("clusterIPs"))
    cluster_ip = spec.get("clusterIP")
    if raw_list and isinstance(cluster_ip, str) and cluster_ip and raw_list[0] != cluster_ip:
        yield at(
            service,
            ("spec", "clusterIPs", 0),
            f"clusterIPs[0] `{raw_list[0]}` differs from clusterIP `{cluster_ip}`: Kubernetes requires the "
            "first clusterIPs entry to equal clusterIP",
            "Make them the same.",
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
            yield at(
                service,
                ("spec", "clusterIPs", i),
                f"clusterIPs has two IPv{version} addresses (`{raw_list[seen[version]]}` and `{raw}`): "
                "Kubernetes allows one address per family (dual stack)",
                "Remove one of them.",
            )
        else:
            seen[version] = i


SUB_CHECKS = (
    SubCheck("CA004/service-addresses", SERVICE, "cluster, external and load-balancer IPs that are not addresses",
             only(Service, _invalid_addresses)),
    SubCheck("CA004/service-external-ip-special", SERVICE, "special-purpose external IPs",
             only(Service, _special_external_ips)),
    SubCheck("CA004/service-cluster-ips", SERVICE, "`clusterIPs` families and first entry",
             only(Service, _cluster_ip_families)),
)
