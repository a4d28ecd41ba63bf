"""CA006 duplicate-resource: the same object defined twice; one silently replaces the other."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.catalog import Example, Rule
from auditor.engine import Context, resolve
from auditor.findings import Issue, Pointer, Related, Severity

RULE = Rule(
    id="CA006",
    name="duplicate-resource",
    title="The same kind/namespace/name is defined more than once",
    severity=Severity.WARNING,
    rationale=(
        "Kubernetes and Calico identify an object by kind, namespace and name. When a repository defines "
        "one twice, whichever is applied last wins without a warning, so a reviewed policy can be replaced "
        "by a stale copy. `projectcalico.org/v3` and `crd.projectcalico.org/v1` spellings of a kind are the "
        "same object."
    ),
    remediation=(
        "Keep one definition: rename or delete the other. If the copies belong to different clusters "
        "(kustomize overlays), audit each rendered overlay on its own or exclude the others with `--exclude`."
    ),
    tags=("structure",),
    examples=(
        Example(
            title="one policy name, two definitions",
            files={
                "a.yaml": """\
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: allow-to-pods
spec:
  selector: k8s-role == 'node'
""",
                "b.yaml": """\
apiVersion: crd.projectcalico.org/v1
kind: GlobalNetworkPolicy
metadata:
  name: allow-to-pods
spec:
  selector: all()
""",
            },
            expect=("b.yaml:4:9",),
        ),
        Example(
            title="same name, different namespaces",
            files={
                "svc.yaml": """\
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: prod
spec:
  clusterIP: 10.96.20.15
  ports: [{port: 443}]
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: staging
spec:
  clusterIP: 10.96.20.16
  ports: [{port: 443}]
""",
            },
        ),
    ),
)


def check(ctx: Context) -> Iterator[Issue]:
    for group in ctx.model.by_key.values():
        if len(group) < 2 or not group[0].name:
            continue
        first = group[0]
        for other in group[1:]:
            yield Issue(
                message=(
                    f"{other.display} is already defined at {_file_line(first.ptr('metadata', 'name'))}; "
                    "whichever is applied last replaces the other"
                ),
                at=other.ptr("metadata", "name"),
                related=(Related(first.ptr("metadata", "name"), "first definition"),),
                identity=other.identity,
                key=other.file,
            )


def _file_line(pointer: Pointer) -> str:
    """``file:line`` of a place (the source of a rendered Helm or kustomize document)."""
    where = resolve(pointer)
    return f"{where.path}:{where.span.line}"
