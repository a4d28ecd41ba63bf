"""CA302 host-policy-selects-nothing: a policy meant for host endpoints selects none of them."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.api import Context, Issue, Pointer, Related, Rule, Severity
from auditor.model import AUTO_HEP_LABEL, HostEndpoint, Model, Policy
from auditor.packet.questions import PodSide, host_flags, plain_selector, why_no_hosts
from auditor.wording import guide, host_policy_fix, names, selector_ptr, sentence, who

RULE = Rule(
    id="CA302",
    name="host-policy-selects-nothing",
    title="A host policy (preDNAT, applyOnForward, doNotTrack, or rules about hosts) selects no HostEndpoint",
    severity=Severity.ERROR,
    rationale=(
        "`preDNAT`, `doNotTrack` and `applyOnForward` only mean something on host endpoints: Calico never applies "
        "pre-DNAT or untracked policy to pods. A host policy whose selector matches no HostEndpoint is therefore "
        "dead: the cluster-IP allow-list, the pod-CIDR allow or the deny it was written for never runs. A "
        "namespaced NetworkPolicy, or a GlobalNetworkPolicy with `namespaceSelector` or "
        "`serviceAccountSelector`, can never select a HostEndpoint at all. Automatic host endpoints count: they "
        "carry their Node's labels when KubeControllersConfiguration enables them."
    ),
    remediation=(
        "Make the selector match the HostEndpoints' labels (the guide selects `k8s-role == 'node'` in step 2 and "
        "labels the HostEndpoints so in step 5), and write host policies as GlobalNetworkPolicies without "
        "namespaceSelector/serviceAccountSelector."
    ),
    references=(
        "https://docs.tigera.io/calico/latest/network-policy/services/services-cluster-ips",
        "https://docs.tigera.io/calico/latest/reference/host-endpoints/pre-dnat",
    ),
    tags=("host-endpoint",),
    guide_step="Cluster mode steps 2 and 5",
)


def _rules_about_hosts(policy: Policy, ps: PodSide) -> bool:
    """A rule whose own-endpoint side (ingress destination / egress source) names host endpoints."""
    for rule in policy.rules:
        side = rule.destination if rule.direction == "ingress" else rule.source
        ref = side.selector
        if ref is not None and ps.hosts_named(ref.selector):
            return True
    return False


def _where(policy: Policy) -> Pointer:
    if policy.is_global and policy.namespace_selector is not None:
        return policy.ptr_at(policy.namespace_selector.path)
    if policy.is_global and policy.service_account_selector is not None:
        return policy.ptr_at(policy.service_account_selector.path)
    return selector_ptr(policy)


def _describe(hep: HostEndpoint) -> str:
    labels = ", ".join(f"{k}={v}" for k, v in sorted(hep.labels.items()) if not k.startswith("projectcalico.org/"))
    return f"{hep.name} {{{labels}}}"


def _auto_disabled(model: Model, policy: Policy) -> str:
    """The policy selects only kube-controllers' automatic host endpoints (their ``created-by`` label), the
    repository holds no HostEndpoint of its own, and its KubeControllersConfiguration does not create them."""
    if model.all_host_endpoints or not model.kube_controllers or model.auto_host_endpoints_enabled:
        return ""
    selector = policy.effective_selector
    required = selector.required_labels() if selector is not None else None
    if not required or AUTO_HEP_LABEL not in required:
        return ""
    config = model.kube_controllers[0]
    return (
        f"it selects only automatic host endpoints (label {AUTO_HEP_LABEL}), and KubeControllersConfiguration "
        f"{config.name} does not enable `hostEndpoint.autoCreate`, so there are none"
    )


def check(ctx: Context) -> Iterator[Issue]:
    model = ctx.model
    ps = ctx.packet.pods
    heps = model.all_host_endpoints
    # Automatic host endpoints with no Node in the repository: their labels are unknown.
    known = bool(heps) and not (model.auto_host_endpoints_enabled and not model.nodes)
    for policy in ctx.focused(model.policies):
        if not policy.enforced or policy.effective_selector is None:
            continue
        flags = host_flags(policy)
        blocked = why_no_hosts(policy)
        plain = plain_selector(policy)
        plain_hits = ps.hosts_named(plain)
        if flags:
            intent = f"it is a host policy ({', '.join(flags)}: only meaningful on host endpoints)"
        elif blocked and plain_hits:
            intent = f"its selector matches the labels of HostEndpoint {plain_hits[0].name}"
        elif _rules_about_hosts(policy, ps):
            intent = "its rules name host endpoints as the policy's own side"
        else:
            continue
        auto_off = _auto_disabled(model, policy)
        steps = guide("cluster", "2 and 5")
        if blocked:
            why = blocked
            fix = f"{host_policy_fix(policy)} so that its `selector` can match the HostEndpoints' labels {steps}"
        elif auto_off:
            why = auto_off
            fix = (
                "set `spec.controllers.node.hostEndpoint.autoCreate: Enabled` in KubeControllersConfiguration "
                f"{model.kube_controllers[0].name}, or select HostEndpoints of the repository {guide('cluster', '5')}"
            )
        elif not known or model.host_endpoints_matching(policy.effective_selector):
            continue
        else:
            why = f"`{policy.selector.text if policy.selector else 'all()'}` matches the labels of no HostEndpoint"
            pods = model.workloads_matching(policy.effective_selector)
            if pods:
                why += (
                    f" (it matches pods, e.g. {pods[0].kind} {pods[0].namespace}/{pods[0].name}, but pre-DNAT and "
                    "untracked policy never applies to pods)"
                )
            fix = f"change the `selector` to match the HostEndpoints' labels {steps}"
        shown = names(_describe(h) for h in heps) if heps else "none in the repository"
        yield Issue(
            message=(
                f"{who(policy)} selects no HostEndpoint, yet {intent}: {why}, so none of its rules ever runs. "
                f"Host endpoints here: {shown}"
            ),
            fix=sentence(fix),
            at=_where(policy),
            related=tuple(Related(h.ptr("metadata", "name"), f"HostEndpoint {h.name}") for h in heps[:3]),
            identity=policy.identity,
        )
