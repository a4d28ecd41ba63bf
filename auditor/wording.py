"""Message wording shared by the rules: how policies, workloads, selectors and ports are named."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from auditor.findings import Pointer
from auditor.model import Policy, Service, Workload
from auditor.model.facts import Fact

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
    plural = "s" if any(c in steps for c in "-, ") else ""
    return f"(guide {mode} mode, step{plural} {steps})"


def pin_cluster_ip(ip: object) -> str:
    """The fix for an advertised address that no Service pins (CA101, CA104)."""
    return f"Pin `spec.clusterIP: {ip}` on the Service meant to be reachable {guide('cluster', '1')}."


def origin(fact: Fact) -> str:
    """Where a fact comes from, as a message says it: its note, marked ``assumed:`` when it is a default."""
    return f"assumed: {fact.note}" if fact.assumed else fact.note


# Where the guide (design/guide-services-cluster-ips.md) selects a Service's pods in a policy.
SERVICE_PODS_STEPS = "guide local mode, step 1; cluster mode, step 3"


def service_name(svc: Service) -> str:
    return f"{svc.namespace}/{svc.name}"


def host_policy_fix(policy: Policy) -> str:
    """The change that lets a policy which can never select a HostEndpoint select one (lower-case, for a
    sentence); "" when it can already."""
    if not policy.is_global:
        return f"make {who(policy)} a GlobalNetworkPolicy"
    if policy.namespace_selector is not None:
        return f"remove `namespaceSelector` from {who(policy)}"
    if policy.service_account_selector is not None:
        return f"remove `serviceAccountSelector` from {who(policy)}"
    return ""


def sentence(text: str) -> str:
    """``text`` as a sentence: capitalised first letter, one final full stop (a final ``!`` or ``?`` stays)."""
    text = text.strip()
    if not text.endswith(("!", "?")):
        text = text.rstrip(".") + "." if text.rstrip(".") else ""
    return text[:1].upper() + text[1:]


def target_ports(numbers: Iterable[int | None]) -> str:
    """``target port 8443`` / ``target ports 8080, 8443``: resolved target ports, for a fix."""
    shown = sorted({n for n in numbers if n is not None})
    return f"target port{'s' if len(shown) > 1 else ''} {names(map(str, shown))}"


def advertised(services: str, addresses: str, mode: str) -> str:
    """``Service shop/web is advertised (cluster IP 10.20.30.40) in cluster mode``: how CA402, CA404 and CA405
    open (``addresses`` as ``PodSide.describe_addresses`` words them)."""
    return f"Service {services} is advertised ({addresses}) in {mode} mode"
