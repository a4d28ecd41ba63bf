"""CA007 sub-checks on Calico policies and their rules: stages, actions, protocols, `global()`, ICMP (facts 1.2-1.7)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from auditor.api import AutoFix, Edit, Issue, PathT, Related, SubCheck
from auditor.calico_validation import ACTIONS, protocol_problem, suggest_action, uses_global
from auditor.model import Policy, PolicyRule, SelectorRef, as_dict
from auditor.ports import PROTOCOL_NUMBERS
from auditor.rules._ca007_common import POLICIES, each_rule, issue, raw_rule


def _pre_dnat_with_do_not_track(policy: Policy) -> Iterator[Issue]:
    if policy.pre_dnat and policy.do_not_track:
        yield issue(
            policy,
            "`preDNAT` and `doNotTrack` are both true: a policy applies in one stage only (untracked or "
            "pre-DNAT), so Calico rejects it; keep one of them",
            ("spec", "preDNAT"),
            related=(Related(policy.ptr("spec", "doNotTrack"), "doNotTrack"),),
        )


def _global_in_policy_selectors(policy: Policy) -> Iterator[Issue]:
    for ref, field_name in (
        (policy.selector, "selector"),
        (policy.service_account_selector, "serviceAccountSelector"),
        (policy.namespace_selector, "namespaceSelector"),
    ):
        if ref is not None and ref.is_yaml_string and uses_global(ref.text):
            yield issue(
                policy,
                f"`global()` in the policy's `{field_name}`: Calico allows `global()` only as the whole "
                "`namespaceSelector` of a rule's source or destination; select host endpoints by their labels "
                "(e.g. `k8s-role == 'node'`)",
                ref.path,
            )


def _staged_delete_with_spec(policy: Policy) -> Iterator[Issue]:
    if not policy.staged or policy.spec.get("stagedAction") != "Delete":
        return
    for key, value in policy.spec.items():
        if key in ("stagedAction", "tier") or value in (None, "", [], {}, False):
            continue
        yield issue(
            policy,
            f"`{key}` is set on a staged policy with `stagedAction: Delete`: Calico requires every other spec "
            "field to be empty when staging a delete; remove it (or use `stagedAction: Set`)",
            ("spec", key),
            on_key=True,
        )


def _action_spelling(rule: PolicyRule) -> Iterator[Issue]:
    raw = raw_rule(rule).get("action")
    if not isinstance(raw, str) or raw in ACTIONS:
        return
    suggestion = suggest_action(raw)
    fix = f"write `{suggestion}`" if suggestion else f"use one of {', '.join(ACTIONS)}"
    path = rule.path + ("action",)
    yield issue(
        rule.policy,
        f"action `{raw}` is not one of {', '.join(ACTIONS)} (case-sensitive): Calico rejects the policy; {fix}",
        path,
        autofix=_case_fix(rule.policy, path, raw, ACTIONS),
    )


def _case_fix(policy: Policy, path: PathT, raw: object, names: Iterable[str]) -> AutoFix | None:
    """Safe fix: a name written in the wrong case becomes Calico's spelling (nothing else is guessed)."""
    if not isinstance(raw, str):
        return None
    right = next((n for n in names if n.lower() == raw.strip().lower()), None)
    if right is None or right == raw:
        return None
    return AutoFix(f"write `{right}` instead of `{raw}`", (Edit("set", policy.ptr_at(path), right),))


def _protocol_spelling(rule: PolicyRule) -> Iterator[Issue]:
    for ref, field_name in ((rule.protocol, "protocol"), (rule.not_protocol, "notProtocol")):
        if ref is None or ref.ok:
            continue
        why = protocol_problem(ref.raw)
        if why:
            yield issue(
                rule.policy,
                f"{field_name} `{ref.raw}` {why}",
                ref.path,
                autofix=_case_fix(rule.policy, ref.path, ref.raw, PROTOCOL_NUMBERS),
            )


def _global_in_rule_selectors(rule: PolicyRule) -> Iterator[Issue]:
    for entity in (rule.source, rule.destination):
        if entity.selector is not None and uses_global(entity.selector.text):
            yield issue(
                rule.policy,
                "`global()` in a rule `selector`: Calico allows it only as the whole `namespaceSelector`; "
                "write `namespaceSelector: global()` next to the selector",
                entity.selector.path,
            )
        yield from _global_not_alone(rule.policy, entity.namespace_selector)


def _global_not_alone(policy: Policy, ref: SelectorRef | None) -> Iterator[Issue]:
    if ref is None or ref.selector is None or not uses_global(ref.text) or ref.selector.is_exactly_global():
        return
    yield issue(
        policy,
        f"namespaceSelector `{ref.text}` combines `global()` with other terms: Calico accepts `global()` only "
        "as the whole namespaceSelector; write `namespaceSelector: global()` and match the endpoints' labels "
        "with `selector`",
        ref.path,
    )


def _icmp_rules(rule: PolicyRule) -> Iterator[Issue]:
    policy, raw = rule.policy, raw_rule(rule)
    protocol = rule.protocol
    has_icmp = isinstance(raw.get("icmp"), dict)
    # ICMP (1) and ICMPv6 (58), by name or number; a misspelt protocol is reported on its own.
    if has_icmp and (protocol is None or (protocol.ok and protocol.value not in (1, 58))):
        shown = "no protocol" if protocol is None else f"`protocol: {protocol.raw}`"
        yield issue(
            policy,
            f"`icmp` on a rule with {shown}: Calico rejects ICMP type/code matches unless the rule sets "
            "`protocol: ICMP` (or `ICMPv6`)",
            rule.path + ("icmp",),
            on_key=True,
        )
    for key in ("icmp", "notICMP"):
        fields = as_dict(raw.get(key))
        if "code" in fields and "type" not in fields:
            yield issue(
                policy,
                f"`{key}.code` without `{key}.type`: the kernel can match an ICMP code only with its type, so "
                "Calico rejects it; add `type`",
                rule.path + (key, "code"),
                on_key=True,
            )


def _icmp_ip_version(rule: PolicyRule) -> Iterator[Issue]:
    if rule.ip_version is None:
        return
    for ref in (rule.protocol, rule.not_protocol):
        if ref is None or not ref.ok:
            continue
        wanted = {"ICMP": 4, "ICMPv6": 6}.get(ref.raw)
        if wanted is not None and wanted != rule.ip_version:
            yield issue(
                rule.policy,
                f"`{ref.raw}` with `ipVersion: {rule.ip_version}`: {ref.raw} is IPv{wanted}-only, so Calico rejects "
                f"the rule; use `ipVersion: {wanted}` or `{'ICMPv6' if wanted == 4 else 'ICMP'}`",
                rule.path + ("ipVersion",),
            )



SUB_CHECKS = (
    SubCheck(
        "CA007/policy-prednat-donottrack", POLICIES, "`preDNAT` with `doNotTrack`", _pre_dnat_with_do_not_track
    ),
    SubCheck(
        "CA007/policy-global-selector", POLICIES, "`global()` in a policy's selectors", _global_in_policy_selectors
    ),
    SubCheck(
        "CA007/policy-staged-delete",
        (*POLICIES, "StagedKubernetesNetworkPolicy"),
        "spec fields on a staged delete",
        _staged_delete_with_spec,
    ),
    SubCheck("CA007/policy-rule-action", POLICIES, "rule actions (case-sensitive)", each_rule(_action_spelling)),
    SubCheck("CA007/policy-rule-protocol", POLICIES, "rule protocols", each_rule(_protocol_spelling)),
    SubCheck(
        "CA007/policy-rule-global-selector",
        POLICIES,
        "`global()` in rule selectors, or not alone in a namespaceSelector",
        each_rule(_global_in_rule_selectors),
    ),
    SubCheck("CA007/policy-rule-icmp", POLICIES, "`icmp`/`notICMP` fields", each_rule(_icmp_rules)),
    SubCheck(
        "CA007/policy-rule-icmp-version", POLICIES, "ICMP protocol vs `ipVersion`", each_rule(_icmp_ip_version)
    ),
)
