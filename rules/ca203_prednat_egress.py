"""CA203 prednat-egress: preDNAT policy with egress rules or an Egress type."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.api import Context, Issue, Rule, Severity
from auditor.model import as_list

RULE = Rule(
    id="CA203",
    name="prednat-egress",
    title="A preDNAT policy with egress rules or Egress in types",
    severity=Severity.ERROR,
    rationale=(
        "Pre-DNAT policy runs in the mangle table's PREROUTING chain, before routing, when the outgoing "
        "interface is not known yet: it can only police ingress. Calico rejects preDNAT policies with egress "
        "rules or `Egress` in `types` (\"PreDNAT PolicySpec cannot have any Egress rules\")."
    ),
    remediation=(
        "Move the egress rules to a normal (non-preDNAT) GlobalNetworkPolicy on the same host endpoints and "
        "keep `types: [Ingress]` on the preDNAT one."
    ),
    references=("https://docs.tigera.io/calico/latest/reference/host-endpoints/pre-dnat",),
    tags=("host-endpoints",),
)


def check(ctx: Context) -> Iterator[Issue]:
    why = "preDNAT policy runs before routing and can only police ingress; Calico rejects this"
    for policy in ctx.focused(ctx.model.policies):
        if not policy.pre_dnat:
            continue
        for i, value in enumerate(as_list(policy.spec.get("types"))):
            if value == "Egress":
                yield Issue(
                    message=f"{policy.display} is preDNAT but lists `Egress` in `types`: {why}",
                    fix="Remove `Egress` from `types`.",
                    at=policy.ptr("spec", "types", i),
                    identity=policy.identity,
                    key="types",
                )
        if as_list(policy.spec.get("egress")):
            yield Issue(
                message=(
                    f"{policy.display} is preDNAT but has egress rules: {why}"
                ),
                fix="Move the egress rules to a normal GlobalNetworkPolicy on the same host endpoints.",
                at=policy.ptr("spec", "egress", on_key=True),
                identity=policy.identity,
                key="egress",
            )
