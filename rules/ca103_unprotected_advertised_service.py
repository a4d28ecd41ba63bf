"""CA103 unprotected-advertised-service: reachable from anywhere outside, and nothing tries to restrict it."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.addrset import AddressSet
from auditor.api import Context, Issue, Related, Rule, Severity
from auditor.model import HostEndpoint
from auditor.nets import describe
from auditor.packet.questions import Evaluator, ServiceAddress
from auditor.wording import guide

RULE = Rule(
    id="CA103",
    name="unprotected-advertised-service",
    title="An advertised Service is reachable from any outside source and nothing tries to restrict it",
    severity=Severity.ERROR,
    rationale=(
        "Once Calico advertises a Service address over BGP, every router that learns the route can send "
        "traffic to it. In cluster mode only host-endpoint policy that names the cluster IP can restrict that "
        "(the pods see the node's address after SNAT); in local mode only ingress policy on the Service's "
        "pods can. With neither, the Service is open to the whole network."
    ),
    remediation=(
        "Cluster mode: allow the intended clients to the cluster IP with a GlobalNetworkPolicy on the host "
        "endpoints with `preDNAT: true` and `applyOnForward: true`, then deny the rest of the advertised range "
        "with a preDNAT Deny at a higher order (guide cluster mode, step 2). Local mode: select the Service's "
        "pods with a NetworkPolicy that allows the clients (guide local mode, steps 1-2)."
    ),
    references=("https://docs.tigera.io/calico/latest/network-policy/services/services-cluster-ips",),
    tags=("exposure",),
    guide_step="Cluster mode step 2; local mode steps 1-2",
)


def _named_by_host_rule(ev: Evaluator, address: ServiceAddress, hep: HostEndpoint | None) -> bool:
    """Some rule of ``hep``'s untracked, pre-DNAT or forward policy has the address among its destinations."""
    if hep is None:
        return False
    naming = ev.host_rules_naming(address.ip)
    if not naming:
        return False
    mine = set(ev.policies_for_hep(hep))
    return any(
        policy in mine and (policy.pre_dnat or policy.do_not_track or policy.apply_on_forward)
        for policy, _, _ in naming
    )


def _open_through(ev: Evaluator, address: ServiceAddress, hep: HostEndpoint | None) -> AddressSet | None:
    """What reaches the address on every port through ``hep``, when that is most of the outside world.

    A generic Deny of a few bogon or test ranges is not an attempt to restrict this Service, so the
    test is "at least half of all outside addresses", not "every one of them".
    """
    common: AddressSet | None = None
    for port in address.service.ports:
        reach = AddressSet(int(address.ip.version))
        for cls in ev.reachability(address, port, hep):
            if cls.reaches:
                reach |= cls.ips
        common = reach if common is None else common & reach
    universe = ev.outside_universe(int(address.ip.version))
    return common if common is not None and common.size * 2 >= universe.size else None


def check(ctx: Context) -> Iterator[Issue]:
    q = ctx.packet
    ev = q.ev
    seen: set[int] = set()
    for address in ev.advertised_addresses():
        service = address.service
        if id(service) in seen or not service.ports or not ctx.in_focus(service):
            continue
        via = None
        reach = AddressSet(int(address.ip.version))
        if service.local_mode:
            workloads = ctx.model.service_workloads(service)
            if not workloads or any(ev.policies_for_workload(w) for w in workloads):
                continue
            why = "no ingress policy selects its pods, and in local mode only pod policy can restrict the clients"
            fix = (
                "Select the Service's pods with a NetworkPolicy that allows only the intended clients "
                f"{guide('local', '1-2')}."
            )
        else:
            found = next(
                (
                    (hep, reach)
                    for hep in ev.ingress_groups()
                    if not _named_by_host_rule(ev, address, hep)
                    and (reach := _open_through(ev, address, hep)) is not None
                ),
                None,
            )
            if found is None:
                continue
            via, reach = found
            why = (
                f"no host-endpoint policy names this {address.how}, and in cluster mode the pods only see the "
                "node's address after SNAT"
            )
            fix = (
                "Allow the intended clients with a preDNAT + applyOnForward GlobalNetworkPolicy on the host "
                f"endpoints and deny the rest of the advertised range with a preDNAT Deny {guide('cluster', '2')}."
            )
        universe = ev.outside_universe(int(address.ip.version))
        hep = via if via is not None else ev.ingress_groups()[0]
        witness = next(
            (w for port in service.ports if (w := q.service_flow(address, port, hep, reach or universe, True))), None
        )
        if witness is None:
            continue  # the evaluator does not show the exposure
        seen.add(id(service))
        where = ev.facts.advertisement
        related = (Related(where.where, "advertised over BGP here"),) if where.where is not None else ()
        sources = "any outside address" if service.local_mode else describe(reach, universe=universe)
        if not service.local_mode and via is not None:
            sources += f" through HostEndpoint {via.name}"
        yield Issue(
            message=(
                f"{service.display} is advertised at {address.how} {address.ip} and reachable from {sources}: "
                f"{why}"
            ),
            fix=fix,
            at=address.ptr(),
            related=related,
            identity=service.identity,
            witness=witness,
        )
