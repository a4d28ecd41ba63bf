"""Shared helpers of CA007's sub-check modules (``rules/_ca007_*.py``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from auditor.findings import Issue, PathT
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

