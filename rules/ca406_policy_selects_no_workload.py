"""CA406 policy-selects-no-workload: a workload policy whose selector matches no pod in the repository."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

from auditor import selector as sel
from auditor.api import Context, Issue, Related, Rule, Severity
from auditor.model import NS_LABEL, NS_PREFIX, ORCH_LABEL, SA_LABEL, SA_PREFIX, Model, Policy, Workload
from auditor.packet.questions import decidable, host_flags, plain_selector
from auditor.wording import SERVICE_PODS_STEPS, names, selector_ptr, selector_text, who

RULE = Rule(
    id="CA406",
    name="policy-selects-no-workload",
    title="A workload policy whose selector matches no pod in the repository",
    severity=Severity.WARNING,
    rationale=(
        "A policy only applies to the endpoints its selector matches. A namespaced NetworkPolicy (Calico or "
        "Kubernetes) only ever selects pods of its own namespace, a GlobalNetworkPolicy with `namespaceSelector` "
        "only pods of the matching namespaces, and pods with `hostNetwork: true` are not workload endpoints at "
        "all. A policy that matches none of the repository's pods protects nothing: usually a label typo, the "
        "wrong namespace, or a selector written for the Service instead of its pods."
    ),
    remediation=(
        "Make the selector match the pods' template labels (the guide selects the same pods as the Service: "
        "local mode step 1, cluster mode step 3), put a namespaced policy in the pods' namespace, or delete it."
    ),
    references=("https://docs.tigera.io/calico/latest/network-policy/services/services-cluster-ips",),
    tags=("selector",),
    guide_step="Local mode step 1; cluster mode step 3",
)

_IMPLICIT = (NS_LABEL, ORCH_LABEL, SA_LABEL)
_PAIR = re.compile(r'([A-Za-z0-9_./-]+) (==|in) ("[^"]*"|\{[^}]*\})')


def _specific(selector: sel.Selector | None) -> bool:
    """The selector names labels of its own (not only Calico's implicit ones, not a catch-all)."""
    if selector is None:
        return False
    return any(not k.startswith((NS_PREFIX, SA_PREFIX)) and k not in _IMPLICIT for k in selector.label_keys())


@functools.lru_cache(maxsize=65536)
def _distance(a: str, b: str) -> int:
    """Levenshtein distance (label values are short)."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def _close(wanted: str, found: str, key: str) -> bool:
    if key == ORCH_LABEL:
        return True  # Kubernetes pods always carry projectcalico.org/orchestrator=k8s
    if wanted.lower() == found.lower() or wanted.replace("-", "") == found.replace("-", ""):
        return True
    limit = min(2, max(1, len(wanted) // 4))
    return abs(len(wanted) - len(found)) <= limit and _distance(wanted, found) <= limit


def near_miss(selector: sel.Selector, workloads: list[Workload]) -> tuple[Workload, str, str, str] | None:
    """A pod the selector would match if one label value were spelt as the selector spells it."""
    pairs: list[tuple[str, str]] = []
    for key, _, values in _PAIR.findall(str(selector)):
        pairs.extend((key, v) for v in re.findall(r'"([^"]*)"', values))
    for w in workloads:
        labels = w.endpoint_labels
        for key, wanted in pairs:
            found = labels.get(key)
            if found is None or found == wanted or not _close(wanted, found, key):
                continue
            trial = dict(labels)
            trial[key] = wanted
            if selector.matches(trial):
                return w, key, found, wanted
    return None


def _same_scheme(selector: sel.Selector, pods: list[Workload]) -> bool:
    """Pods here carry every label key the selector names (only the values differ)."""
    keys = [k for k in selector.label_keys() if not k.startswith((NS_PREFIX, SA_PREFIX)) and k not in _IMPLICIT]
    return bool(keys) and all(any(k in w.pod_labels for w in pods) for k in keys)


SELECT_THE_PODS = f"Make the selector match the pods' template labels (the Service's pods: {SERVICE_PODS_STEPS})."


def _hint(policy: Policy, model: Model) -> tuple[str, str, list[Workload]]:
    """Where pods with the policy's labels do exist, why the policy misses them, and the fix."""
    plain = plain_selector(policy)
    if plain is None:
        return "", "", []
    same = [w for w in model.workloads if plain.matches(w.endpoint_labels)]
    host_net = [w for w in same if w.host_network]
    elsewhere = [w for w in same if not w.host_network] if _specific(plain) else []
    if not policy.is_global and elsewhere:
        where = names(sorted({w.namespace or "default" for w in elsewhere}))
        return (
            f"Pods with these labels exist in namespace {where} ({elsewhere[0].kind} "
            f"{elsewhere[0].namespace}/{elsewhere[0].name}), but a namespaced policy only selects pods of its own "
            f"namespace ({policy.namespace})",
            f"Put the policy in the pods' namespace ({where}), or make it a GlobalNetworkPolicy.",
            elsewhere,
        )
    if policy.is_global and elsewhere:
        extra = "namespaceSelector" if policy.namespace_selector is not None else "serviceAccountSelector"
        ref = policy.namespace_selector if extra == "namespaceSelector" else policy.service_account_selector
        return (
            f"Pods with these labels exist ({elsewhere[0].kind} {elsewhere[0].namespace}/{elsewhere[0].name}), but "
            f"its {extra} `{ref.text if ref else ''}` excludes them",
            f"Widen or remove the `{extra}` of {who(policy)}.",
            elsewhere,
        )
    if host_net and _specific(plain):
        return (
            f"The only pods with these labels ({host_net[0].kind} {host_net[0].namespace}/{host_net[0].name}) use "
            "hostNetwork: they are host traffic",
            "Police them through HostEndpoints with a GlobalNetworkPolicy.",
            host_net,
        )
    return "", "", []


def check(ctx: Context) -> Iterator[Issue]:
    model = ctx.model
    ps = ctx.packet.pods
    pods = [w for w in model.workloads if not w.host_network]
    if not model.workloads:
        return  # a policy-only repository: the pods live elsewhere
    # Documents that did not load (CA001) may hold the very pods a policy selects: say so.
    lost = sum(1 for problem in ctx.load.problems if problem.code in ("syntax", "template", "limit", "encoding"))
    caveat = f" ({lost} document(s) did not load; pods in them are not counted)" if lost else ""
    for policy in ctx.focused(model.policies):
        selector = policy.effective_selector
        if selector is None or (policy.staged and policy.staged_action == "Delete") or host_flags(policy):
            continue
        if ps.workloads_of(policy):
            continue
        if not decidable(selector, model):
            continue  # namespace/service-account labels the repository does not declare
        if policy.can_select_host_endpoints and model.host_endpoints_matching(selector):
            continue  # a host policy
        hint, fix, where = _hint(policy, model)
        scope_pods = pods if policy.is_global else [w for w in pods if w.namespace == policy.namespace]
        miss = near_miss(selector, scope_pods)
        if not hint:
            if miss is not None:
                w, key, found, wanted = miss
                implicit = " (Calico labels every Kubernetes pod so)" if key == ORCH_LABEL else ""
                hint = f"{w.kind} {w.namespace}/{w.name} has {key}={found}{implicit}, not {wanted}"
                fix = f"Spell the selector as the pods' labels are spelt ({key}={found})."
                where = [w]
            elif policy.is_global or not _same_scheme(selector, scope_pods):
                continue  # nothing suggests these pods are in the repository: they are deployed elsewhere
            else:
                keys = sorted(k for k in selector.label_keys() if not k.startswith((NS_PREFIX, SA_PREFIX)))
                values = names(
                    sorted({f"{k}={w.endpoint_labels[k]}" for w in scope_pods for k in keys if k in w.endpoint_labels})
                )
                hint = f"The pods of namespace {policy.namespace} use the same labels with other values ({values})"
                fix = SELECT_THE_PODS
        scope = (
            f"namespace {policy.namespace}"
            if not policy.is_global
            else "any namespace"
            if policy.namespace_selector is None
            else "the namespaces it selects"
        )
        yield Issue(
            message=(
                f"{who(policy)} selects no pod, so it protects nothing (a policy applies only to the endpoints its "
                f"selector matches): its {selector_text(policy)} matches no workload of {scope} in the "
                f"repository{caveat}. {hint}"
            ),
            fix=fix,
            at=policy.ptr_at(policy.namespace_selector.path)
            if policy.is_global and policy.namespace_selector is not None and where
            else selector_ptr(policy),
            related=tuple(Related(w.ptr_at(w.labels_path), f"{w.kind} {w.namespace}/{w.name}") for w in where[:3]),
            identity=policy.identity,
        )
