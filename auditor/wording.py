"""Message wording shared by the rules: how policies, workloads, selectors and ports are named."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from auditor.facts import Fact
from auditor.findings import Pointer
from auditor.model import Policy, Workload

LIMIT = 3  # how many names a message lists before "and N more"


def names(items: Iterable[str], limit: int = LIMIT) -> str:
    items = list(dict.fromkeys(items))
    shown = ", ".join(items[:limit])
    if len(items) > limit:
        shown += f" and {len(items) - limit} more"
    return shown


def who(policy: Policy) -> str:
    """``GlobalNetworkPolicy allow-nodes`` / ``Kubernetes NetworkPolicy shop/web``."""
    kind = "Kubernetes NetworkPolicy" if policy.is_kubernetes else policy.kind
    return f"{kind} {policy.namespace + '/' if policy.namespace else ''}{policy.name}"


def workload_name(w: Workload) -> str:
    return f"{w.kind} {w.namespace}/{w.name}"


def selector_ptr(policy: Policy) -> Pointer:
    """The policy's top-level selector (``podSelector`` for Kubernetes), else its name."""
    if policy.is_kubernetes:
        if "podSelector" in policy.spec:
            return policy.ptr("spec", "podSelector")
        return policy.ptr("metadata", "name")
    if policy.selector is not None:
        return policy.ptr_at(policy.selector.path)
    return policy.ptr("metadata", "name")


def selector_text(policy: Policy) -> str:
    if policy.is_kubernetes:
        return f"podSelector {_compact(policy.spec.get('podSelector'))}"
    if policy.selector is not None:
        return f"selector `{policy.selector.text}`"
    return "no selector (all())"


def _compact(value: Any) -> str:
    if isinstance(value, dict) and not value:
        return "{} (every pod of the namespace)"
    if isinstance(value, dict) and set(value) == {"matchLabels"} and isinstance(value["matchLabels"], dict):
        return "{" + ", ".join(f"{k}: {v}" for k, v in value["matchLabels"].items()) + "}"
    return str(value)


def ingress_ptr(policy: Policy) -> Pointer:
    """Where ingress rules are added: the ``ingress`` key, else the selector."""
    if "ingress" in policy.spec:
        return policy.ptr("spec", "ingress", on_key=True)
    return selector_ptr(policy)


def port_text(ref: Any) -> str:
    value = ref.value
    return str(value) if value is not None else str(ref.raw)


# ------------------------------------------------------------------------------------------
# Sentences several rules build alike
# ------------------------------------------------------------------------------------------


def guide(mode: str, steps: str) -> str:
    """The guide step a fix follows: ``(guide cluster mode, step 2)``, ``(guide local mode, steps 1-2)``."""
    return f"(guide {mode} mode, {'steps' if '-' in steps else 'step'} {steps})"


def pin_cluster_ip(ip: object) -> str:
    """The fix for an advertised address that no Service pins (CA101, CA104)."""
    return f"Pin `spec.clusterIP: {ip}` on the Service meant to be reachable {guide('cluster', '1')}."


def origin(fact: Fact) -> str:
    """Where a fact comes from, as a message says it: its note, marked ``assumed:`` when it is a default."""
    return f"assumed: {fact.note}" if fact.assumed else fact.note
