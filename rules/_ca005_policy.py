"""CA005 sub-checks on policies: Calico rule ``ports``/``notPorts`` (facts 1.5, 1.6) and Kubernetes
NetworkPolicy ``port``/``endPort`` (Kubernetes ValidateNetworkPolicyPort)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from auditor.catalog import SubCheck
from auditor.findings import Issue, PathT, Related
from auditor.model import Policy, PolicyRule, Ref, as_dict, as_list
from auditor.ports import MAX_PORT, MIN_PORT, PORT_PROTOCOLS, PortRange, protocol_name
from auditor.rules._ca00_kinds import CALICO_POLICIES, K8S_POLICIES, at, calico_rules, k8s_policy
from auditor.rules._ca005_messages import calico_port_text, is_int, k8s_port_name_text, out_of_range

# ---- Calico policy rules ------------------------------------------------------------------


def _port_lists(rule: PolicyRule) -> Iterator[tuple[str, list[Ref[Any]]]]:
    for side, entity in (("source", rule.source), ("destination", rule.destination)):
        yield f"{side}.ports", list(entity.ports)
        yield f"{side}.notPorts", list(entity.not_ports)


def _malformed_rule_ports(rule: PolicyRule) -> Iterator[Issue]:
    for _, refs in _port_lists(rule):
        for ref in refs:
            if ref.ok or isinstance(ref.raw, bool) or not isinstance(ref.raw, (int, str)):
                continue  # other types are schema errors (CA002)
            yield at(rule.policy, ref.path, *calico_port_text(ref.raw))


def _ports_need_port_protocol(rule: PolicyRule) -> Iterator[Issue]:
    """Numeric ports need protocol TCP/UDP/SCTP; a protocol without ports allows no ports at all."""
    protocol = rule.protocol
    if protocol is not None and not protocol.ok:
        return  # a misspelt protocol is CA007's finding
    for field_name, refs in _port_lists(rule):
        valid = [r for r in refs if r.ok]
        if protocol is None:
            offending = [r for r in valid if isinstance(r.value, PortRange)]
            if not offending:
                continue
            shown = ", ".join(f"`{r.raw}`" for r in offending)
            yield at(
                rule.policy,
                offending[0].path,
                f"{field_name} {shown} on a rule without `protocol`: Calico rejects numeric ports unless the "
                "rule sets protocol TCP, UDP or SCTP (a rule without protocol also matches ICMP, which has "
                "no ports)",
                "Add `protocol: TCP` (or UDP or SCTP).",
            )
        elif protocol.value not in PORT_PROTOCOLS and valid:
            yield at(
                rule.policy,
                valid[0].path,
                f"{field_name} on a rule with `protocol: {protocol.raw}`: only TCP, UDP and SCTP have ports, so "
                "Calico rejects the rule",
                "Remove the ports or change the protocol.",
                related=(Related(rule.ptr("protocol"), f"protocol {protocol_name(protocol.value)}"),),
            )


# ---- Kubernetes NetworkPolicy ports -------------------------------------------------------


def _k8s_policy_ports(policy: Policy) -> Iterator[tuple[PathT, dict[str, Any]]]:
    """Every ``ports[]`` entry of the manifest (the model flattens peers x ports into rules)."""
    for direction in ("ingress", "egress"):
        for i, item in enumerate(as_list(policy.spec.get(direction))):
            for k, port in enumerate(as_list(as_dict(item).get("ports"))):
                if isinstance(port, dict):
                    yield ("spec", direction, i, "ports", k), port


def _k8s_port(policy: Policy) -> Iterator[Issue]:
    """``port``: a number within 1-65535 or a valid port name."""
    for path, entry in _k8s_policy_ports(policy):
        port = entry.get("port")
        if is_int(port) and not MIN_PORT <= port <= MAX_PORT:
            yield at(policy, path + ("port",), *out_of_range(port, "Kubernetes rejects the NetworkPolicy"))
        elif isinstance(port, str):
            text = k8s_port_name_text(port, "port")
            if text:
                yield at(policy, path + ("port",), *text)


def _k8s_end_port(policy: Policy) -> Iterator[Issue]:
    """``endPort``: only after a numeric ``port``, not below it, within 1-65535."""
    for path, entry in _k8s_policy_ports(policy):
        port, end = entry.get("port"), entry.get("endPort")
        if not is_int(end):
            continue
        where = path + ("endPort",)
        if "port" not in entry or port is None:
            yield at(policy, where, "`endPort` without `port`: Kubernetes rejects it", "Add `port`, the range's start.")
        elif isinstance(port, str):
            yield at(
                policy,
                where,
                f"`endPort` with the named port `{port}`: Kubernetes allows a range only from a numeric port",
                "Use numbers for both ends.",
            )
        elif is_int(port) and end < port:
            yield at(
                policy,
                where,
                f"`endPort: {end}` is below `port: {port}`: Kubernetes rejects a reversed range",
                f"Write `port: {end}` and `endPort: {port}`.",
            )
        elif not MIN_PORT <= end <= MAX_PORT:
            yield at(policy, where, *out_of_range(end, "Kubernetes rejects the NetworkPolicy", "endPort"))


SUB_CHECKS = (
    SubCheck("CA005/policy-rule-ports", CALICO_POLICIES, "malformed rule `ports`/`notPorts`",
             calico_rules(_malformed_rule_ports)),
    SubCheck("CA005/policy-ports-protocol", CALICO_POLICIES, "ports on a rule whose protocol has none",
             calico_rules(_ports_need_port_protocol)),
    SubCheck("CA005/k8s-policy-port", K8S_POLICIES, "Kubernetes NetworkPolicy `port`", k8s_policy(_k8s_port)),
    SubCheck("CA005/k8s-policy-end-port", K8S_POLICIES, "Kubernetes NetworkPolicy `endPort`",
             k8s_policy(_k8s_end_port)),
)
