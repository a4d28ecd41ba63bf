"""CA201 missing-prednat: a host policy that names cluster IPs or nodePorts but runs after DNAT."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.api import Context, Issue, Related, Rule, Severity
from auditor.model import PolicyRule
from auditor.packet.questions import Evaluator
from auditor.ports import PortRange, PortSet
from auditor.wording import guide, origin

RULE = Rule(
    id="CA201",
    name="missing-prednat",
    title="A host-endpoint rule matches a cluster IP or nodePort as destination but the policy is not preDNAT",
    severity=Severity.ERROR,
    rationale=(
        "Normal (non-preDNAT) host-endpoint policy is evaluated in the filter table, after kube-proxy has "
        "rewritten the destination to a pod IP and target port. A rule whose destination is a cluster IP or a "
        "nodePort therefore never matches the traffic it was written for: an Allow lets nothing in, a Deny "
        "blocks nothing."
    ),
    remediation=(
        "Set `preDNAT: true` and `applyOnForward: true` on the GlobalNetworkPolicy (guide cluster mode, step 2: "
        "\"Make sure you add applyOnForward and preDNAT rules\"). preDNAT policies may only have ingress rules."
    ),
    references=(
        "https://docs.tigera.io/calico/latest/network-policy/services/services-cluster-ips",
        "https://docs.tigera.io/calico/latest/network-policy/services/kubernetes-node-ports",
    ),
    tags=("cluster-mode", "host-endpoints"),
    guide_step="Cluster mode, step 2",
)


def _cluster_ip_nets(ev: Evaluator, rule: PolicyRule) -> bool:
    nets = [r.value for r in rule.destination.nets if r.value is not None]
    service_range = ev.service_range()
    return bool(nets) and all(net in service_range for net in nets)


def _node_ports_only(ev: Evaluator, rule: PolicyRule) -> PortSet | None:
    """The destination ports when they all lie in the nodePort range (and the rule names no pods)."""
    ports = [r.value for r in rule.destination.ports]
    if not ports or any(not isinstance(p, PortRange) for p in ports):
        return None
    numeric = PortSet.of(*[p for p in ports if isinstance(p, PortRange)])
    if not ev.facts.node_ports.issuperset(numeric):
        return None
    pods = ev.facts.pod_cidrs
    if rule.destination.nets and all(r.value is not None and r.value in pods for r in rule.destination.nets):
        return None
    return numeric


def check(ctx: Context) -> Iterator[Issue]:
    ev = ctx.packet.ev
    for policy in ctx.focused(ev.host_policies):
        if policy.pre_dnat or policy.do_not_track or not ev.is_host_policy(policy):
            continue
        fix = "Set `preDNAT: true` and `applyOnForward: true` so the rule sees the original destination"
        for rule in policy.ingress:
            if _cluster_ip_nets(ev, rule):
                nets = ", ".join(str(r.value) for r in rule.destination.nets)
                yield Issue(
                    message=(
                        f"{policy.display} {rule.label} matches destination {nets} (cluster IPs), but the policy "
                        "is not preDNAT: it runs after kube-proxy has rewritten the destination to a pod, so the "
                        "rule never matches"
                    ),
                    fix=f"{fix} {guide('cluster', '2')}.",
                    at=rule.ptr("destination", "nets"),
                    related=(Related(policy.ptr("spec"), "policy without preDNAT"),),
                    identity=policy.identity,
                    key=rule.label,
                )
            elif (ports := _node_ports_only(ev, rule)) is not None:
                yield Issue(
                    message=(
                        f"{policy.display} {rule.label} matches destination ports {ports} in the nodePort range "
                        f"({describe_range(ev)}), but the policy is not preDNAT: after DNAT the packet carries the "
                        "pod's target port, so the rule never matches nodePort traffic"
                    ),
                    fix=f"{fix}.",
                    at=rule.ptr("destination", "ports"),
                    related=(Related(policy.ptr("spec"), "policy without preDNAT"),),
                    identity=policy.identity,
                    key=rule.label + "/ports",
                )


def describe_range(ev: Evaluator) -> str:
    return f"{ev.facts.node_ports}, {origin(ev.facts.node_port)}"



