"""CA102 cluster-ip-not-advertised: a pinned address, or a host rule's target, outside every advertised range."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.api import Context, Issue, Related, Rule, Severity
from auditor.nets import describe
from auditor.packet.questions import AddressKind
from auditor.rules._host_rules import single_destinations

RULE = Rule(
    id="CA102",
    name="cluster-ip-not-advertised",
    title="A pinned Service address or a cluster-IP rule's destination lies outside every advertised range",
    severity=Severity.WARNING,
    rationale=(
        "Calico only advertises the ranges of the BGPConfiguration named `default` (`serviceClusterIPs`, "
        "`serviceExternalIPs`, `serviceLoadBalancerIPs`). An address outside them has no route from outside "
        "the cluster, so the clients the host policy was written for never reach it, and the policy protects "
        "nothing that exists."
    ),
    remediation=(
        "Pin the Service to an address inside the advertised range, or add its range to the BGPConfiguration "
        '`default` (guide: "Before you begin", advertise cluster IPs).'
    ),
    references=("https://docs.tigera.io/calico/latest/networking/configuring/advertise-service-ips",),
    tags=("bgp", "cluster-mode"),
)


def check(ctx: Context) -> Iterator[Issue]:
    ev = ctx.packet.ev
    facts = ev.facts
    if not facts.advertisement_known or facts.advertisement.assumed:
        return  # only a declared advertisement says what is not advertised
    ranges = {
        AddressKind.CLUSTER_IP: (facts.advertised_cluster, "serviceClusterIPs"),
        AddressKind.EXTERNAL_IP: (facts.advertised_external, "serviceExternalIPs"),
        AddressKind.LOAD_BALANCER_IP: (facts.advertised_lb, "serviceLoadBalancerIPs"),
    }
    where = facts.advertisement.where
    related = (Related(where, "the advertised ranges"),) if where is not None else ()
    for address in ev.service_addresses:
        if not ctx.in_focus(address.service):
            continue
        advertised, field = ranges.get(address.how, (None, ""))
        if advertised is None or not advertised or address.advertised:
            continue
        yield Issue(
            message=(
                f"{address.how} {address.ip} of {address.service.display} is outside the advertised "
                f"{field} ({describe(advertised)}): outside clients have no route to it"
            ),
            fix=f"Pin it inside the advertised range, or add its range to `{field}` of BGPConfiguration default.",
            at=address.ptr(),
            related=related,
            identity=address.service.identity,
        )
    if not facts.advertised_cluster:
        return
    for policy, rule, ref, net in single_destinations(ev):
        if net.ip in facts.advertised or not ctx.in_focus(policy):
            continue
        owners = ev.explicit_ips.get(net.ip, [])
        if not owners and net.ip not in ev.service_range():
            continue  # not a cluster IP at all (a host or an outside address)
        yield Issue(
            message=(
                f"{policy.display} {rule.label} targets {net.ip}, which is not in an advertised range "
                f"({describe(facts.advertised)}): outside clients cannot reach it the way this rule "
                "assumes"
            ),
            fix="Use the Service's cluster IP inside the advertised range.",
            at=policy.ptr_at(ref.path),
            related=related + tuple(Related(o.ptr(), f"{o.how} of {o.service.display}") for o in owners),
            identity=policy.identity,
            key=str(net),
        )
