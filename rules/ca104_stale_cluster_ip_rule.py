"""CA104 stale-cluster-ip-rule: a host rule aimed at a cluster IP that no Service has."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from netaddr import IPAddress, IPSet

from auditor.api import Context, Issue, Related, Rule, Severity, Witness
from auditor.model import PolicyRule, Service, ServicePort
from auditor.packet.questions import TCP, AddressKind, Questions, ServiceAddress
from auditor.ports import PROTOCOL_NUMBERS, PortRange
from auditor.rules._host_rules import single_destinations
from auditor.wording import pin_cluster_ip

RULE = Rule(
    id="CA104",
    name="stale-cluster-ip-rule",
    title="A host-endpoint rule targets a single advertised address that is no Service's cluster IP",
    severity=Severity.WARNING,
    rationale=(
        "Cluster-mode policy names Services by their cluster IPs. When a Service is deleted or re-addressed, "
        "the rule that allowed its clients stays behind; if a new Service later receives that address, the old "
        "clients reach it without anyone having decided so."
    ),
    remediation=(
        "Remove the rule, or point it at the Service's current `spec.clusterIP`. Keep each Service's allow "
        "rule next to the Service (same folder or file) so they change together."
    ),
    tags=("cluster-mode", "hygiene"),
)


def _meant_for(q: Questions, rule: PolicyRule) -> Iterator[tuple[Service, ServicePort]]:
    """Unpinned cluster-mode Services with a port the rule admits: the Service the address was meant for."""
    for svc in q.model.services:
        if svc.cluster_ip_explicit or not svc.cluster_mode or svc.type == "ExternalName":
            continue
        for sp in svc.ports:
            protocol = PROTOCOL_NUMBERS.get(sp.protocol, TCP)
            if rule.protocol is not None and rule.protocol.value != protocol:
                continue
            if rule.destination.ports and not any(
                isinstance(r.value, PortRange) and r.value.lo <= (sp.port or 0) <= r.value.hi
                for r in rule.destination.ports
            ):
                continue
            yield svc, sp


def _missed(q: Questions, rule: PolicyRule, ip: IPAddress) -> tuple[Service, Witness] | None:
    """An unpinned Service the rule's clients were meant to reach, and the flow that shows they do not:
    wherever Kubernetes puts its address (not ``ip``), the packet path drops them."""
    unnamed = q.ev.unnamed_cluster_ip
    clients = IPSet(rule.source.valid_nets) if rule.source.nets else None
    if unnamed is None or (rule.source.nets and not clients):
        return None
    for svc, sp in _meant_for(q, rule):
        address = ServiceAddress(svc, unnamed, AddressKind.CLUSTER_IP, ("spec", "clusterIP"), True)
        for hep in q.ev.ingress_groups():
            sources = clients if clients is not None else q.ev.outside_universe(int(ip.version))
            found = q.service_flow(address, sp, hep, sources, False)
            if found is not None:
                return svc, replace(found, service=f"{svc.namespace}/{svc.name}")
    return None


def check(ctx: Context) -> Iterator[Issue]:
    q = ctx.packet
    ev = q.ev
    advertised = ev.facts.advertised
    managed = any(a.advertised for a in ev.service_addresses)
    for policy, rule, ref, net in single_destinations(ev):
        if net.ip not in advertised or net.ip in ev.explicit_ips or not ctx.in_focus(policy):
            continue
        if any(net.ip == ip for hep in ev.host_endpoints for ip in hep.valid_expected_ips):
            continue
        missed = _missed(q, rule, net.ip) if rule.action == "Allow" else None
        if missed is not None:
            svc, witness = missed
            yield Issue(
                message=(
                    f"{policy.display} {rule.label} allows clients to {net}, an advertised address that no "
                    f"Service holds, while {svc.display} has no pinned `spec.clusterIP`: Kubernetes gives it "
                    f"another address, where these clients are dropped ({witness.summary}), and gives "
                    f"{net.ip} to whichever Service comes next"
                ),
                fix=pin_cluster_ip(net.ip),
                at=policy.ptr_at(ref.path),
                related=(Related(svc.ptr("metadata", "name"), f"{svc.display}: no clusterIP"),),
                identity=policy.identity,
                key=str(net),
                witness=witness,
            )
            continue
        if not managed:
            continue  # the repository does not manage the Services: it cannot know which are current
        yield Issue(
            message=(
                f"{policy.display} {rule.label} targets {net}, an advertised address that is the cluster "
                "IP of no Service in the repository: a stale rule, or one waiting for the next Service "
                "to be given this address"
            ),
            fix="Remove the address, or point the rule at the Service's current `spec.clusterIP`.",
            at=policy.ptr_at(ref.path),
            identity=policy.identity,
            key=str(net),
        )
