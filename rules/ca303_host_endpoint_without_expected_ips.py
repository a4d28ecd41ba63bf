"""CA303 host-endpoint-without-expected-ips: a rule selects a HostEndpoint that has no expectedIPs."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.api import Context, Issue, Related, Rule, Severity
from auditor.model import HostEndpoint, PolicyRule
from auditor.wording import guide, names, who

RULE = Rule(
    id="CA303",
    name="host-endpoint-without-expected-ips",
    title="A rule selects host endpoints by label, but a selected HostEndpoint has no expectedIPs",
    severity=Severity.ERROR,
    rationale=(
        "When a rule's `source` or `destination` selector matches a HostEndpoint, Calico puts that host "
        "endpoint's `expectedIPs` into the rule's IP set: they are the only addresses by which the rule knows the "
        "host. A HostEndpoint without `expectedIPs` (only `interfaceName`) therefore contributes nothing, and the "
        "rule matches none of its traffic. The guide's step 3 (`source.selector: k8s-role == 'node'` on the "
        "Service's pods) and its host-traffic rule (`destination.selector: k8s-role == 'node'`) both rely on it, "
        "yet step 5 never says to set `expectedIPs`."
    ),
    remediation=(
        "List the node's addresses in the HostEndpoint's `expectedIPs`: its interface address and, with IPIP, "
        "VXLAN or WireGuard, the tunnel address, which is the source of SNAT'd traffic to pods on other nodes."
    ),
    references=(
        "https://docs.tigera.io/calico/latest/reference/resources/hostendpoint",
        "https://docs.tigera.io/calico/latest/network-policy/services/services-cluster-ips",
    ),
    tags=("host-endpoint",),
    guide_step="Cluster mode steps 3 and 5",
)


def _host_rules(ctx: Context) -> dict[int, tuple[HostEndpoint, list[tuple[PolicyRule, str, str]]]]:
    """HostEndpoints without addresses, with the rules whose selectors pick them out as hosts."""
    model = ctx.model
    found: dict[int, tuple[HostEndpoint, list[tuple[PolicyRule, str, str]]]] = {}
    for policy in model.policies:
        if not policy.enforced:
            continue
        for rule in policy.rules:
            for side, entity in (("source", rule.source), ("destination", rule.destination)):
                selector = entity.effective_selector
                if selector is None:
                    continue
                heps = [h for h in model.host_endpoints_matching(selector) if not h.auto and not h.expected_ips]
                if not heps or model.workloads_matching(selector):
                    continue  # no address-less host endpoint, or a selector about pods too
                text = entity.selector.text if entity.selector is not None else str(selector)
                for hep in heps:
                    found.setdefault(id(hep), (hep, []))[1].append((rule, side, text))
    return found


def check(ctx: Context) -> Iterator[Issue]:
    for hep, rules in _host_rules(ctx).values():
        if not ctx.in_focus(hep):
            continue
        if "expectedIPs" in hep.spec:
            at = hep.ptr("spec", "expectedIPs", on_key=True)
            state = "an empty `expectedIPs`"
        else:
            at = hep.ptr("spec", on_key=True)
            state = "no `expectedIPs`"
        shown = names(f"{who(r.policy)} {r.label} {side} `{text}`" for r, side, text in rules)
        effects = []
        if any(side == "source" for _, side, _ in rules):
            effects.append(
                "traffic from this host is not admitted (in cluster mode that includes the SNAT'd Service "
                "traffic the pods must admit, guide step 3)"
            )
        if any(side == "destination" for _, side, _ in rules):
            effects.append("traffic to this host is not matched (like the guide's host-traffic rule)")
        yield Issue(
            message=(
                f"HostEndpoint {hep.name} (node {hep.node or '?'}) has {state}, but rules select it by its labels: "
                f"{shown}. Calico matches a host endpoint in a rule's source or destination only through its "
                f"expectedIPs, so these rules match none of this host's traffic: {' and '.join(effects)}"
            ),
            fix=(
                f"Add `expectedIPs` to HostEndpoint {hep.name} with the node's addresses, including its "
                f"IPIP/VXLAN/WireGuard tunnel address {guide('cluster', '5')}."
            ),
            at=at,
            related=tuple(
                Related(r.ptr(side, "selector"), f"{r.policy.name} {r.label} selects it") for r, side, _ in rules[:3]
            ),
            identity=hep.identity,
        )
