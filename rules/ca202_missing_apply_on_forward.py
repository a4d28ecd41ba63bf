"""CA202 missing-apply-on-forward: preDNAT/doNotTrack without applyOnForward, or forwarded-only rules without it."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.api import AutoFix, Context, Edit, Issue, Related, Rule, Severity
from auditor.wording import guide

RULE = Rule(
    id="CA202",
    name="missing-apply-on-forward",
    title="preDNAT or doNotTrack without applyOnForward, or forwarded-traffic rules on a policy without it",
    severity=Severity.ERROR,
    rationale=(
        "Calico rejects a policy with `preDNAT: true` or `doNotTrack: true` unless `applyOnForward: true` is "
        "set too (\"ApplyOnForward must be true if either PreDNAT or DoNotTrack is true\"). And a normal host "
        "policy without `applyOnForward` only sees traffic to and from the host itself: rules aimed at the pod "
        "CIDR, which only forwarded traffic reaches, never match."
    ),
    remediation=(
        "Add `applyOnForward: true` (guide cluster mode, step 2: \"Make sure you add applyOnForward and "
        "preDNAT rules\")."
    ),
    references=("https://docs.tigera.io/calico/latest/reference/host-endpoints/forwarded",),
    tags=("host-endpoints",),
    guide_step="Cluster mode, step 2",
    autofix="safe",
    autofix_text=(
        "adds `applyOnForward: true` after `preDNAT: true` or `doNotTrack: true` (not for the pod-CIDR findings)"
    ),
)


ADD_APPLY_ON_FORWARD = f"Add `applyOnForward: true` {guide('cluster', '2')}."


def check(ctx: Context) -> Iterator[Issue]:
    ev = ctx.packet.ev
    for policy in ctx.focused(ctx.model.policies):
        if policy.apply_on_forward or not policy.is_global:
            continue
        flag = "preDNAT" if policy.pre_dnat else "doNotTrack" if policy.do_not_track else ""
        if flag:
            yield Issue(
                message=(
                    f"{policy.display} sets `{flag}: true` without `applyOnForward: true`: Calico rejects it "
                    "(\"ApplyOnForward must be true if either PreDNAT or DoNotTrack is true\")"
                ),
                fix=ADD_APPLY_ON_FORWARD,
                at=policy.ptr("spec", flag, on_key=True),
                identity=policy.identity,
                autofix=AutoFix(
                    f"add `applyOnForward: true` after `{flag}: true`",
                    (Edit("add-key", policy.ptr("spec"), True, key="applyOnForward", after=flag),),
                ),
            )
            continue
        if not ev.is_host_policy(policy) or not policy.ingress:
            continue
        pods = ev.facts.pod_cidrs
        forwarded_only = [
            rule
            for rule in policy.ingress
            if rule.destination.nets and all(r.value is not None and r.value in pods for r in rule.destination.nets)
        ]
        for rule in forwarded_only:
            assumed = " (pod CIDR assumed: " + ev.facts.pod.note + ")" if ev.facts.pod.assumed else ""
            yield Issue(
                message=(
                    f"{policy.display} {rule.label} targets the pod CIDR{assumed}, which only forwarded traffic "
                    "reaches, but the policy has no `applyOnForward: true`: it applies to traffic to and from the "
                    "host itself only, so this rule never matches"
                ),
                fix=ADD_APPLY_ON_FORWARD,
                at=rule.ptr("destination", "nets"),
                related=(Related(policy.ptr("spec"), "policy without applyOnForward"),),
                identity=policy.identity,
                key=rule.label,
            )
