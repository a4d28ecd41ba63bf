"""CA402 nodes-not-allowed-to-service-pods: cluster mode, and the pods' policy drops the SNAT'd node source."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.api import Context, Issue, Related, Rule, Severity, Witness
from auditor.model import Policy, Service, Workload
from auditor.packet.questions import NodeDenial, PodSide, Target
from auditor.wording import advertised, guide, ingress_ptr, names, service_name, target_ports, who, workload_name

RULE = Rule(
    id="CA402",
    name="nodes-not-allowed-to-service-pods",
    title="Cluster mode: the Service's pods do not allow the nodes, the source of SNAT'd outside traffic",
    severity=Severity.ERROR,
    rationale=(
        "With `externalTrafficPolicy: Cluster` (the default) kube-proxy SNATs outside traffic for an advertised "
        "cluster IP to the address of the node that received it, so the backend pod sees a node, not the client, "
        "as the source. Once any ingress policy selects the pod, everything it does not allow hits the end-of-tier "
        "drop, including the nodes. A rule selector matches the nodes only through HostEndpoint `expectedIPs`; in "
        "a namespaced NetworkPolicy a rule selector only matches endpoints of its own namespace unless it adds "
        "`namespaceSelector: global()`."
    ),
    remediation=(
        "In the policy that selects the Service's pods, allow the host endpoints on the target port: "
        "`source.selector: k8s-role == 'node'` in a GlobalNetworkPolicy (or with `namespaceSelector: global()` in "
        "a NetworkPolicy), or `source.nets` / `ipBlock` covering every node address (guide cluster mode step 3)."
    ),
    references=("https://docs.tigera.io/calico/latest/network-policy/services/services-cluster-ips",),
    tags=("cluster-mode", "snat"),
    guide_step="Cluster mode step 3",
)


def _denied_text(denial: NodeDenial) -> str:
    if not denial.nodes:
        return (
            "no rule admits anything that could be a node (the repository gives no node address: no HostEndpoint "
            "expectedIPs and no Node addresses)"
        )
    which = "no node is admitted" if denial.all_nodes else "not every node is admitted"
    return f"{which} (denied: {names(a.label for a in denial.nodes)})"


def _fix(policy: Policy, ps: PodSide, ports: str) -> str:
    step = guide("cluster", "3")
    if policy.is_kubernetes:
        return (
            f"Allow the nodes on {ports} in {who(policy)} with an `ipBlock` covering every node address "
            f"(a Kubernetes NetworkPolicy cannot select host endpoints), or in a Calico policy {step}."
        )
    nodes = ps.node_selector_hint()
    scope = " with `namespaceSelector: global()`" if not policy.is_global else ""
    return (
        f"Allow the host endpoints on {ports} in {who(policy)}: `source.selector: {nodes}`{scope} "
        f"(host endpoints with expectedIPs), or `source.nets` covering every node address {step}."
    )


def check(ctx: Context) -> Iterator[Issue]:
    q = ctx.packet
    ps: PodSide = q.pods
    found: dict[tuple[int, int], tuple[Service, Policy, list[tuple[Workload, Target, NodeDenial, Witness]]]] = {}
    for svc in ctx.model.services:
        if not svc.cluster_mode or not ps.advertised(svc):
            continue
        for w, policies, target in ps.policed_targets(svc, ctx.any_in_focus):  # placed in the deciding policy
            denial = ps.nodes_denied(w, target)
            if denial is None:
                continue
            # Intent: an edge Allow names the Service's address, and a client it lets through is
            # dropped at the pod. Without one, nobody means to reach the Service from outside.
            witness = q.denied_at_pod(svc, target.port, w, intended_only=True)
            if witness is None:
                continue
            policy = (ps.deciding_policy(denial.verdict) if denial.verdict else None) or policies[-1]
            found.setdefault((id(policy), id(svc)), (svc, policy, []))[2].append((w, target, denial, witness))
    for svc, policy, entries in found.values():
        w0, _, denial0, witness = entries[0]
        step = denial0.verdict.decisive if denial0.verdict else None
        at = step.rule.ptr() if step is not None and step.rule is not None else ingress_ptr(policy)
        how = step.text if step is not None else f"no rule of {who(policy)} admits them: end-of-tier drop"
        ports = names(sorted({t.text for _, t, _, _ in entries}))
        pods = names(sorted({workload_name(w) for w, *_ in entries}))
        hint, fix = "", _fix(policy, ps, target_ports(t.number for _, t, _, _ in entries))
        scoped = ps.scoped_host_rules(w0)
        if scoped and scoped[0].source.selector is not None:
            rule = scoped[0]
            hint = (
                f". {who(rule.policy)} {rule.label} selects `{rule.source.selector.text}`, but in a namespaced "
                "NetworkPolicy a rule selector only matches endpoints of its own namespace, never host endpoints"
            )
            fix = (
                f"Add `namespaceSelector: global()` to the source of {who(rule.policy)} {rule.label} so that it "
                f"matches the host endpoints {guide('cluster', '3')}."
            )
        related = [
            Related(svc.ptr("metadata", "name"), f"Service {service_name(svc)}"),
            Related(w0.ptr_at(w0.labels_path), workload_name(w0)),
        ]
        related += [
            Related(a.hep.ptr("metadata", "name"), f"HostEndpoint {a.hep.name}")
            for a in denial0.nodes[:2]
            if a.hep is not None and not a.hep.auto
        ]
        yield Issue(
            message=(
                f"{advertised(service_name(svc), ps.describe_addresses(ps.advertised(svc)), 'cluster')}, so "
                "kube-proxy SNATs outside traffic to the receiving node's address and the pods see a node as the "
                f"source; but for {pods} on target port {ports}, {_denied_text(denial0)}: {how}{hint}"
            ),
            fix=fix,
            at=at,
            related=tuple(related),
            identity=policy.identity,
            key=svc.identity,
            witness=witness,
        )
