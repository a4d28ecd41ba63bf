"""CA205 host-traffic-denied: host endpoints are policed but nothing allows normal host traffic."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.api import Context, Issue, Related, Rule, Severity, Witness
from auditor.model import HostEndpoint, Policy
from auditor.packet.questions import TCP, UDP, Evaluator, Questions, is_sample, sample_address
from auditor.wording import guide

RULE = Rule(
    id="CA205",
    name="host-traffic-denied",
    title="Host endpoints are policed but nothing allows normal traffic to or from the hosts",
    severity=Severity.WARNING,
    rationale=(
        "Once a HostEndpoint exists, traffic to and from the host's own processes is denied unless a policy "
        "allows it; only the failsafe ports stay open. With ingress rules but nothing for egress the hosts "
        "lose all outbound traffic but DNS and a few Calico ports: image pulls, NTP, calls to cloud APIs fail. "
        "Without an ingress allow the kubelet and other host services become unreachable (guide step 2: "
        "\"Without this rule, normal host traffic is blocked\"). A preDNAT Deny evaluated first shadows any "
        "normal allow."
    ),
    remediation=(
        "Add a normal GlobalNetworkPolicy on the host endpoints that allows host ingress (excluding the "
        "nodePort range, see CA206) and host egress; order preDNAT Denies so they do not cover traffic to the "
        "hosts' own addresses."
    ),
    references=(
        "https://docs.tigera.io/calico/latest/network-policy/hosts/protect-hosts",
        "https://docs.tigera.io/calico/latest/reference/host-endpoints/failsafe",
    ),
    tags=("host-endpoints", "availability"),
    guide_step="Cluster mode, step 2 (allow traffic destined for all host endpoints)",
)


def _host_policed(ev: Evaluator, hep: HostEndpoint) -> list[Policy]:
    if hep.auto or "projectcalico-default-allow" in hep.profiles:
        return []
    policies = ev.policies_for_hep(hep)
    if hep.assumed and not any(not (p.pre_dnat or p.do_not_track) for p in policies):
        # Assumed endpoints: only judge host traffic the repository manages (a normal policy selects them);
        # their profiles and host policies may live elsewhere.
        return []
    return policies


def _first_denial(q: Questions, hep: HostEndpoint, policies: list[Policy], inbound: bool) -> Witness | None:
    """A host flow (to the host when ``inbound``, from it otherwise) that is dropped, or None when some
    non-failsafe, non-NodePort flow is allowed."""
    ev = q.ev
    failsafe = {
        (e.protocol, e.port) for e in (ev.facts.failsafe_in if inbound else ev.facts.failsafe_out) if e.net is None
    }
    first: Witness | None = None
    named = [number for _, number, _ in hep.named_ports]  # rules may allow host ports by name (spec.ports)
    ports = [443, 80, 8080, *named, *ev.port_classes(policies, [n + 1 for n in named])]
    classes = sorted(ev.source_classes(ev.outside_universe(4), policies), key=lambda c: not is_sample(c))
    ask = q.host_ingress if inbound else q.host_egress
    for cls in classes:
        peer = sample_address(cls)
        for protocol, name in ((TCP, "TCP"), (UDP, "UDP")):
            for port in ports:
                if (name, port) in failsafe or (inbound and port in ev.facts.node_ports):
                    continue
                witness = ask(hep, peer, port, protocol)
                if witness.allowed:
                    return None
                first = first or witness
    return first


def check(ctx: Context) -> Iterator[Issue]:
    q = ctx.packet
    ev = q.ev
    for group in ev.hep_groups:
        hep = group[0]
        if not ctx.in_focus(hep):
            continue  # placed at the host endpoint
        policies = _host_policed(ev, hep)
        if not policies:
            continue  # no policy selects it: CA301's finding
        related = tuple(Related(p.ptr("metadata", "name"), f"selects {hep.name}") for p in policies[:3])
        others = f" (and {len(group) - 1} more HostEndpoints with the same labels)" if len(group) > 1 else ""
        named = bool(hep.interface_name) and hep.interface_name not in ("*", "(node interface)")
        through = f" through interface {hep.interface_name}" if named else ""
        subject = "the assumed host endpoints" if hep.assumed else f"HostEndpoint {hep.name}{others}"
        for inbound, direction in ((True, "ingress"), (False, "egress")):
            witness = _first_denial(q, hep, policies, inbound)
            if witness is None:
                continue
            decisive = next((s for s in reversed(witness.steps) if s.outcome in ("allow", "deny")), None)
            shadow = ""
            if decisive is not None and decisive.stage in ("pre-DNAT", "untracked") and decisive.outcome == "deny":
                shadow = f". A {decisive.stage} Deny decides first: {decisive.text}"
            if inbound:
                effect = f"host services (the kubelet, admin tools) are unreachable{through} but on the failsafe ports"
            else:
                effect = (
                    f"host processes can only reach the failsafe ports (DNS, DHCP, BGP, etcd, API server){through}: "
                    "image pulls, NTP and cloud API calls fail"
                )
            yield Issue(
                message=(
                    f"{subject} {'are' if hep.assumed else 'is'} policed but nothing allows {direction} traffic to or "
                    "from the host itself "
                    f"beyond the failsafe ports: {effect}{shadow}"
                ),
                fix=(
                    f"Add a normal GlobalNetworkPolicy on the host endpoints that allows host {direction} "
                    f"{guide('cluster', '2')}."
                ),
                at=hep.ptr("metadata", "name") if not hep.assumed else hep.ptr("spec", "selector"),
                related=related,
                identity=hep.identity,
                key=direction,
                witness=witness,
            )
