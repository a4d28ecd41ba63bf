"""CA401 service-pods-partially-selected: the policy admitting a Service's traffic misses some of its pods."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.api import Context, Issue, Related, Rule, Severity
from auditor.model import Policy, PolicyRule, Service, ServicePort, Workload
from auditor.packet.questions import Peer, PodSide, Target, entity_matches, rule_matches
from auditor.wording import SERVICE_PODS_STEPS, names, selector_ptr, selector_text, service_name, who, workload_name

RULE = Rule(
    id="CA401",
    name="service-pods-partially-selected",
    title="The policy that admits a Service's traffic selects only some of its backend pods",
    severity=Severity.ERROR,
    rationale=(
        "A Service load-balances across every pod whose labels match its selector, but a policy only applies to "
        "the pods its own selector matches. When the policy that admits the Service's traffic selects only some "
        "backends (a `version` label, a canary, a second Deployment), the others either drop that traffic (another "
        "policy selects them and does not allow it: some connections fail) or accept everything (no policy "
        "selects them: the restriction does not apply to them)."
    ),
    remediation=(
        "Select the same pods as the Service (guide: local mode step 1, cluster mode step 3), e.g. with the "
        "Service's own selector labels, or give the left-out pods a policy that admits the same traffic."
    ),
    references=("https://docs.tigera.io/calico/latest/network-policy/services/services-cluster-ips",),
    tags=("selector",),
    guide_step="Local mode step 1; cluster mode step 3",
)


def _allow_rules(
    ps: PodSide, policy: Policy, svc: Service, selected: list[Workload]
) -> Iterator[tuple[Workload, Target, PolicyRule]]:
    """(backend, target port, rule): ``policy``'s Allow rules whose destination names a selected backend's
    resolved target port."""
    for a in selected:
        pod = ps.pod_peer(a)
        for target in ps.targets(svc, a):
            if target.number is None:
                continue
            for rule in policy.ingress:
                if rule.action == "Allow" and entity_matches(
                    rule.destination, pod, target.number, target.protocol, ps.model
                ):
                    yield a, target, rule


def _witnesses(ps: PodSide, policy: Policy, svc: Service, selected: list[Workload]) -> list[tuple[ServicePort, Peer]]:
    """(Service port, source) pairs that ``policy`` itself admits to a selected backend on the target port."""
    out: list[tuple[ServicePort, Peer]] = []
    seen: set[tuple[int, str]] = set()
    for a, target, rule in _allow_rules(ps, policy, svc, selected):
        if rule.protocol is not None and rule.protocol.value != target.protocol:
            continue
        for src in ps.source_peers(rule):
            key = (target.port.index, str(src))
            if key in seen:
                continue
            pkt = ps.pod_packet(src, a, target.number, target.protocol)
            if not rule_matches(rule, pkt, ps.model):
                continue
            verdict = ps.verdict(a, src, target.number, target.protocol)
            if verdict.allowed and ps.deciding_policy(verdict) is policy:
                seen.add(key)
                out.append((target.port, src))
    return out


def _problems(
    ps: PodSide, policy: Policy, svc: Service, selected: list[Workload], left: list[Workload]
) -> list[tuple[Workload, str]]:
    witnesses = _witnesses(ps, policy, svc, selected)
    if not witnesses and next(_allow_rules(ps, policy, svc, selected), None) is None:
        return []  # the policy does not admit the Service's traffic: not the policy this rule is about
    out: list[tuple[Workload, str]] = []
    for b in left:
        if not ps.selected(b):
            out.append(
                (
                    b,
                    f"no ingress policy selects {workload_name(b)}, so it accepts traffic from anywhere and "
                    f"{who(policy)}'s restriction does not apply to it",
                )
            )
            continue
        for sp, src in witnesses:
            if sp.effective_target is None:
                continue
            number = b.resolve_port(sp.effective_target, sp.protocol)
            if number is None:
                continue
            protocol = next((t.protocol for t in ps.targets(svc, b) if t.port is sp), None)
            if protocol is None:
                continue
            verdict = ps.verdict(b, src, number, protocol)
            if not verdict.allowed:
                step = verdict.decisive
                why = step.text if step is not None else "dropped"
                out.append(
                    (
                        b,
                        f"the Service's connections from {src} to {workload_name(b)} on port {number} are dropped "
                        f"({why})",
                    )
                )
                break
    return out


def check(ctx: Context) -> Iterator[Issue]:
    ps: PodSide = ctx.packet.pods
    for svc in ctx.model.services:
        if svc.type == "ExternalName" or svc.selector is None:
            continue
        backends = ps.backends(svc)
        if len(backends) < 2:
            continue
        policies: list[Policy] = []
        for w in backends:
            policies.extend(p for p in ps.ingress_policies(w) if p not in policies)
        for policy in ctx.focused(policies):
            selected = [w for w in backends if policy in ps.ingress_policies(w)]
            left = [w for w in backends if w not in selected]
            if not selected or not left:
                continue
            problems = _problems(ps, policy, svc, selected, left)
            if not problems:
                continue
            wanted = " && ".join(f"{k} == '{v}'" for k, v in sorted(svc.selector.items()))
            yield Issue(
                message=(
                    f"{who(policy)} admits Service {service_name(svc)}'s traffic to "
                    f"{names(workload_name(w) for w in selected)}, but its {selector_text(policy)} leaves out "
                    f"{names(workload_name(w) for w, _ in problems)}, which the Service also load-balances to "
                    f"(labels {', '.join(f'{k}={v}' for k, v in sorted(svc.selector.items()))}): "
                    f"{problems[0][1]}. A policy applies only to the pods its selector matches"
                ),
                fix=(
                    f"Select the same pods as the Service (`{wanted}`) in {who(policy)}, or give the left-out pods "
                    f"a policy that admits the same traffic ({SERVICE_PODS_STEPS})."
                ),
                at=selector_ptr(policy),
                related=(Related(svc.ptr("spec", "selector"), f"Service {service_name(svc)} selector"),)
                + tuple(Related(w.ptr_at(w.labels_path), f"left out: {workload_name(w)}") for w, _ in problems[:3]),
                identity=policy.identity,
                key=svc.identity,
            )
