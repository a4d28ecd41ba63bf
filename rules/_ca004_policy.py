"""CA004 sub-checks on policies: Calico rule ``nets``/``notNets`` (facts 1.5) and Kubernetes ``ipBlock``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from netaddr import IPNetwork

from auditor.calico_validation import NetProblem, net_problem
from auditor.catalog import SubCheck
from auditor.findings import Issue, PathT, Related
from auditor.model import Policy, PolicyRule, Ref, as_dict, as_list
from auditor.nets import IPv4_ALL, IPv6_ALL, NetError, parse_cidr
from auditor.rules._ca00_kinds import CALICO_POLICIES, K8S_POLICIES, at, calico_rules, k8s_policy
from auditor.rules._ca004_messages import family, net_text

# ---- Calico policy rules ------------------------------------------------------------------

_RULE_NETS_NOUN = "rule nets"
_RULE_NETS_BARE = "Calico reads rule nets as CIDRs and rejects a bare address"


def _rule_refs(rule: PolicyRule) -> list[tuple[str, Ref[IPNetwork]]]:
    """Every net of a rule in Calico's scan order, with its field name."""
    out: list[tuple[str, Ref[IPNetwork]]] = []
    for side, entity in (("source", rule.source), ("destination", rule.destination)):
        out.extend((f"{side}.nets", ref) for ref in entity.nets)
        out.extend((f"{side}.notNets", ref) for ref in entity.not_nets)
    return out


def _malformed_rule_nets(rule: PolicyRule) -> Iterator[Issue]:
    for _, ref in _rule_refs(rule):
        if ref.ok or not isinstance(ref.raw, str):
            continue  # non-strings are type errors (CA002)
        problem = net_problem(ref.raw, strict=True, allow_bare_ip=False)
        if problem is not None:
            yield at(rule.policy, ref.path, *net_text(ref.raw, problem, _RULE_NETS_NOUN, _RULE_NETS_BARE))


def _mixed_families(rule: PolicyRule) -> Iterator[Issue]:
    """All nets of one rule (source and destination, positive and negative) share one family."""
    if rule.ip_version is not None:
        return  # _contradicts_ip_version reports the odd ones out
    first: tuple[str, Ref[IPNetwork]] | None = None
    for field_name, ref in _rule_refs(rule):
        if ref.value is None:
            continue
        if first is None:
            first = (field_name, ref)
            continue
        assert first[1].value is not None
        if ref.value.version != first[1].value.version:
            yield at(
                rule.policy,
                ref.path,
                f"rule {rule.label} mixes IPv4 and IPv6: `{ref.raw}` is {family(ref.value)} but "
                f"`{first[1].raw}` ({first[0]}) is {family(first[1].value)}; Calico rejects a rule with both families",
                "Split the rule into one rule per IP family.",
                related=(Related(rule.policy.ptr_at(first[1].path), "first network of the other family"),),
            )
            return


def _contradicts_ip_version(rule: PolicyRule) -> Iterator[Issue]:
    if rule.ip_version is None:
        return
    for _, ref in _rule_refs(rule):
        if ref.value is not None and ref.value.version != rule.ip_version:
            yield at(
                rule.policy,
                ref.path,
                f"`{ref.raw}` is {family(ref.value)} but the rule says `ipVersion: {rule.ip_version}`: Calico "
                "rejects nets whose family contradicts ipVersion",
                "Remove the net or fix `ipVersion`.",
                related=(Related(rule.ptr("ipVersion"), "ipVersion"),),
            )


def _catch_all_not_nets(rule: PolicyRule) -> Iterator[Issue]:
    for entity in (rule.source, rule.destination):
        for ref in entity.not_nets:
            if ref.value is not None and ref.value in (IPv4_ALL, IPv6_ALL):
                yield at(
                    rule.policy,
                    ref.path,
                    f"`notNets: [{ref.raw}]` excludes every address, so the rule can never match: Calico "
                    "(v3.31+) rejects a catch-all CIDR in notNets",
                    "Remove it (omit `nets` to match any address).",
                )


# ---- Kubernetes NetworkPolicy ipBlock (Kubernetes ValidateIPBlock) -----------------------------


def _ip_blocks(policy: Policy) -> Iterator[tuple[PathT, dict[str, Any]]]:
    """Every ``ipBlock`` of the manifest with its path (the model flattens peers x ports into rules)."""
    for direction, peers_key in (("ingress", "from"), ("egress", "to")):
        for i, item in enumerate(as_list(policy.spec.get(direction))):
            for j, peer in enumerate(as_list(as_dict(item).get(peers_key))):
                block = as_dict(peer).get("ipBlock")
                if isinstance(block, dict):
                    yield ("spec", direction, i, peers_key, j, "ipBlock"), block


def _sloppy_cidr(raw: Any) -> IPNetwork | None:
    """A Kubernetes ipBlock CIDR: host bits allowed, a prefix length required."""
    if not isinstance(raw, str):
        return None
    try:
        return parse_cidr(raw, strict=False)
    except NetError:
        return None


def _strict_subset(inner: IPNetwork, outer: IPNetwork) -> bool:
    return inner.version == outer.version and inner in outer and inner.prefixlen > outer.prefixlen


def _malformed_ip_blocks(policy: Policy) -> Iterator[Issue]:
    """``cidr`` and every ``except`` entry must be CIDRs (host bits allowed)."""
    for path, block in _ip_blocks(policy):
        entries = [(("cidr",), block.get("cidr"))]
        entries += [(("except", k), value) for k, value in enumerate(as_list(block.get("except")))]
        for sub, raw in entries:
            if not isinstance(raw, str) or _sloppy_cidr(raw) is not None:
                continue
            problem = net_problem(raw, strict=False, allow_bare_ip=False) or NetProblem("invalid")
            text = net_text(raw, problem, "ipBlock entries", "Kubernetes requires a CIDR in ipBlock")
            yield at(policy, path + sub, *text)


def _except_outside_cidr(policy: Policy) -> Iterator[Issue]:
    """Each ``except`` entry must be a strict subset of ``cidr``."""
    for path, block in _ip_blocks(policy):
        cidr = _sloppy_cidr(block.get("cidr"))
        if cidr is None:
            continue
        for k, raw in enumerate(as_list(block.get("except"))):
            excluded = _sloppy_cidr(raw)
            if excluded is None or _strict_subset(excluded, cidr):
                continue
            yield at(
                policy,
                path + ("except", k),
                f"except entry `{raw}` is not a strict subset of ipBlock cidr `{block.get('cidr')}`: Kubernetes "
                "rejects the NetworkPolicy",
                "List only ranges inside `cidr` (and smaller than it) in `except`.",
                related=(Related(policy.ptr_at(path + ("cidr",)), "ipBlock cidr"),),
            )


SUB_CHECKS = (
    SubCheck("CA004/policy-rule-nets", CALICO_POLICIES, "malformed rule `nets`/`notNets`",
             calico_rules(_malformed_rule_nets)),
    SubCheck("CA004/policy-mixed-families", CALICO_POLICIES, "IPv4 and IPv6 nets in one rule",
             calico_rules(_mixed_families)),
    SubCheck("CA004/policy-ip-version", CALICO_POLICIES, "nets contradicting the rule's `ipVersion`",
             calico_rules(_contradicts_ip_version)),
    SubCheck("CA004/policy-catch-all-not-nets", CALICO_POLICIES, "a catch-all CIDR in `notNets`",
             calico_rules(_catch_all_not_nets)),
    SubCheck("CA004/k8s-policy-ipblock-cidr", K8S_POLICIES, "malformed Kubernetes `ipBlock` CIDRs",
             k8s_policy(_malformed_ip_blocks)),
    SubCheck("CA004/k8s-policy-ipblock-except", K8S_POLICIES, "`ipBlock.except` outside its `cidr`",
             k8s_policy(_except_outside_cidr)),
)
