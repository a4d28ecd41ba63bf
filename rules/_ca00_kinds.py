"""Kind filters shared by the per-kind sub-checks of CA004 and CA005 (``rules/_ca004_*``, ``rules/_ca005_*``).

The engine dispatches a resource to the sub-checks whose ``kinds`` name its kind. A kind name alone
does not tell a Calico ``NetworkPolicy`` from a Kubernetes one, nor a Kubernetes ``Service`` from a
stray resource of that kind in another API group, so each sub-check is wrapped in :func:`only`, which
also hands it the typed model object.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from auditor.api import Issue, PathT
from auditor.model import Policy, PolicyRule, Resource

R = TypeVar("R", bound=Resource)

CALICO_POLICIES = ("GlobalNetworkPolicy", "NetworkPolicy", "StagedGlobalNetworkPolicy", "StagedNetworkPolicy")
K8S_POLICIES = ("NetworkPolicy", "StagedKubernetesNetworkPolicy")


def only(cls: type[R], check: Callable[[R], Iterable[Issue]]) -> Callable[[Resource], Iterator[Issue]]:
    """``check`` run on resources built as ``cls`` (others of the same kind name are skipped)."""

    def run(resource: Resource) -> Iterator[Issue]:
        if isinstance(resource, cls):
            yield from check(resource)

    return run


def calico_rules(check: Callable[[PolicyRule], Iterable[Issue]]) -> Callable[[Resource], Iterator[Issue]]:
    """``check`` run on every rule of a Calico policy."""

    def run(resource: Resource) -> Iterator[Issue]:
        if isinstance(resource, Policy) and not resource.is_kubernetes:
            for rule in resource.rules:
                yield from check(rule)

    return run


def k8s_policy(check: Callable[[Policy], Iterable[Issue]]) -> Callable[[Resource], Iterator[Issue]]:
    """``check`` run on a Kubernetes NetworkPolicy (or staged one)."""

    def run(resource: Resource) -> Iterator[Issue]:
        if isinstance(resource, Policy) and resource.is_kubernetes:
            yield from check(resource)

    return run


def at(resource: Resource, path: PathT, message: str, fix: str = "", **extra: Any) -> Issue:
    """An issue on ``path`` of ``resource`` with its fix text."""
    return Issue(message, at=resource.ptr_at(path), identity=resource.identity, fix=fix, **extra)


