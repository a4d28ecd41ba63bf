"""CA204 pod-traffic-denied: host-endpoint policy drops forwarded traffic to (part of) the pod CIDR."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise

from netaddr import IPSet

from auditor.api import Context, Issue, Related, Rule, Severity
from auditor.nets import describe
from auditor.packet.questions import (
    ANY_POD,
    TCP,
    UDP,
    Packet,
    Peer,
    Step,
    address_classes,
    sample_address,
    sample_pod,
)
from auditor.ports import ALL_PORTS, PROTOCOL_NUMBERS, PortSet, protocol_name
from auditor.wording import guide

RULE = Rule(
    id="CA204",
    name="pod-traffic-denied",
    title="Host-endpoint policy drops forwarded traffic to (part of) the pod CIDR",
    severity=Severity.ERROR,
    rationale=(
        "Policy with `applyOnForward: true` (and preDNAT policy) also sees traffic the host forwards, including "
        "pod-to-pod traffic between nodes. Once such a policy selects a host endpoint, forwarded traffic that "
        "no rule allows hits the end-of-tier drop; a preDNAT Deny drops it outright. Without an allow for the "
        "pod CIDR, normal pod-to-pod traffic dies (guide step 2)."
    ),
    remediation=(
        "Add a preDNAT + applyOnForward rule that allows traffic to every workload IPPool CIDR, ordered before "
        "any Deny (guide cluster mode, step 2: \"Add a rule to allow traffic destined for the pod CIDR\")."
    ),
    references=("https://docs.tigera.io/calico/latest/network-policy/services/services-cluster-ips",),
    tags=("cluster-mode", "availability"),
    guide_step="Cluster mode, step 2 (allow traffic destined for the pod CIDR)",
)

def _target(step: Step | None) -> object:
    if step is None:
        return None
    if step.rule is not None:
        return step.rule.ptr()
    if step.policy is not None:
        flag = "applyOnForward" if step.policy.apply_on_forward else "preDNAT"
        return step.policy.ptr("spec", flag, on_key=True)
    return None


def check(ctx: Context) -> Iterator[Issue]:
    q = ctx.packet
    ev = q.ev
    facts = ev.facts
    for group in ev.hep_groups:
        hep = group[0]
        policies = [p for p in ev.policies_for_hep(hep) if p.pre_dnat or p.do_not_track or p.apply_on_forward]
        if not policies:
            continue  # forwarded traffic is allowed when no such policy selects the host endpoint
        if not ctx.in_focus(hep, *ev.policies_for_hep(hep)):
            continue  # placed at the deciding rule or policy, else at the host endpoint
        routed, why, unsure = q.pod_traffic_through(hep)
        if not routed:
            continue  # pod traffic between nodes never meets this endpoint's forward policy
        cuts = ev.rule_nets(policies)
        ports = ev.port_classes(policies)
        denied = IPSet()
        witness = None
        which = ""
        decisive: Step | None = None
        for cls in address_classes(routed, cuts):
            dst = Peer("pod", None, cls, (ANY_POD,), text=describe(cls))
            # A pod on another node, of the destination's address family.
            family = IPSet([c for c in routed.iter_cidrs() if c.version == cls.version])
            source = Peer("pod", None, family, (ANY_POD,), text="a pod on another node")
            for protocol in (TCP, UDP):
                # Failsafe ports bypass pre-DNAT policy; whether Felix's failsafe also accepts forwarded pod
                # traffic is not modelled, so no claim rests on them.
                failsafe = {e.port for e in facts.failsafe_in if PROTOCOL_NUMBERS.get(e.protocol) == protocol}
                usable = [p for p in (8080, 443, 53, *ports) if p not in failsafe]
                verdicts = ((p, ev.forwarded(hep, Packet(source, dst, p, protocol))) for p in usable)
                port, failed = next(((p, v) for p, v in verdicts if not v.allowed), (None, None))
                if port is None or failed is None:
                    continue
                bounds = [*ports, 65536]
                closed = PortSet(
                    [
                        (lo, hi - 1)
                        for lo, hi in pairwise(bounds)
                        if not ev.forwarded(hep, Packet(source, dst, lo, protocol)).allowed
                    ]
                ) - PortSet.of(*failsafe)
                if not closed or facts.node_ports.issuperset(closed):
                    # Only NodePort numbers: the Deny is about node ports, and pods rarely listen there.
                    continue
                # The claim, shown on one concrete packet between two pod addresses.
                src_ip = sample_pod(family, avoid=cls)
                found = q.forward(hep, src_ip, sample_address(cls), port, protocol)
                if not found.allowed:
                    denied |= cls.to_ipset()
                    if witness is None:
                        witness, decisive = found, failed.decisive
                        which = "on every port" if closed == ALL_PORTS else f"to ports {closed}"
                        which += f" ({protocol_name(protocol)})"
                break
        if not denied or witness is None:
            continue
        target = _target(decisive) or hep.ptr("metadata", "name")
        dies = (
            "Normal pod-to-pod traffic between nodes dies"
            if which.startswith("on every port")
            else "Pod-to-pod traffic between nodes on those ports dies"
        )
        assumed = f"; assumed: {facts.pod.note}" if facts.pod.assumed else ""
        others = f" and {len(group) - 1} more with the same labels" if len(group) > 1 else ""
        via = f"HostEndpoint {hep.name}{others}" if not hep.assumed else "the assumed host endpoints"
        yield Issue(
            message=(
                f"forwarded traffic to {describe(denied)} (pod CIDR{assumed}) {which} arriving through {via} is "
                f"dropped: {decisive.text if decisive else 'no rule allows it'}. {dies} ({why})"
            ),
            fix=(
                "Allow traffic to every pod CIDR with a preDNAT + applyOnForward rule ordered before any Deny "
                f"{guide('cluster', '2')}."
            ),
            at=target,  # type: ignore[arg-type]
            related=(Related(hep.ptr("metadata", "name"), f"HostEndpoint {hep.name}"),),
            identity=f"HostEndpoint/{hep.name}",
            severity=Severity.WARNING if facts.pod.assumed or hep.assumed or unsure else None,
            witness=witness,
        )
