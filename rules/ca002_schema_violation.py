"""CA002 schema-violation: a manifest that does not have the shape Calico/Kubernetes decode."""

from __future__ import annotations

from collections.abc import Iterator

from auditor import schema
from auditor.catalog import Example, Rule
from auditor.engine import Context
from auditor.findings import Issue, Severity, format_path
from auditor.model import CALICO_KINDS

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
    examples=(
        Example(
            title="the guide's third example: `ingress:` is missing",
            files={
                "allow-traffic-hostendpoints.yaml": """\
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: allow-traffic-hostendpoints
spec:
  selector: k8s-role == 'node'
  types:
  - Ingress
  # Allow traffic to the node (not nodePorts, TCP)
  - action: Allow
    protocol: TCP
    destination:
      selector: k8s-role == 'node'
      notPorts: ["30000:32767"] # nodePort range
""",
            },
            expect=("10:5",),
        ),
        Example(
            title="a misspelt field and a boolean label",
            files={
                "policy.yaml": """\
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: allow-cluster-ips
spec:
  selector: k8s-role == 'node'
  preDNAT: true
  applyOnFoward: true
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata:
  name: node1-eth0
  labels:
    k8s-master: true
spec:
  node: node1
  interfaceName: eth0
""",
            },
            expect=("8:3", "15:17"),
        ),
        Example(
            title="a number as apiVersion, and a List whose items are not a list",
            files={
                "policy.yaml": """\
apiVersion: 3
kind: GlobalNetworkPolicy
metadata:
  name: allow-cluster-ips
---
apiVersion: v1
kind: List
items: 5
""",
            },
            expect=("1:13", "8:8"),
        ),
        Example(
            title="the fixed example",
            files={
                "allow-traffic-hostendpoints.yaml": """\
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: allow-traffic-hostendpoints
spec:
  selector: k8s-role == 'node'
  types:
  - Ingress
  ingress:
  - action: Allow
    protocol: TCP
    destination:
      selector: k8s-role == 'node'
      notPorts: ["30000:32767"]
""",
            },
        ),
    ),
)


_API_HINT = {kind: "projectcalico.org/v3" for kind in CALICO_KINDS} | {
    "Deployment": "apps/v1", "StatefulSet": "apps/v1", "DaemonSet": "apps/v1", "ReplicaSet": "apps/v1",
    "Job": "batch/v1", "CronJob": "batch/v1", "NetworkPolicy": "networking.k8s.io/v1",
}


def check(ctx: Context) -> Iterator[Issue]:
    for resource in ctx.model.resources:
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
                at=resource.ptr_at(problem.path, on_key=problem.on_key),
                identity=resource.identity,
                key=format_path(problem.path),
            )
