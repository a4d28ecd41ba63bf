"""CA404 client-rule-after-snat: cluster mode, and the pods' policy names outside clients the pods never see."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from netaddr import IPSet

from auditor.api import Context, Issue, Related, Rule, Severity, Witness
from auditor.model import PolicyRule, Service, Workload
from auditor.packet.questions import PodSide, Questions, Verdict, entity_matches
from auditor.wording import advertised, guide, names, service_name, who, workload_name

# Addresses that are not globally routable: node addresses usually live here.
PRIVATE = IPSet(
    [
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "0.0.0.0/8",
        "fc00::/7",
        "fe80::/10",
        "::/127",
    ]
)

RULE = Rule(
    id="CA404",
    name="client-rule-after-snat",
    title="Cluster mode: the pods' policy allows outside clients that it never sees after SNAT",
    severity=Severity.WARNING,
    rationale=(
        "With `externalTrafficPolicy: Cluster` kube-proxy SNATs outside traffic for an advertised Service address "
        "to the receiving node's address before it reaches the pod, so the pod's ingress policy sees a node, "
        "never the client. A pod rule that allows client CIDRs therefore never matches traffic that came through "
        "the Service: the clients are not restricted there (the nodes are what the pods must allow), and the rule "
        "gives a false sense of control. Client restrictions belong at the host endpoints, before DNAT."
    ),
    remediation=(
        "Restrict clients with a preDNAT GlobalNetworkPolicy on the host endpoints that names the cluster IP "
        "(guide cluster mode step 2), and allow the nodes on the pods (step 3). Or switch the Service to local "
        "mode (`externalTrafficPolicy: Local`, type LoadBalancer or NodePort) to keep client addresses. If clients "
        "also reach the pods directly on their pod IPs, the rule is right for that path: suppress the finding."
    ),
    references=("https://docs.tigera.io/calico/latest/network-policy/services/services-cluster-ips",),
    tags=("cluster-mode", "snat"),
    guide_step="Cluster mode steps 2 and 3",
)


def _client_nets(rule: PolicyRule, ps: PodSide, in_cluster: IPSet) -> tuple[list[Any], bool] | None:
    """The rule's client CIDRs, when none of its nets can be a node address; and whether that relied on
    assuming private node addresses (None: the rule may match the nodes, or names no client)."""
    refs = [r for r in rule.source.nets if r.value is not None]
    known = bool(ps.node_addrs)
    clients = []
    for ref in refs:
        net = IPSet([ref.value])
        if known and net & ps.node_ips:
            return None
        if not known and net & PRIVATE:
            return None
        if not net & in_cluster:
            clients.append(ref)
    return (clients, not known) if clients else None


def _witness(q: Questions, rule: PolicyRule, refs: list[Any], services: list[Service], w: Workload) -> Witness | None:
    """A Service flow from one of the clients the rule names: the rule is not what decides it at the pod."""
    clients = IPSet([r.value for r in refs])
    for svc in services:
        for address in q.pods.advertised(svc):
            for port in svc.ports:
                for hep in q.ev.ingress_groups():
                    for allowed in (False, True):
                        found = q.service_flow(
                            address, port, hep, clients, allowed, lambda v: _not_decided_by(v, rule), w
                        )
                        if found is not None:
                            return found
    return None


def _not_decided_by(verdict: Verdict, rule: PolicyRule) -> bool:
    step = verdict.decisive
    return step is None or step.rule is not rule


def check(ctx: Context) -> Iterator[Issue]:
    q = ctx.packet
    ps: PodSide = q.pods
    facts = ps.facts
    in_cluster = facts.pod_cidrs | facts.service_cidrs | facts.advertised
    found: dict[int, tuple[PolicyRule, list[Any], bool, list[Service], Workload]] = {}
    for svc in ctx.model.services:
        if not svc.cluster_mode or not ps.advertised(svc):
            continue
        if svc.external_traffic_policy_set and not svc.externally_accessible:
            continue  # Kubernetes rejects the Service as written (CA105): no claim about its traffic
        for w in ps.backends(svc):
            if w in ps.local_backends:
                continue  # a local-mode Service keeps client addresses for these pods
            pod = ps.pod_peer(w)
            for target in ps.targets(svc, w):
                if target.number is None:
                    continue
                for policy in ctx.focused(ps.ingress_policies(w)):  # placed in the client rule's policy
                    for rule in policy.ingress:
                        if rule.action != "Allow" or not rule.source.valid_nets:
                            continue
                        if rule.protocol is not None and rule.protocol.value != target.protocol:
                            continue
                        if not entity_matches(rule.destination, pod, target.number, target.protocol, ps.model):
                            continue
                        clients = _client_nets(rule, ps, in_cluster)
                        if clients is None:
                            continue
                        entry = found.setdefault(id(rule), (rule, clients[0], clients[1], [], w))
                        if svc not in entry[3]:
                            entry[3].append(svc)
    for rule, refs, assumed, services, w in found.values():
        witness = _witness(q, rule, refs, services, w)
        if witness is None:
            continue
        svc = services[0]
        cidrs = names(str(r.value) for r in refs)
        note = (
            " (the repository gives no node address, no HostEndpoint expectedIPs or Node addresses: assumed the "
            "nodes use private addresses, which this CIDR does not cover)"
            if assumed
            else f" (it covers none of the node addresses: {names(str(a.ip) for a in ps.node_addrs)})"
        )
        addresses = ps.describe_addresses(ps.advertised(svc))
        yield Issue(
            message=(
                f"{who(rule.policy)} {rule.label} allows the outside clients {cidrs} directly on {workload_name(w)}, "
                f"but {advertised(names(service_name(s) for s in services), addresses, 'cluster')}: kube-proxy SNATs "
                "outside traffic to the node's address, so the pods never see these clients as the source of Service "
                f"traffic and the rule never matches it{note}"
            ),
            fix=(
                "Restrict clients at the host endpoints with a preDNAT policy on the cluster IP and allow the nodes "
                f"in {who(rule.policy)} {guide('cluster', '2 and 3')}, or set `externalTrafficPolicy: Local` to keep "
                "client addresses; if clients also reach the pod IPs directly, suppress this finding."
            ),
            at=rule.policy.ptr_at(refs[0].path),
            related=tuple(Related(s.ptr("metadata", "name"), f"Service {service_name(s)}") for s in services[:2])
            + (Related(w.ptr_at(w.labels_path), workload_name(w)),),
            identity=rule.policy.identity,
            key=rule.label,
            witness=witness,
        )
