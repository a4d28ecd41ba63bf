"""CA301 unselected-host-endpoint: a HostEndpoint that none of the repository's host policies selects."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.api import Context, Issue, Related, Rule, Severity
from auditor.model import HostEndpoint, Policy
from auditor.packet.questions import names_host, plain_selector, why_no_hosts
from auditor.wording import guide, host_policy_fix, names, selector_ptr, sentence, who

RULE = Rule(
    id="CA301",
    name="unselected-host-endpoint",
    title="A HostEndpoint that no host policy selects",
    severity=Severity.ERROR,
    rationale=(
        "A policy applies to a HostEndpoint only when its selector matches the HostEndpoint's own labels. "
        "When the repository's host policies select other host endpoints but one HostEndpoint's labels match "
        "none of them, that interface gets none of "
        "the protection: and since a HostEndpoint with no policy and no profile drops all traffic to and from "
        "its host except the failsafe ports, the node also loses kubelet, API and image traffic. Only a "
        "GlobalNetworkPolicy without `namespaceSelector`/`serviceAccountSelector` can select a HostEndpoint."
    ),
    remediation=(
        "Label the HostEndpoint so the host policies select it (the guide uses `k8s-role: node` on every "
        "HostEndpoint, step 5), or widen the policies' selectors. Host policies must be GlobalNetworkPolicies."
    ),
    references=(
        "https://docs.tigera.io/calico/latest/network-policy/services/services-cluster-ips",
        "https://docs.tigera.io/calico/latest/reference/resources/hostendpoint",
    ),
    tags=("host-endpoint",),
    guide_step="Cluster mode step 5",
)


def host_policies(ctx: Context) -> list[Policy]:
    """Enforced policies that select at least one HostEndpoint of the repository: they show how the
    repository labels its host endpoints. (Host policies that select none are CA302's.)"""
    return [
        p
        for p in ctx.packet.ev.host_policies
        if p.effective_selector is not None and ctx.model.host_endpoints_matching(p.effective_selector)
    ]


def _where(hep: HostEndpoint) -> tuple[object, str]:
    if hep.labels:
        return hep.ptr("metadata", "labels"), "labels " + ", ".join(f"{k}={v}" for k, v in sorted(hep.labels.items()))
    return hep.ptr("metadata", "name"), "no labels"


def check(ctx: Context) -> Iterator[Issue]:
    ev = ctx.packet.ev
    hosts = host_policies(ctx)
    if not hosts:
        return
    shown = names(f"{who(p)}: `{p.selector.text if p.selector else 'all()'}`" for p in hosts)
    for hep in ctx.focused(ctx.model.host_endpoints):
        if hep.profiles or ev.policies_for_hep(hep):
            continue  # a profile decides for it on purpose; or some policy does select it
        at, labels = _where(hep)
        # A policy whose selector text matches, but that can never select a HostEndpoint.
        blocked = [
            p for p in ctx.model.policies if p.enforced and why_no_hosts(p) and names_host(plain_selector(p), hep)
        ]
        if blocked:
            why = f"; {who(blocked[0])} matches its labels, but {why_no_hosts(blocked[0])}"
            fix = f"{host_policy_fix(blocked[0])} so that it selects HostEndpoint {hep.name}"
        else:
            why = ""
            fix = (
                f"label HostEndpoint {hep.name} so the host policies select it {guide('cluster', '5')}, "
                "or widen their selectors"
            )
        related = [Related(selector_ptr(p), f"host policy {p.name}") for p in hosts[:3]]
        related += [
            Related(selector_ptr(p), "matches the labels but cannot select host endpoints") for p in blocked[:1]
        ]
        yield Issue(
            message=(
                f"HostEndpoint {hep.name} (node {hep.node or '?'}, {labels}) is selected by no policy, although "
                f"the repository has host policies ({shown}){why}. A policy applies to a HostEndpoint only when "
                "its selector matches the HostEndpoint's labels, and one that no policy selects and that has no "
                "profile drops all traffic to and from its host except the failsafe ports"
            ),
            fix=sentence(fix),
            at=at,  # type: ignore[arg-type]
            related=tuple(related),
            identity=hep.identity,
        )
