"""CA405 local-mode-clients-blocked: local mode keeps the client address, but the pods admit no client."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.addrset import AddressSet
from auditor.api import Context, Issue, Related, Rule, Severity, Witness
from auditor.model import Policy, Service, Workload
from auditor.packet.questions import PodSide, Target, Verdict
from auditor.wording import advertised, guide, ingress_ptr, names, service_name, target_ports, who, workload_name

RULE = Rule(
    id="CA405",
    name="local-mode-clients-blocked",
    title="Local mode: the Service's pods admit only the nodes, or no outside client at all",
    severity=Severity.ERROR,
    rationale=(
        "With `externalTrafficPolicy: Local` the traffic is not SNAT'd: the pod sees the real client address. "
        "Once an ingress policy selects the Service's pods, every source it does not allow hits the end-of-tier "
        "drop. A policy written for cluster mode (allowing only the host endpoints) or one that only admits "
        "in-cluster pods therefore drops every outside client of a local-mode Service."
    ),
    remediation=(
        "In the policy that selects the Service's pods, allow the outside clients' CIDRs (`source.nets`, or "
        "`ipBlock` in a Kubernetes NetworkPolicy) on the target port (guide local mode steps 1-2)."
    ),
    references=("https://docs.tigera.io/calico/latest/network-policy/services/services-cluster-ips",),
    tags=("local-mode",),
    guide_step="Local mode steps 1-2",
)


def check(ctx: Context) -> Iterator[Issue]:
    q = ctx.packet
    ps: PodSide = q.pods
    found: dict[tuple[int, int], tuple[Service, Policy, list[tuple[Workload, Target, Verdict, bool, Witness]]]] = {}
    for svc in ctx.model.services:
        if not svc.local_mode:
            continue
        addresses = ps.advertised(svc)
        if not addresses:
            continue
        versions = sorted({int(a.ip.version) for a in addresses})
        for w, policies, target in ps.policed_targets(svc, ctx.any_in_focus):  # placed in the deciding policy
            # Per address family: a dual-stack Service whose pods admit IPv4 clients but no IPv6 client
            # still blocks the IPv6 ones.
            for version in versions:
                # One client per signature: the others get the same verdicts (the first client is kept).
                clients = ps.distinct_client_peers(w, version)
                verdicts = [ps.verdict(w, c, target.number, target.protocol) for c in clients]
                if verdicts and not any(v.allowed for v in verdicts):
                    break
            else:
                continue
            family = AddressSet.everything(version)
            witness = q.denied_at_pod(svc, target.port, w, intended_only=False, sources=family)
            if witness is None:
                continue  # no outside client gets that far (the edge stops them first)
            nodes = any(ps.verdict(w, a.peer, target.number, target.protocol).allowed for a in ps.node_addrs)
            policy = ps.deciding_policy(verdicts[0]) or policies[-1]
            entry = (w, target, verdicts[0], nodes, witness)
            found.setdefault((id(policy), id(svc)), (svc, policy, []))[2].append(entry)
    for svc, policy, entries in found.values():
        w0, _, verdict, _, witness = entries[0]
        nodes_only = any(n for _, _, _, n, _ in entries)
        step = verdict.decisive
        at = step.rule.ptr() if step is not None and step.rule is not None else ingress_ptr(policy)
        how = step.text if step is not None else "end-of-tier drop"
        ports = names(sorted({t.text for _, t, *_ in entries}))
        pods = names(sorted({workload_name(w) for w, *_ in entries}))
        admits = "admits only the nodes, no outside client," if nodes_only else "admits no outside client"
        steps, on = guide("local", "1-2"), target_ports(t.number for _, t, *_ in entries)
        if step is not None and step.rule is not None and step.outcome == "deny":
            fix = (
                f"Narrow {who(policy)} {step.rule.label}, or allow the clients' CIDRs before it (lower `order`), "
                f"on {on} {steps}."
            )
        else:
            fix = (
                f"Allow the clients' CIDRs in {who(policy)} (`source.nets`"
                + (", or an `ipBlock`" if policy.is_kubernetes else "")
                + f") on {on} {steps}"
                + ("; allowing the nodes is the cluster-mode recipe." if nodes_only else ".")
            )
        yield Issue(
            message=(
                f"{advertised(service_name(svc), ps.describe_addresses(ps.advertised(svc)), 'local')} "
                "(`externalTrafficPolicy: Local`): the client's address is kept, so the pods see the "
                f"clients themselves; but the ingress policy of {pods} {admits} on target port {ports}: {how}"
            ),
            fix=fix,
            at=at,
            related=(
                Related(svc.ptr("metadata", "name"), f"Service {service_name(svc)}"),
                Related(w0.ptr_at(w0.labels_path), workload_name(w0)),
            ),
            identity=policy.identity,
            key=svc.identity,
            witness=witness,
        )
