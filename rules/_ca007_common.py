"""Shared helpers of CA007's sub-check modules (``rules/_ca007_*.py``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from auditor.api import Issue, PathT
from auditor.model import Policy, PolicyRule, Resource, as_dict, as_list

ALL = ("*",)  # every Calico resource (CA007 runs on projectcalico.org resources only)
POLICIES = ("GlobalNetworkPolicy", "NetworkPolicy", "StagedGlobalNetworkPolicy", "StagedNetworkPolicy")
HEP = ("HostEndpoint",)
POOL = ("IPPool",)


def issue(resource: Resource, message: str, path: PathT, on_key: bool = False, **extra: Any) -> Issue:
    return Issue(message, at=resource.ptr_at(path, on_key=on_key), identity=resource.identity, **extra)


def raw_rule(rule: PolicyRule) -> dict[str, Any]:
    return as_dict(as_list(rule.policy.spec.get(rule.direction))[rule.index]) if not rule.policy.is_kubernetes else {}


def raw_entity(rule: PolicyRule, side: str) -> dict[str, Any]:
    return as_dict(raw_rule(rule).get(side))


def each_rule(check: Callable[[PolicyRule], Iterator[Issue]]) -> Callable[[Policy], Iterator[Issue]]:
    """A policy sub-check that runs ``check`` on every rule of the policy."""

    def run(policy: Policy) -> Iterator[Issue]:
        for rule in policy.rules:
            yield from check(rule)

    return run



def lower_case_value(resource: Resource, key: str, allowed: tuple[str, ...]) -> Iterator[Issue]:
    """``spec.<key>`` written in another case than Calico's validator accepts.

    The v3.32 CRD patterns accept any case (``^(?i)(...)``), so ``kubectl apply`` of the CRD alone
    may store the value, but Calico v3.32's validator (calicoctl, the Calico API server) compares
    case-sensitively and rejects it.
    """
    value = resource.spec.get(key)
    if not isinstance(value, str) or not value or value in allowed:
        return
    fix = next((a for a in allowed if a.lower() == value.lower()), None)
    if fix is None:
        return  # not a known value in any case: the schema's finding (CA002)
    yield issue(
        resource,
        f"`{key}: {value}`: Calico v3.32's validator (calicoctl, the Calico API server) rejects it because it "
        f"compares case-sensitively, although the v3.32 CRD pattern accepts any case; write `{fix}`",
        ("spec", key),
    )
