"""CA205 host-traffic-denied: host endpoints are policed but nothing allows normal host traffic."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.catalog import Example, Rule
from auditor.engine import Context
from auditor.findings import Issue, Related, Severity
from auditor.model import HostEndpoint, Policy
from auditor.packet.questions import TCP, UDP, Evaluator, Verdict, evaluator, representative
from auditor.rules._fixtures import CLUSTER

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
    examples=(
        Example(
            title="only preDNAT policies: host ingress and egress are cut",
            files={
                "cluster.yaml": CLUSTER,
                "policy.yaml": """\
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: allow-cluster-ips
spec:
  selector: k8s-role == 'node'
  preDNAT: true
  applyOnForward: true
  ingress:
  - action: Allow
    source:
      nets: [50.60.0.0/16]
    destination:
      nets: [10.20.30.40/32]
""",
            },
            expect=("cluster.yaml:19:9", "cluster.yaml:19:9"),
        ),
        Example(
            title="host ingress allowed (nodePorts excluded) and host egress allowed",
            files={
                "cluster.yaml": CLUSTER,
                "policy.yaml": """\
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: allow-host-traffic
spec:
  selector: k8s-role == 'node'
  ingress:
  - action: Allow
    protocol: TCP
    destination:
      notPorts: ["30000:32767"]
  egress:
  - action: Allow
""",
            },
        ),
    ),
)


def _host_policed(ev: Evaluator, hep: HostEndpoint) -> list[Policy]:
    if hep.auto or "projectcalico-default-allow" in hep.profiles:
        return []
    return ev.policies_for_hep(hep)


def _any_allowed(
    ev: Evaluator, hep: HostEndpoint, policies: list[Policy], inbound: bool
) -> tuple[bool, Verdict | None]:
    failsafe = {
        (e.protocol, e.port) for e in (ev.facts.failsafe_in if inbound else ev.facts.failsafe_out) if e.net is None
    }
    first: Verdict | None = None
    ports = ev.port_classes(policies)
    for cls in ev.source_classes(ev.outside_universe(4), policies):
        peer = ev.outside_peer(representative(cls))
        for protocol, name in ((TCP, "TCP"), (UDP, "UDP")):
            for port in ports:
                if (name, port) in failsafe or (inbound and port in ev.facts.node_ports):
                    continue
                verdict = ev.to_host(peer, hep, port, protocol) if inbound else ev.from_host(hep, peer, port, protocol)
                if verdict.allowed:
                    return True, None
                first = first or verdict
    return False, first


def check(ctx: Context) -> Iterator[Issue]:
    ev = evaluator(ctx)
    for group in ev.hep_groups:
        hep = group[0]
        policies = _host_policed(ev, hep)
        if not policies:
            continue  # no policy selects it: CA301's finding
        related = tuple(Related(p.ptr("metadata", "name"), f"selects {hep.name}") for p in policies[:3])
        others = f" (and {len(group) - 1} more HostEndpoints with the same labels)" if len(group) > 1 else ""
        for inbound, direction in ((True, "ingress"), (False, "egress")):
            allowed, sample = _any_allowed(ev, hep, policies, inbound)
            if allowed:
                continue
            decisive = sample.decisive if sample else None
            shadow = ""
            if decisive is not None and decisive.stage in ("pre-DNAT", "untracked") and decisive.outcome == "deny":
                shadow = f" A {decisive.stage} Deny decides first: {decisive.text}."
            effect = (
                "the kubelet, SSH-less admin tools and every host service but the failsafe ports are unreachable"
                if inbound
                else "host processes can only reach the failsafe ports (DNS, DHCP, BGP, etcd, API server): image "
                "pulls, NTP and cloud API calls fail"
            )
            yield Issue(
                message=(
                    f"HostEndpoint {hep.name}{others} is policed but nothing allows {direction} traffic to or from "
                    f"the host itself beyond the failsafe ports: {effect}.{shadow} Add a normal GlobalNetworkPolicy "
                    f"on the host endpoints that allows host {direction} (guide cluster mode, step 2)"
                ),
                at=hep.ptr("metadata", "name"),
                related=related,
                identity=hep.identity,
                key=direction,
            )
