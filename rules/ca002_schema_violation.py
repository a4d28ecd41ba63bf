"""CA002 schema-violation: a manifest that does not have the shape Calico/Kubernetes decode."""

from __future__ import annotations

from collections.abc import Iterator

from auditor import schema
from auditor.api import AutoFix, Context, Edit, Issue, Rule, Severity, format_path
from auditor.model import CALICO_KINDS, Resource

RULE = Rule(
    id="CA002",
    name="schema-violation",
    title="A resource does not match its schema: unknown field, wrong type, bad enum, misplaced rules",
    severity=Severity.ERROR,
    rationale=(
        "`calicoctl` decodes Calico resources strictly, and the Kubernetes API server validates Calico CRDs "
        "against their schema: a misspelt field such as `applyOnFoward` or a rule that landed in the wrong "
        "list makes the whole manifest fail to apply, or, with lenient tooling, silently drops the field you "
        "meant. The Calico guide's own host-traffic example has this defect: `ingress:` is missing, so its "
        "rules end up as items of `types`."
    ),
    remediation=(
        "Fix the field the finding points at: use the spelling and type the message names. When rules "
        "appear inside `types`, add the missing `ingress:` (or `egress:`) key above them."
    ),
    references=(
        "https://docs.tigera.io/calico/latest/reference/resources/globalnetworkpolicy",
        "https://docs.tigera.io/calico/latest/network-policy/services/services-cluster-ips",
    ),
    tags=("structure",),
    guide_step="Step 2, third example (allow-traffic-hostendpoints)",
    autofix="safe",
    autofix_text=(
        "adds the missing `ingress:` (or `egress:`) key before rules that landed in `types` (the guide's third "
        "example), and quotes label and annotation values that YAML reads as booleans or numbers, as written"
    ),
)


_API_HINT = {kind: "projectcalico.org/v3" for kind in CALICO_KINDS} | {
    "Deployment": "apps/v1", "StatefulSet": "apps/v1", "DaemonSet": "apps/v1", "ReplicaSet": "apps/v1",
    "Job": "batch/v1", "CronJob": "batch/v1", "NetworkPolicy": "networking.k8s.io/v1",
}


def check(ctx: Context) -> Iterator[Issue]:
    for resource in ctx.focused(ctx.model.resources):
        api = resource.data.get("apiVersion")
        if not isinstance(api, str) or not api:
            yield Issue(
                message=(
                    f"`apiVersion` of this {resource.kind} must be a string such as "
                    f"`{_API_HINT.get(resource.kind, 'v1')}`, not {api!r}: the API server cannot route it"
                ),
                at=resource.ptr("apiVersion") if "apiVersion" in resource.data else resource.ptr("kind"),
                identity=resource.identity,
                key="apiVersion",
            )
            continue
        if resource.kind.endswith("List") and "items" in resource.data and not isinstance(resource.data["items"], list):
            yield Issue(
                message=f"`items` of a {resource.kind} must be a list of resources; nothing in it is applied",
                at=resource.ptr("items"),
                identity=resource.identity,
                key="items",
            )
        for problem in schema.validate(resource.api_version, resource.kind, resource.data):
            yield Issue(
                message=problem.message,
                fix=problem.fix,
                at=resource.ptr_at(problem.path, on_key=problem.on_key),
                identity=resource.identity,
                key=format_path(problem.path),
                autofix=_fix(resource, problem.path),
            )


def _fix(resource: Resource, path: tuple[str | int, ...]) -> AutoFix | None:
    """Two safe fixes: the guide's rules that landed in `types`, and label/annotation values YAML reads as
    booleans or numbers (quoted as written, so they stay the text the author meant)."""
    spec = resource.data.get("spec")
    if len(path) == 3 and path[:2] == ("spec", "types") and isinstance(path[2], int) and isinstance(spec, dict):
        types, first = spec.get("types"), path[2]
        if not isinstance(types, list) or not 0 < first < len(types):
            return None
        head, moved = types[:first], types[first:]
        if head not in (["Ingress"], ["Egress"]) or not all(isinstance(item, dict) for item in moved):
            return None
        key = str(head[0]).lower()
        if key in spec:
            return None
        return AutoFix(
            f"add the missing `{key}:` key before the rules that landed in `types`",
            (Edit("split-list", resource.ptr("spec", "types"), key=key, index=first),),
        )
    if len(path) == 3 and path[:2] in (("metadata", "labels"), ("metadata", "annotations")):
        meta = resource.data.get("metadata")
        group = meta.get(str(path[1])) if isinstance(meta, dict) else None
        value = group.get(path[2]) if isinstance(group, dict) else None
        if isinstance(value, (bool, int, float)):
            what = f"quote the value of {path[1][:-1]} `{path[2]}` as written"
            return AutoFix(what, (Edit("quote", resource.ptr_at(path)),))
    return None
